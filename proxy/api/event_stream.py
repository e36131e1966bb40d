"""The response a front end streams server-sent events on.

aiohttp's StreamResponse writes the status line and headers as a socket write of their own when it is
prepared. The front ends prepare only once the first content is in hand (the failover contract: a
failure before it falls back invisibly), so that write is immediately followed by the first event's:
two writes, two syscalls, on the time-to-first-token path. Holding the headers for the first body
write sends both in one (aiohttp's `web.Response` buffers the same way; `write_eof` flushes held
headers if no body ever follows). Nothing goes out earlier or later than before.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from aiohttp import web


class EventStreamResponse(web.StreamResponse):
    _send_headers_immediately = False  # aiohttp's switch for "headers go out with the first body write"


class EventStreamFrame:
    """A stream's response, built while the upstream thinks: pass `build` as the pipeline's `on_open`
    (it runs once an upstream has answered 200 and before its first content), then take `response`
    with the winning attempt's notes once the first content is in. Building it (headers merged into
    aiohttp's multidict) is no longer on the first token's way; a cached replay builds it at `response`."""

    __slots__ = ("_headers", "_resp")

    def __init__(self, headers: Callable[[], Mapping[str, str]]) -> None:
        self._headers = headers  # the answer's headers that do not depend on which attempt wins
        self._resp: EventStreamResponse | None = None

    def build(self) -> None:
        if self._resp is None:
            self._resp = EventStreamResponse(status=200, headers=self._headers())

    def response(self, notes: Mapping[str, str]) -> EventStreamResponse:
        self.build()
        assert self._resp is not None
        self._resp.headers.update(notes)
        return self._resp
