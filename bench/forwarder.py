"""The floor: a bare aiohttp forwarder, no routing, no parsing. `python -m bench.forwarder --upstream URL --port P`.

`--hold-headers`: a stream's status line, headers and opening events are held until the first event
with content arrives, then sent in one write, as Switchyard does (so it can fail over unseen before
the first token). Its TTFT against the plain forwarder's is what that contract costs a client, which
then reads the headers and the opening events only once the first token is in.
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator

import aiohttp
import uvloop
from aiohttp import web

PASSED_HEADERS = ("Content-Type", "Authorization")
SESSION = web.AppKey("session", aiohttp.ClientSession)
UPSTREAM = web.AppKey("upstream", str)
HOLD = web.AppKey("hold", bool)
CONTENT, EMPTY = b'"content":"', b'"content":""'


def has_content(piece: bytes) -> bool:
    return piece.count(CONTENT) > piece.count(EMPTY)


async def forward(request: web.Request) -> web.StreamResponse:
    session = request.app[SESSION]
    headers = {h: request.headers[h] for h in PASSED_HEADERS if h in request.headers}
    async with session.post(request.app[UPSTREAM] + request.path, data=await request.read(), headers=headers) as up:
        if not up.content_type.startswith("text/event-stream"):
            return web.Response(body=await up.read(), status=up.status, content_type=up.content_type)
        resp = web.StreamResponse(status=up.status, headers={"Content-Type": up.headers["Content-Type"]})
        held: list[bytes] | None = [] if request.app[HOLD] else None
        if held is None:
            await resp.prepare(request)
        async for piece in up.content.iter_any():
            if held is not None:
                held.append(piece)
                if not has_content(piece):
                    continue
                resp._send_headers_immediately = False  # the headers go out with the held events, in one write
                await resp.prepare(request)
                piece, held = b"".join(held), None
            await resp.write(piece)
        if held is not None:
            await resp.prepare(request)
            await resp.write(b"".join(held))
        await resp.write_eof()
        return resp


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--upstream", required=True, help="origin of the upstream, e.g. http://127.0.0.1:9100")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--hold-headers", action="store_true", help="hold a stream's headers until its first content")
    args = parser.parse_args()

    async def session_ctx(app: web.Application) -> AsyncIterator[None]:
        app[SESSION] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), timeout=aiohttp.ClientTimeout(total=None))
        yield
        await app[SESSION].close()

    app = web.Application()
    app[UPSTREAM] = args.upstream.rstrip("/")
    app[HOLD] = args.hold_headers
    app.cleanup_ctx.append(session_ctx)
    app.router.add_post("/{tail:.*}", forward)
    uvloop.install()
    web.run_app(app, host=args.host, port=args.port, print=None, access_log=None, backlog=4096)


if __name__ == "__main__":
    main()
