"""Switchyard: a self-hosted, OpenAI-compatible LLM gateway with per-request model and provider routing."""

__version__ = "0.1.0"
