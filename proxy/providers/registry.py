"""Adapters by wire format. Each adapter module knows only its own format.

Anthropic and Gemini adapters are imported lazily: a build without one simply has no such wire.
"""

from __future__ import annotations

import importlib

from proxy.config import ProviderConfig
from proxy.providers.base import Adapter
from proxy.providers.openai_compat import OpenAIAdapter

# wire -> (module, class)
ADAPTER_CLASSES: dict[str, tuple[str, str]] = {
    "openai": ("proxy.providers.openai_compat", "OpenAIAdapter"),
    "anthropic": ("proxy.providers.anthropic", "AnthropicAdapter"),
    "gemini": ("proxy.providers.gemini", "GeminiAdapter"),
}


def get_adapter(wire: str) -> Adapter:
    """A default-configured adapter for a wire format."""
    module_name, class_name = ADAPTER_CLASSES[wire]
    return getattr(importlib.import_module(module_name), class_name)()  # type: ignore[no-any-return]


def adapter_for(provider: ProviderConfig) -> Adapter:
    """The adapter for one provider; OpenAI-compatible hosts may use another auth header (Azure: api-key)."""
    if provider.wire == "openai":
        return OpenAIAdapter(auth_header=provider.auth_header or "Authorization", auth_scheme=provider.auth_scheme)
    return get_adapter(provider.wire)
