"""Start one simulated provider per catalogue provider, each speaking its real wire format.

`switchyard serve` does this when no provider API key is set, so a newcomer sees routing work at
once. Providers get different, stable latency profiles so provider ranking has something to show.
"""

from __future__ import annotations

import importlib
import logging
import secrets
from collections.abc import Callable

from aiohttp import web

from proxy.catalog import Upstream
from proxy.config import Settings
from proxy.simulated.knobs import Knobs
from proxy.simulated.server import MockServer

log = logging.getLogger("switchyard.simulated")

# wire -> (module, factory name, path prefix the adapter expects under the base URL)
MOCKS: dict[str, tuple[str, str, str]] = {
    "openai": ("proxy.simulated.openai_mock", "create_openai_mock", "/v1"),
    "anthropic": ("proxy.simulated.anthropic_mock", "create_anthropic_mock", ""),
    "gemini": ("proxy.simulated.gemini_mock", "create_gemini_mock", "/v1beta"),
}

# (first-token ms, tokens/s): stable, different profiles, roughly like the real market's spread.
PROFILES: dict[str, tuple[float, float]] = {
    "groq": (25.0, 900.0),
    "fireworks": (45.0, 350.0),
    "together": (60.0, 250.0),
    "deepinfra": (90.0, 150.0),
    "openrouter": (110.0, 200.0),
    "openai": (80.0, 220.0),
    "azure": (95.0, 200.0),
    "anthropic": (120.0, 180.0),
    "google": (70.0, 300.0),
    "mistral": (75.0, 240.0),
    "deepseek": (160.0, 120.0),
    "xai": (100.0, 200.0),
}


def mock_factory(wire: str) -> tuple[Callable[..., web.Application], str]:
    module_name, factory, prefix = MOCKS[wire]
    return getattr(importlib.import_module(module_name), factory), prefix


async def start_simulated(settings: Settings, providers: list[str] | None = None) -> tuple[dict[str, Upstream], list[MockServer]]:
    upstreams: dict[str, Upstream] = {}
    servers: list[MockServer] = []
    for slug in providers if providers is not None else list(settings.providers):
        wire = settings.providers[slug].wire
        factory, prefix = mock_factory(wire)
        ttft_ms, tokens_per_s = PROFILES.get(slug, (100.0, 200.0))
        key = "sim-" + secrets.token_hex(12)
        knobs = Knobs(ttft_ms=ttft_ms, tokens_per_s=tokens_per_s, chunks=12, api_key=key)
        server = await MockServer.start(factory(knobs, name=f"simulated-{slug}"))
        servers.append(server)
        upstreams[slug] = Upstream(base_url=server.url + prefix, api_key=key)
    return upstreams, servers
