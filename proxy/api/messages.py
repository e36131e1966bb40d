"""POST /v1/messages: the Anthropic Messages API in front of the gateway's normal pipeline.

The request is translated to the internal shape and answered like /v1/chat/completions (routing,
`auto`, fallback, any provider), then translated back: a message, or its full event sequence.
Errors leave in Anthropic's shape: `{"type": "error", "error": {"type", "message"}}`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson
from aiohttp import web

from proxy.api.body import read_json_object
from proxy.api.chat import answer_chat
from proxy.appkeys import GATEWAY
from proxy.catalog import Route
from proxy.errors import GatewayError
from proxy.gateway import Gateway
from proxy.providers.anthropic_inbound import (
    AnthropicEventEncoder,
    error_body,
    to_anthropic_message,
    to_internal_request,
)
from proxy.providers.base import UpstreamError
from proxy.redact import redact
from proxy.relay import (
    SSE_HEADERS,
    StreamShaper,
    estimate_usage,
    gateway_headers,
    pump_until_deadline,
    record_stream_success,
    with_cost,
    write_quietly,
)
from proxy.routing.attempt import AttemptTimeouts, OpenedStream, open_stream
from proxy.routing.candidates import plan_candidates
from proxy.routing.fallback import run_with_fallback
from proxy.schemas import validate_chat_request
from proxy.timeouts import request_timeouts

log = logging.getLogger("switchyard")
PASSED_HEADERS = ("x-switchyard-provider", "x-switchyard-attempts", "x-switchyard-model", "x-switchyard-route", "x-switchyard-degraded")


async def messages(request: web.Request) -> web.StreamResponse:
    gw = request.app[GATEWAY]
    try:
        body = to_internal_request(await read_json_object(request, gw.settings.server.max_body_bytes))
        if body.get("stream"):
            return await stream_messages(request, gw, body)
        answer = await answer_chat(request, gw, body)
        assert isinstance(answer, web.Response) and answer.body is not None
        completion = orjson.loads(answer.body)  # type: ignore[arg-type]
        headers = {k: v for k, v in answer.headers.items() if k.lower() in PASSED_HEADERS}
        return web.Response(body=orjson.dumps(to_anthropic_message(completion)), content_type="application/json", headers=headers)
    except GatewayError as exc:
        return web.Response(status=exc.status, body=orjson.dumps(error_body(exc.status, exc.message)),
                            content_type="application/json", headers=exc.headers)


async def stream_messages(request: web.Request, gw: Gateway, body: dict[str, Any]) -> web.StreamResponse:
    """The streaming half of `answer_chat`, relayed as Anthropic events."""
    received_at = asyncio.get_running_loop().time()
    validate_chat_request(body)
    plan = plan_candidates(gw, body, request.headers)
    extra = {"x-switchyard-route": plan.route_reason} if plan.route_reason else {}

    def timeouts(route: Route) -> AttemptTimeouts:
        return request_timeouts(route.provider_config.timeouts, body, request.headers, received_at)

    for route in plan.candidates:
        timeouts(route)

    async def attempt(route: Route) -> OpenedStream:
        return await open_stream(gw.upstreams.session_for(route.base_url), route, body, timeouts(route))

    opened, attempts = await run_with_fallback(gw, plan.candidates, attempt, extra)
    return await relay_events(request, gw, opened, body, attempts, extra)


class EventShaper(StreamShaper):
    """The relay's per-chunk accounting (model name, usage, cost), writing Anthropic events."""

    def __init__(self, route: Route) -> None:
        super().__init__(route, include_usage=False)
        self.events = AnthropicEventEncoder(route.model)

    def encode(self, chunks: list[dict[str, Any]]) -> bytes:
        out = []
        for chunk in chunks:
            if chunk.get("usage"):
                self.usage = with_cost(chunk["usage"], self.route)
            if chunk.get("choices"):
                self.completion_chars += sum(len(c.get("delta", {}).get("content") or "") for c in chunk["choices"])
                out.append(self.events.encode(chunk))
        return b"".join(out)

    def closing(self, body: dict[str, Any]) -> bytes:
        if self.usage is None:  # never an answer without usage, even when the upstream sent none
            self.usage = with_cost(estimate_usage(body, self.completion_chars), self.route)
        return self.events.finish_events(self.usage)


async def relay_events(request: web.Request, gw: Gateway, opened: OpenedStream, body: dict[str, Any], attempts: int,
                       extra: dict[str, str]) -> web.StreamResponse:
    """As `proxy.relay.relay_stream`, with a failure after the first byte ending in an `error` event."""
    route = opened.route
    resp = web.StreamResponse(status=200, headers={**SSE_HEADERS, **gateway_headers(route, attempts, extra)})
    shaper = EventShaper(route)
    outcome = "cancelled"
    try:
        await resp.prepare(request)
        await resp.write(shaper.encode(opened.held))
        await pump_until_deadline(gw, resp, opened, shaper)
        await resp.write(shaper.closing(body))
        outcome = "ok"
    except UpstreamError as exc:
        outcome = "cancelled" if exc.code == "gateway_shutting_down" else "error"
        message = f"Provider '{route.provider}' failed mid-stream: {redact(exc.message, [route.api_key])} The answer above is incomplete."
        await write_quietly(resp, shaper.events.error_event(exc.status, message))
    except (ConnectionError, RuntimeError):
        pass  # the client went away
    except Exception as exc:  # noqa: BLE001 - a bug must still end the stream visibly
        log.error("messages relay failed for %s via %s: %s", route.model, route.provider, redact(repr(exc), [route.api_key]))
        await write_quietly(resp, shaper.events.error_event(500, "Internal gateway error while relaying the stream."))
    finally:
        opened.close()
        if outcome == "ok":
            record_stream_success(gw, opened, shaper)
        else:
            gw.scorer.record(route.model, route.provider, outcome)
    if resp.prepared:
        try:
            await resp.write_eof()
        except (ConnectionError, RuntimeError):
            pass
    return resp
