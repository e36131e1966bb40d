"""POST /v1/embeddings: OpenAI's embeddings API over the embedding models of the catalogue, with
provider pins (`model:provider`), provider routing, and fallback across providers like chat.

Only `embedding_models` answer here, and only they: a chat model is a 400 that says which API it is
for. The answer is OpenAI's list of embeddings, with the catalogue model name and usage with cost
(estimated, and marked so, where the provider reports none, as Gemini does not).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

import orjson
from aiohttp import web

from proxy.api.body import read_json_object
from proxy.api.responses_checks import expect_int, expect_one_of, expect_str, invalid
from proxy.appkeys import GATEWAY
from proxy.catalog import ModelEntry, Route
from proxy.errors import GatewayError
from proxy.gateway import Gateway
from proxy.providers.embeddings import as_base64, estimated_tokens
from proxy.relay import gateway_headers
from proxy.routing.attempt import JsonAttempt, attempt_json
from proxy.routing.fallback import run_with_fallback
from proxy.routing.providers import order_providers, parse_provider_routing
from proxy.timeouts import attempt_timeouts, timeout_overrides

MAX_INPUTS = 2048  # OpenAI's limit on the inputs of one request
FIELDS = frozenset({"model", "input", "encoding_format", "dimensions", "user", "provider", "switchyard"})


def check_input(value: Any) -> list[Any]:
    """A string, strings, or token arrays (integers), as OpenAI takes them; never empty."""
    texts = [value] if isinstance(value, str) else value
    if not isinstance(texts, list) or not texts:
        raise invalid("input", "expected a string or a non-empty array of strings or token arrays.")
    if len(texts) > MAX_INPUTS:
        raise invalid("input", f"at most {MAX_INPUTS} inputs per request, got {len(texts)}.")
    for i, text in enumerate(texts):
        tokens = isinstance(text, list) and text and all(isinstance(t, int) and not isinstance(t, bool) for t in text)
        if not (isinstance(text, str) and text) and not tokens:
            raise invalid(f"input[{i}]" if not isinstance(value, str) else "input", "expected a non-empty string or array of token ids.")
    return texts


def check_request(body: dict[str, Any]) -> dict[str, Any]:
    for name in body:
        if name not in FIELDS:
            raise GatewayError(400, f"Unknown parameter: '{name}'.", param=name, code="unknown_parameter")
    expect_str(body.get("model"), "model", required=True)
    check_input(body.get("input"))
    if body.get("encoding_format") is not None:
        expect_one_of(body["encoding_format"], ("float", "base64"), "encoding_format")
    if body.get("dimensions") is not None:
        expect_int(body["dimensions"], "dimensions", minimum=1)
    if body.get("user") is not None:
        expect_str(body["user"], "user")
    return body


def resolve(gw: Gateway, name: str) -> tuple[ModelEntry, str | None]:
    """The embedding model and pinned provider; a chat model named here is a 400 that says so."""
    try:
        return gw.embeddings.resolve(name)
    except GatewayError as exc:
        if exc.status != 404:
            raise
        try:
            entry, _ = gw.catalog.resolve(name)
        except GatewayError:
            raise exc from None
        models = ", ".join(gw.embeddings.models) or "none configured"
        raise GatewayError(400, f"'{entry.slug}' is a chat model; /v1/embeddings needs an embedding model ({models}).",
                           param="model", code="model_not_supported") from None


def candidates(gw: Gateway, body: dict[str, Any]) -> list[Route]:
    entry, pin = resolve(gw, body["model"])
    if body.get("dimensions") is not None and body["dimensions"] > entry.config.max_output:
        raise invalid("dimensions", f"{entry.slug} makes vectors of at most {entry.config.max_output} dimensions.")
    routing = parse_provider_routing(body, gw.settings.routing.default_factor)
    providers = order_providers(entry.slug, known=entry.config.providers, live=entry.routes, pin=pin, routing=routing,
                                rank=gw.scorer.rank_providers)
    return [entry.routes[p] for p in providers]


def shape(data: dict[str, Any], route: Route, body: dict[str, Any]) -> dict[str, Any]:
    """The catalogue model name, vectors in the asked encoding, usage with cost (estimated when absent)."""
    base64_wanted = body.get("encoding_format") == "base64"
    for item in data["data"]:
        if base64_wanted and isinstance(item.get("embedding"), list):
            item["embedding"] = as_base64(item["embedding"])
    usage = data.get("usage") or {}
    prompt = int(usage.get("prompt_tokens") or 0)
    estimated = not prompt
    if estimated:
        texts = [body["input"]] if isinstance(body["input"], str) else body["input"]
        prompt = estimated_tokens([t if isinstance(t, str) else "    " * len(t) for t in texts])
    out_usage: dict[str, Any] = {"prompt_tokens": prompt, "total_tokens": prompt, "cost_usd": route.cost_usd(prompt, 0)}
    if estimated:
        out_usage["estimated"] = True
    return {"object": "list", "data": data["data"], "model": route.model, "usage": out_usage}


async def create_embeddings(request: web.Request) -> web.Response:
    gw = request.app[GATEWAY]
    body = check_request(await read_json_object(request, gw.settings.server.max_body_bytes))
    received_at = asyncio.get_running_loop().time()
    routes = candidates(gw, body)
    overrides = timeout_overrides(body, request.headers) if routes else {}

    def attempt(route: Route) -> Awaitable[JsonAttempt]:
        t = attempt_timeouts(route.provider_config.timeouts, overrides, received_at)
        return attempt_json(gw.upstreams.session_for(route.base_url), route, body, t, gw.drain)

    notes: dict[str, str] = {}
    result, attempts = await run_with_fallback(gw, routes, attempt, notes)
    gw.scorer.record(result.route.model, result.route.provider, "ok", first_token_ms=result.elapsed_ms)
    data = shape(result.response, result.route, body)
    return web.Response(body=orjson.dumps(data), content_type="application/json",
                        headers=gateway_headers(result.route, attempts, notes))

