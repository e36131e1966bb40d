"""The response a front end streams server-sent events on, prepared while the upstream thinks.

The front ends send nothing before the first content is in hand (the failover contract: a failure
before it falls back invisibly, and an answer that never starts ends in a proper error status). Yet
aiohttp's `StreamResponse.prepare` (the final headers: Date, chunking, the header block serialised)
need not wait for it: with `_send_headers_immediately = False` a prepared response holds its header
block in the request's writer until the first body write, which sends both in one. So the frame
prepares the answer as soon as an attempt's upstream has answered 200 (`open`), with that attempt's
gateway notes, and at the first token only the write remains.

What may change between `open` and the first token is undone here:
- another attempt wins (the opened one failed before content, or a hedge won): `response` writes the
  header block again with the winner's notes (nothing has been sent, so the new block replaces it);
- no attempt ever streams: `opening` hands the request's writer back unchunked, for the error answer
  that follows (a `web.Response` with a Content-Length on the same writer).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar

from aiohttp import web
from aiohttp.abc import AbstractStreamWriter
from aiohttp.http_writer import StreamWriter

T = TypeVar("T")


class EventStreamResponse(web.StreamResponse):
    _send_headers_immediately = False  # aiohttp's switch for "headers go out with the first body write"


class EventStreamFrame:
    """A stream's response: pass `open` as the pipeline's `on_open` (it runs with an attempt's notes
    once its upstream has answered 200, before its first content), await the pipeline through
    `opening`, then take `response` with the winning attempt's notes once the first content is in.
    A cached replay, which never opens, builds and prepares its response on the way out as before."""

    __slots__ = ("_headers", "_request", "_resp", "_writer", "_notes")

    def __init__(self, request: web.Request, headers: Callable[[], Mapping[str, str]]) -> None:
        self._request = request
        self._headers = headers  # the answer's headers that do not depend on which attempt wins
        self._resp: EventStreamResponse | None = None
        self._writer: AbstractStreamWriter | None = None  # set once prepared
        self._notes: dict[str, str] | None = None  # the notes the prepared header block carries

    def _build(self) -> EventStreamResponse:
        if self._resp is None:
            self._resp = EventStreamResponse(status=200, headers=self._headers())
        return self._resp

    async def open(self, notes: dict[str, str]) -> None:
        """An attempt's upstream answered 200: prepare the answer with its notes (the first time only;
        a later opening is settled by `response`)."""
        if self._writer is not None:
            return
        resp = self._build()
        resp.headers.update(notes)
        self._notes = notes
        self._writer = await resp.prepare(self._request)

    async def opening(self, pipeline: Awaitable[T]) -> T:
        """Await the pipeline's stream; when it fails instead, the prepared answer is dropped unsent."""
        try:
            return await pipeline
        except BaseException:
            if isinstance(self._writer, StreamWriter):
                self._writer.chunked = False  # the error answer that follows has a Content-Length, on this writer
            raise

    async def response(self, notes: Mapping[str, str]) -> EventStreamResponse:
        """The answer, headed with the winning attempt's notes."""
        resp = self._build()
        if self._writer is None:
            resp.headers.update(notes)
        elif notes != self._notes:  # another attempt won after the first had opened: head it anew
            for name in self._notes or ():
                if name not in notes:
                    resp.headers.popall(name, None)
            resp.headers.update(notes)
            version = self._request.version
            await self._writer.write_headers(f"HTTP/{version.major}.{version.minor} {resp.status} {resp.reason}",
                                             resp.headers)
        return resp
