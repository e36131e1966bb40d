"""POST /v1/chat/completions: OpenAI's chat completions API in front of the pipeline.

Errors leave in OpenAI's shape, `{"error": {"message", "type", "param", "code"}}`, here and on every
path no other front end claims (see `proxy.api.middleware`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import orjson
from aiohttp import web

from proxy.api.event_stream import EventStreamFrame
from proxy.api.frontend import answer_headers, read_chat_call
from proxy.api.key_limits import enter_key_limits, has_virtual_key
from proxy.appkeys import GATEWAY
from proxy.errors import GatewayError
from proxy.pipeline import complete, open_chat_stream, relay
from proxy.streaming import sse_frame

NAME = "openai_chat"
DONE = b"data: [DONE]\n\n"
SSE_HEADERS = {
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",
}


def error_body(error: GatewayError) -> dict[str, Any]:
    return {"error": {"message": error.message, "type": error.type, "param": error.param, "code": error.code}}


class OpenAIFrontEnd:
    name = NAME
    key_hint = "Send 'Authorization: Bearer <key>'"

    def error_response(self, error: GatewayError, headers: Mapping[str, str]) -> web.Response:
        return web.Response(status=error.status, body=orjson.dumps(error_body(error)), content_type="application/json",
                            headers={**error.headers, **headers})


FRONT_END = OpenAIFrontEnd()


class ChunkRenderer:
    """OpenAI's SSE framing: usage only when the client asked for it (then always, estimated if the
    upstream sent none), an error event then [DONE] when the stream breaks."""

    __slots__ = ("include_usage", "usage_sent")

    def __init__(self, include_usage: bool) -> None:
        self.include_usage = include_usage
        self.usage_sent = False

    def encode(self, chunks: list[dict[str, Any]]) -> bytes:
        out = []
        for chunk in chunks:
            if "usage" in chunk:
                if not self.include_usage:
                    del chunk["usage"]
                    if not chunk.get("choices"):
                        continue
                elif chunk["usage"]:
                    self.usage_sent = True
            out.append(sse_frame(orjson.dumps(chunk)))
        return b"".join(out)

    def closing(self, usage: dict[str, Any], first: dict[str, Any] | None) -> bytes:
        if not self.include_usage or self.usage_sent:
            return DONE
        first = first or {}
        chunk = {"id": first.get("id", "chatcmpl-switchyard"), "object": "chat.completion.chunk",
                 "created": first.get("created", int(time.time())), "model": first.get("model"), "choices": [],
                 "usage": usage}
        self.usage_sent = True
        return sse_frame(orjson.dumps(chunk)) + DONE

    def failure(self, error: GatewayError, message: str) -> bytes:
        body = {"error": {"message": message, "type": error.type, "param": None, "code": error.code or "stream_interrupted"}}
        return sse_frame(orjson.dumps(body)) + DONE


async def chat_completions(request: web.Request) -> web.StreamResponse:
    """The handler and the pipeline's call are one coroutine chain: no task, no queue in between."""
    res = request.app[GATEWAY].chat
    arrival = await read_chat_call(request, NAME)
    limits = await enter_key_limits(request, arrival, "openai") if has_virtual_key(request) else {}
    call, outcome, received_at = arrival.call, arrival.outcome, arrival.received_at
    if not call.stream:
        done = await complete(call, res, outcome, received_at)
        return web.Response(body=orjson.dumps(done.data), content_type="application/json",
                            headers={**done.notes, **limits, **answer_headers(request)})
    frame = EventStreamFrame(request, lambda: {**SSE_HEADERS, **limits, **answer_headers(request)})
    stream = await frame.opening(open_chat_stream(call, res, outcome, received_at, frame.open))
    resp = await frame.response(stream.notes)
    await relay(stream, ChunkRenderer(call.include_usage), lambda: resp.prepare(request), resp.write, res, outcome)
    await end_stream(resp)
    return resp


async def end_stream(resp: web.StreamResponse) -> None:
    if not resp.prepared:
        return
    try:
        await resp.write_eof()
    except ConnectionError:
        pass  # the client left after the last event: nothing left to tell it
