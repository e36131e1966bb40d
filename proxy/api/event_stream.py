"""The response a front end streams server-sent events on.

aiohttp's StreamResponse writes the status line and headers as a socket write of their own when it is
prepared. The front ends prepare only once the first content is in hand (the failover contract: a
failure before it falls back invisibly), so that write is immediately followed by the first event's:
two writes, two syscalls, on the time-to-first-token path. Holding the headers for the first body
write sends both in one (aiohttp's `web.Response` buffers the same way; `write_eof` flushes held
headers if no body ever follows). Nothing goes out earlier or later than before.
"""

from __future__ import annotations

from aiohttp import web


class EventStreamResponse(web.StreamResponse):
    _send_headers_immediately = False  # aiohttp's switch for "headers go out with the first body write"
