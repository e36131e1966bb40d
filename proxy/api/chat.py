"""POST /v1/chat/completions: validate, plan candidates, fall back across them, deliver one answer."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web

from proxy.api.body import read_json_object
from proxy.appkeys import GATEWAY
from proxy.call_checks import check_fields, check_message_count
from proxy.catalog import Route
from proxy.gateway import Gateway
from proxy.relay import StreamShaper, gateway_headers, relay_stream, shape_completion
from proxy.routing.attempt import JsonAttempt, OpenedStream, attempt_json, open_stream
from proxy.routing.candidates import plan_candidates
from proxy.routing.fallback import run_with_fallback
from proxy.schemas import validate_chat_request
from proxy.timeouts import attempt_timeouts, timeout_overrides

ShaperFactory = Callable[[Route, dict[str, Any], bool], StreamShaper]


async def answer_chat(
    request: web.Request, gw: Gateway | None = None, body: dict[str, Any] | None = None, shaper: ShaperFactory = StreamShaper
) -> web.StreamResponse:
    """POST /v1/chat/completions, and the whole pipeline for an OpenAI-shaped body: other inbound APIs
    read and translate their own, then pass it with the `shaper` that frames a stream in their
    format. (The handler and the pipeline are one coroutine: a frame fewer on every resume.)"""
    if gw is None:
        gw = request.app[GATEWAY]
    if body is None:
        body = await read_json_object(request, gw.settings.server.max_body_bytes)
    received_at = asyncio.get_running_loop().time()
    check_message_count(body)
    req = validate_chat_request(body)
    check_fields(body)
    plan = plan_candidates(gw, body, request.headers)
    extra = {"x-switchyard-route": plan.route_reason} if plan.route_reason else {}
    # a bad override is the client's error, found before any attempt
    overrides = timeout_overrides(body, request.headers) if plan.candidates else {}
    upstreams, drain = gw.upstreams, gw.drain

    # The attempts are plain functions returning the attempt's coroutine, not coroutines awaiting it.
    if req.stream:
        def attempt_stream(route: Route) -> Awaitable[OpenedStream]:
            t = attempt_timeouts(route.provider_config.timeouts, overrides, received_at)
            return open_stream(upstreams.session_for(route.base_url), route, body, t, drain)

        opened, attempts = await run_with_fallback(gw, plan.candidates, attempt_stream, extra)
        return await relay_stream(request, gw, opened, shaper(opened.route, body, req.include_usage), attempts, extra)

    def attempt(route: Route) -> Awaitable[JsonAttempt]:
        t = attempt_timeouts(route.provider_config.timeouts, overrides, received_at)
        return attempt_json(upstreams.session_for(route.base_url), route, body, t, drain)

    result, attempts = await run_with_fallback(gw, plan.candidates, attempt, extra)
    route = result.route
    gw.scorer.record(route.model, route.provider, "ok", first_token_ms=result.elapsed_ms)
    data = shape_completion(result.response, route, body)
    return web.Response(body=orjson.dumps(data), content_type="application/json", headers=gateway_headers(route, attempts, extra))


chat_completions = answer_chat
