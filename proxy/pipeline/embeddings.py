"""An embeddings request -> its answer: the embedding model's providers in order (pin, provider
routing, live ranking), fallback across them, usage with cost, the outcome. No aiohttp here.

Embedding models live in their own catalogue (`embedding_models`), so chat routing and `auto` never
see them; the adapters (proxy.providers.embeddings) ride the same attempts and fallback loop as chat.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import Any

from proxy.call import TimeoutOverrides, invalid, parse_provider_routing
from proxy.catalog import Catalog, Route
from proxy.errors import GatewayError
from proxy.outcome import Outcome
from proxy.pipeline.chat import ChatResources, Completion, fail, gateway_notes
from proxy.pipeline.fallback import run_with_fallback
from proxy.providers.embeddings import estimated_tokens
from proxy.routing.providers import order_providers
from proxy.upstream.attempt import JsonAttempt, attempt_json
from proxy.upstream.timeouts import attempt_timeouts


def embedding_routes(body: Mapping[str, Any], embeddings: Catalog, chat: Catalog, rank: Any, default_factor: str) -> list[Route]:
    """The routes to try; a chat model named here is a 400 that says which API it is for."""
    try:
        entry, pin = embeddings.resolve(body["model"])
    except GatewayError as exc:
        if exc.status != 404 or body["model"] not in chat.models and body["model"].split(":")[0] not in chat.models:
            raise
        known = ", ".join(embeddings.models) or "none configured"
        raise GatewayError(400, f"'{body['model']}' is a chat model; /v1/embeddings needs an embedding model ({known}).",
                           param="model", code="model_not_supported") from None
    dimensions = body.get("dimensions")
    if dimensions is not None and dimensions > entry.config.max_output:
        raise invalid("dimensions", f"{entry.slug} makes vectors of at most {entry.config.max_output} dimensions.")
    routing = parse_provider_routing(body, default_factor)
    providers = order_providers(entry.slug, known=entry.config.providers, live=entry.routes, pin=pin, routing=routing, rank=rank)
    return [entry.routes[p] for p in providers]


async def embed(body: dict[str, Any], embeddings: Catalog, res: ChatResources, outcome: Outcome, received_at: float,
                overrides: TimeoutOverrides, default_factor: str) -> Completion:
    """The first provider's answer in OpenAI's list shape, with the catalogue model and usage with cost."""
    try:
        routes = embedding_routes(body, embeddings, res.catalog, res.scorer.rank_providers, default_factor)
        upstreams, drain = res.upstreams, res.drain

        def attempt(route: Route) -> Awaitable[JsonAttempt]:
            t = attempt_timeouts(route.timeouts, overrides, received_at)
            return attempt_json(upstreams.session_for(route.base_url), route, body, t, drain)

        notes: dict[str, str] = {}
        won = await run_with_fallback(routes, attempt, res.scorer, drain, res.max_attempts, outcome, notes)
    except BaseException as exc:
        fail(outcome, exc)
        raise
    result, record, attempts = won.result, won.record, won.attempts
    route = result.route
    res.scorer.record(route.model, route.provider, "ok", first_token_ms=result.elapsed_ms)
    record.ttft_ms = record.duration_ms = round(result.elapsed_ms, 3)
    record.status = 200
    data = result.response
    data["model"] = route.model
    data["usage"] = outcome.usage = embedding_usage(data.get("usage"), body, route)
    outcome.model, outcome.provider = route.model, route.provider
    record.cost_usd = data["usage"]["cost_usd"]
    outcome.ttft_ms = round(outcome.elapsed_ms(), 3)
    outcome.finish("ok", 200)
    return Completion(data, route, gateway_notes(route, attempts, notes))


def embedding_usage(usage: Mapping[str, Any] | None, body: Mapping[str, Any], route: Route) -> dict[str, Any]:
    """The upstream's token count with cost; estimated (and marked so) when it reports none, as Gemini."""
    prompt = int((usage or {}).get("prompt_tokens") or 0)
    out: dict[str, Any] = {"prompt_tokens": prompt, "total_tokens": prompt}
    if not prompt:
        texts = [body["input"]] if isinstance(body["input"], str) else body["input"]
        out["prompt_tokens"] = out["total_tokens"] = estimated_tokens([t if isinstance(t, str) else "    " * len(t) for t in texts])
        out["estimated"] = True
    out["cost_usd"] = route.cost_usd(out["prompt_tokens"], 0)
    return out
