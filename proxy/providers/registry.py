"""Adapters by wire format. Each adapter module knows only its own format."""

from __future__ import annotations

from collections.abc import Callable

from proxy.config import ProviderConfig
from proxy.providers.anthropic import AnthropicAdapter
from proxy.providers.base import Adapter
from proxy.providers.gemini import GeminiAdapter
from proxy.providers.openai_compat import OpenAIAdapter

ADAPTER_CLASSES: dict[str, Callable[[], Adapter]] = {
    "openai": OpenAIAdapter,
    "anthropic": AnthropicAdapter,
    "gemini": GeminiAdapter,
}


def get_adapter(wire: str) -> Adapter:
    """A default-configured adapter for a wire format."""
    return ADAPTER_CLASSES[wire]()


def adapter_for(provider: ProviderConfig) -> Adapter:
    """The adapter for one provider; OpenAI-compatible hosts may use another auth header (Azure: api-key)."""
    if provider.wire == "openai":
        return OpenAIAdapter(auth_header=provider.auth_header or "Authorization", auth_scheme=provider.auth_scheme)
    return get_adapter(provider.wire)
