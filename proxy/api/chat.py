"""POST /v1/chat/completions: validate, plan candidates, fall back across them, deliver one answer."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import web

from proxy.api.body import read_json_object
from proxy.appkeys import GATEWAY
from proxy.catalog import Route
from proxy.gateway import Gateway
from proxy.relay import StreamShaper, gateway_headers, relay_stream, shape_completion
from proxy.routing.attempt import AttemptTimeouts, JsonAttempt, OpenedStream, attempt_json, open_stream
from proxy.routing.candidates import plan_candidates
from proxy.routing.fallback import run_with_fallback
from proxy.schemas import validate_chat_request
from proxy.timeouts import attempt_timeouts, timeout_overrides


async def chat_completions(request: web.Request) -> web.StreamResponse:
    gw = request.app[GATEWAY]
    body = await read_json_object(request, gw.settings.server.max_body_bytes)
    return await answer_chat(request, gw, body)


ShaperFactory = Callable[[Route, dict[str, Any], bool], StreamShaper]


async def answer_chat(
    request: web.Request, gw: Gateway, body: dict[str, Any], shaper: ShaperFactory = StreamShaper
) -> web.StreamResponse:
    """The whole pipeline for an OpenAI-shaped body; other inbound APIs translate into this and pass
    the `shaper` that frames a stream in their own format."""
    received_at = asyncio.get_running_loop().time()
    req = validate_chat_request(body)
    plan = plan_candidates(gw, body, request.headers)
    extra = {"x-switchyard-route": plan.route_reason} if plan.route_reason else {}
    # a bad override is the client's error, found before any attempt
    overrides = timeout_overrides(body, request.headers) if plan.candidates else {}

    def timeouts(route: Route) -> AttemptTimeouts:
        return attempt_timeouts(route.provider_config.timeouts, overrides, received_at)

    if req.stream:
        async def attempt_stream(route: Route) -> OpenedStream:
            return await open_stream(gw.upstreams.session_for(route.base_url), route, body, timeouts(route), gw.drain)

        opened, attempts = await run_with_fallback(gw, plan.candidates, attempt_stream, extra)
        return await relay_stream(request, gw, opened, shaper(opened.route, body, req.include_usage), attempts, extra)

    async def attempt(route: Route) -> JsonAttempt:
        return await attempt_json(gw.upstreams.session_for(route.base_url), route, body, timeouts(route), gw.drain)

    result, attempts = await run_with_fallback(gw, plan.candidates, attempt, extra)
    route = result.route
    gw.scorer.record(route.model, route.provider, "ok", first_token_ms=result.elapsed_ms)
    data = shape_completion(result.response, route, body)
    return web.Response(body=orjson.dumps(data), content_type="application/json", headers=gateway_headers(route, attempts, extra))
