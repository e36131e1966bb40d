"""POST /v1/messages: Anthropic's Messages API in front of the same pipeline as chat completions.

The request is translated to the internal shape (any provider, `auto`, fallback), then the internal
answer is translated back: a message, or its event sequence. Every error on this path, including
the gateway key check and unknown routes, leaves in Anthropic's shape:
`{"type": "error", "error": {"type", "message"}}`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from aiohttp import web

from proxy.api.anthropic_inbound import (
    AnthropicEventEncoder,
    error_body,
    to_anthropic_message,
    to_internal_request,
)
from proxy.api.event_stream import EventStreamFrame
from proxy.api.frontend import answer_headers, read_chat_call
from proxy.api.key_limits import enter_key_limits, has_virtual_key
from proxy.api.openai_chat import SSE_HEADERS, end_stream
from proxy.appkeys import GATEWAY
from proxy.errors import GatewayError
from proxy.pipeline import complete, open_chat_stream, relay

NAME = "anthropic_messages"


class AnthropicFrontEnd:
    name = NAME
    key_hint = "Send your gateway key in the 'x-api-key' header (the Anthropic SDK's api_key)"

    def error_response(self, error: GatewayError, headers: Mapping[str, str]) -> web.Response:
        extra = {k: v for k, v in error.headers.items() if k.lower() != "www-authenticate"}  # a Bearer challenge misleads here
        return web.Response(status=error.status, body=orjson.dumps(error_body(error.status, error.message)),
                            content_type="application/json", headers={**extra, **headers})


FRONT_END = AnthropicFrontEnd()


class EventRenderer:
    """Internal chunks as Anthropic events; the closing message_delta always carries usage."""

    __slots__ = ("events",)

    def __init__(self, model: str) -> None:
        self.events = AnthropicEventEncoder(model)

    def encode(self, chunks: list[dict[str, Any]]) -> bytes:
        return b"".join(self.events.encode(chunk) for chunk in chunks if chunk.get("choices"))

    def closing(self, usage: dict[str, Any], first: dict[str, Any] | None) -> bytes:
        return self.events.finish_events(usage)

    def failure(self, error: GatewayError, message: str) -> bytes:
        return self.events.error_event(error.status, message)


async def messages(request: web.Request) -> web.StreamResponse:
    res = request.app[GATEWAY].chat
    arrival = await read_chat_call(request, NAME, to_internal_request)
    limits = await enter_key_limits(request, arrival, "anthropic") if has_virtual_key(request) else {}
    call, outcome, received_at = arrival.call, arrival.outcome, arrival.received_at
    if not call.stream:
        done = await complete(call, res, outcome, received_at)
        return web.Response(body=orjson.dumps(to_anthropic_message(done.data)), content_type="application/json",
                            headers={**done.notes, **limits, **answer_headers(request)})
    frame = EventStreamFrame(request, lambda: {**SSE_HEADERS, **limits, **answer_headers(request)})
    stream = await frame.opening(open_chat_stream(call, res, outcome, received_at, frame.open))
    resp = await frame.response(stream.notes)
    renderer = EventRenderer(stream.route.model)
    await relay(stream, renderer, lambda: resp.prepare(request), resp.write, res, outcome)
    await end_stream(resp)
    return resp
