"""POST /v1/messages: the Anthropic Messages API in front of the gateway's normal pipeline.

The request is translated to the internal shape and answered like /v1/chat/completions (routing,
`auto`, fallback, any provider), then translated back: a message, or its full event sequence.
Errors leave in Anthropic's shape: `{"type": "error", "error": {"type", "message"}}`.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from proxy.api.anthropic_checks import check_messages_request
from proxy.api.body import read_json_object
from proxy.api.chat import answer_chat
from proxy.appkeys import GATEWAY
from proxy.catalog import Route
from proxy.errors import GatewayError
from proxy.providers.anthropic_inbound import (
    AnthropicEventEncoder,
    error_body,
    to_anthropic_message,
    to_internal_request,
)
from proxy.providers.base import UpstreamError
from proxy.relay import StreamShaper, content_chars, failure_message, with_cost

PASSED_HEADERS = ("x-switchyard-provider", "x-switchyard-attempts", "x-switchyard-model", "x-switchyard-route", "x-switchyard-degraded")


async def messages(request: web.Request) -> web.StreamResponse:
    gw = request.app[GATEWAY]
    try:
        raw = await read_json_object(request, gw.settings.server.max_body_bytes)
        check_messages_request(raw)
        body = to_internal_request(raw)
        if body.get("stream"):
            return await answer_chat(request, gw, body, shaper=EventShaper)
        answer = await answer_chat(request, gw, body)
        assert isinstance(answer, web.Response) and answer.body is not None
        completion = orjson.loads(answer.body)  # type: ignore[arg-type]
        headers = {k: v for k, v in answer.headers.items() if k.lower() in PASSED_HEADERS}
        return web.Response(body=orjson.dumps(to_anthropic_message(completion)), content_type="application/json", headers=headers)
    except GatewayError as exc:
        return web.Response(status=exc.status, body=orjson.dumps(error_body(exc.status, exc.message)),
                            content_type="application/json", headers=exc.headers)


class EventShaper(StreamShaper):
    """The relay's per-chunk accounting (model name, usage, cost), writing Anthropic events."""

    def __init__(self, route: Route, body: dict[str, Any], include_usage: bool = False) -> None:
        super().__init__(route, body, include_usage=False)
        self.events = AnthropicEventEncoder(route.model)

    def encode(self, chunks: list[dict[str, Any]]) -> bytes:
        out = []
        for chunk in chunks:
            if chunk.get("usage"):
                self.usage = with_cost(chunk["usage"], self.route)
            if chunk.get("choices"):
                self.completion_chars += content_chars(chunk)
                out.append(self.events.encode(chunk))
        return b"".join(out)

    def closing(self) -> bytes:
        return self.events.finish_events(self.final_usage())  # never an answer without usage

    def failure(self, exc: UpstreamError) -> bytes:
        return self.events.error_event(exc.status, failure_message(exc, self.route))
