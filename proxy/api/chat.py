"""POST /v1/chat/completions: validate, plan candidates, fall back across them, deliver one answer."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from proxy.api.body import read_json_object
from proxy.appkeys import GATEWAY
from proxy.catalog import Route
from proxy.gateway import Gateway
from proxy.relay import gateway_headers, relay_stream, shape_completion
from proxy.routing.attempt import AttemptTimeouts, JsonAttempt, OpenedStream, attempt_json, open_stream
from proxy.routing.candidates import plan_candidates
from proxy.routing.fallback import run_with_fallback
from proxy.schemas import validate_chat_request
from proxy.timeouts import request_timeouts


async def chat_completions(request: web.Request) -> web.StreamResponse:
    gw = request.app[GATEWAY]
    body = await read_json_object(request, gw.settings.server.max_body_bytes)
    return await answer_chat(request, gw, body)


async def answer_chat(request: web.Request, gw: Gateway, body: dict[str, Any]) -> web.StreamResponse:
    """The whole pipeline for an OpenAI-shaped body; other inbound APIs translate into this."""
    received_at = asyncio.get_running_loop().time()
    req = validate_chat_request(body)
    plan = plan_candidates(gw, body, request.headers)
    extra = {"x-switchyard-route": plan.route_reason} if plan.route_reason else {}

    def timeouts(route: Route) -> AttemptTimeouts:
        return request_timeouts(route.provider_config.timeouts, body, request.headers, received_at)

    for route in plan.candidates:  # a bad override is the client's error, found before any attempt
        timeouts(route)

    if req.stream:
        include_usage = bool(req.stream_options and req.stream_options.include_usage)

        async def attempt_stream(route: Route) -> OpenedStream:
            return await open_stream(gw.upstreams.session_for(route.base_url), route, body, timeouts(route))

        opened, attempts = await run_with_fallback(gw, plan.candidates, attempt_stream, extra)
        return await relay_stream(request, gw, opened, body, attempts, include_usage, extra)

    async def attempt(route: Route) -> JsonAttempt:
        return await attempt_json(gw.upstreams.session_for(route.base_url), route, body, timeouts(route))

    result, attempts = await run_with_fallback(gw, plan.candidates, attempt, extra)
    route = result.route
    gw.scorer.record(route.model, route.provider, "ok", first_token_ms=result.elapsed_ms)
    data = shape_completion(result.response, route, body)
    return web.json_response(data, headers=gateway_headers(route, attempts, extra), dumps=dumps_str)


def dumps_str(obj: Any) -> str:
    import orjson

    return orjson.dumps(obj).decode()
