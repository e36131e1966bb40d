"""GET /v1/models and GET /v1/models/{slug}: the OpenAI list shape plus prices, context and live stats."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from proxy.appkeys import GATEWAY
from proxy.catalog import ModelEntry
from proxy.gateway import Gateway

CREATED = 1_700_000_000  # catalogue entries have no creation date; a fixed one keeps the shape valid


def model_summary(entry: ModelEntry) -> dict[str, Any]:
    cfg = entry.config
    prices = [(r.input_price, r.output_price) for r in entry.routes.values()] or [
        (o.input, o.output) for o in cfg.providers.values()
    ]
    return {
        "id": entry.slug,
        "object": "model",
        "created": CREATED,
        "owned_by": entry.vendor,
        "name": cfg.name or entry.slug,
        "aliases": list(cfg.aliases),
        "context_window": cfg.context_window,
        "max_output_tokens": cfg.max_output,
        "capabilities": {"tools": cfg.capabilities.tools, "vision": cfg.capabilities.vision, "json": cfg.capabilities.json_mode},
        "quality": cfg.quality,
        "pricing": {"input_per_million": min(p[0] for p in prices), "output_per_million": min(p[1] for p in prices), "currency": "USD"},
        "providers": list(entry.routes),
        "unconfigured_providers": list(entry.unconfigured),
        "available": bool(entry.routes),
    }


def provider_detail(gw: Gateway, entry: ModelEntry) -> list[dict[str, Any]]:
    out = []
    ranked = gw.scorer.rank_providers(entry.slug, gw.settings.routing.default_factor) if entry.routes else []
    for rank, provider in enumerate(ranked):
        route = entry.routes[provider]
        stats = gw.scorer.stats(entry.slug, provider)
        out.append(
            {
                "provider": provider,
                "rank": rank,
                "upstream_model": route.upstream_id,
                "wire": route.wire,
                "pricing": {"input_per_million": route.input_price, "output_per_million": route.output_price},
                "context_window": route.context_window,
                "max_output_tokens": route.max_output,
                "first_token_ms": stats["first_token_ms"],
                "tokens_per_s": stats["tokens_per_s"],
                "error_rate": stats["error_rate"],
                "circuit": stats["circuit"],
                "available": stats["available"],
                "in_flight": stats["in_flight"],
                "samples": stats["samples"],
            }
        )
    for provider in entry.unconfigured:
        out.append({"provider": provider, "available": False, "circuit": None, "reason": "no API key configured"})
    return out


def embedding_summary(entry: ModelEntry) -> dict[str, Any]:
    """An embedding model (served at /v1/embeddings): its vector length, input limit and price."""
    cfg = entry.config
    prices = [r.input_price for r in entry.routes.values()] or [o.input for o in cfg.providers.values()]
    return {
        "id": entry.slug, "object": "model", "created": CREATED, "owned_by": entry.vendor, "name": cfg.name or entry.slug,
        "type": "embedding", "dimensions": cfg.max_output, "max_input_tokens": cfg.context_window,
        "pricing": {"input_per_million": min(prices), "currency": "USD"},
        "providers": list(entry.routes), "unconfigured_providers": list(entry.unconfigured), "available": bool(entry.routes),
    }


async def list_models(request: web.Request) -> web.Response:
    gw = request.app[GATEWAY]
    data = [model_summary(m) for m in gw.catalog.models.values() if m.routes]
    data += [embedding_summary(m) for m in gw.embeddings.models.values() if m.routes]
    return web.json_response({"object": "list", "data": data})


async def get_model(request: web.Request) -> web.Response:
    gw = request.app[GATEWAY]
    slug = request.match_info["slug"]
    if gw.embeddings.models.get(slug.split(":")[0]) is not None:
        entry, _ = gw.embeddings.resolve(slug)
        return web.json_response({**embedding_summary(entry), "providers": provider_detail(gw, entry)})
    entry, _ = gw.catalog.resolve(slug)
    return web.json_response({**model_summary(entry), "providers": provider_detail(gw, entry)})
