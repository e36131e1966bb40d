"""The floor: a bare aiohttp forwarder, no routing, no parsing. `python -m bench.forwarder --upstream URL --port P`.

`--hold-headers`: a stream's status line, headers and opening events are held until the first event
with content arrives, then sent in one write, as Switchyard does (so it can fail over unseen before
the first token). Its TTFT against the plain forwarder's is what that contract costs a client, which
then reads the headers and the opening events only once the first token is in.
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import uvloop
from aiohttp import web

PASSED_HEADERS = ("Content-Type", "Authorization")
SESSION = web.AppKey("session", aiohttp.ClientSession)
UPSTREAM = web.AppKey("upstream", str)
HOLD = web.AppKey("hold", bool)
CONTENT, EMPTY = b'"content":"', b'"content":""'


def has_content(piece: bytes) -> bool:
    return piece.count(CONTENT) > piece.count(EMPTY)


PRICE_IN, PRICE_OUT = 0.1e-6, 0.2e-6  # the bench model's catalogue prices, per token
UPSTREAM_MODEL = "mock-model"


def priced(data: dict[str, Any], model: str) -> dict[str, Any]:
    """What every answer and event gets back: the client's model name, and its usage's cost."""
    data["model"] = model
    usage = data.get("usage")
    if usage:
        usage["cost_usd"] = usage.get("prompt_tokens", 0) * PRICE_IN + usage.get("completion_tokens", 0) * PRICE_OUT
    return data


def event_has_content(chunk: dict[str, Any]) -> bool:
    for choice in chunk.get("choices") or ():
        delta = choice.get("delta") or {}
        if choice.get("finish_reason") or delta.get("content") or delta.get("tool_calls"):
            return True
    return False


def reencode(piece: bytes, model: str) -> tuple[bytes, bool]:
    """A stream read's whole events, each parsed, priced and re-encoded; whether any carried content."""
    out: list[bytes] = []
    content = False
    for event in piece.split(b"\n\n"):
        if not event.startswith(b"data: "):
            continue
        data = event[6:]
        if data == b"[DONE]":
            out.append(b"data: [DONE]\n\n")
            continue
        chunk = priced(orjson.loads(data), model)
        content = content or event_has_content(chunk)
        out.append(b"data: " + orjson.dumps(chunk) + b"\n\n")
    return b"".join(out), content


async def forward_parsed(request: web.Request) -> web.StreamResponse:
    """--parse: the request and every answer parsed and re-encoded; stream headers held to the first content."""
    body = orjson.loads(await request.read())
    model = body["model"]
    body["model"] = UPSTREAM_MODEL
    if body.get("stream"):
        body["stream_options"] = {"include_usage": True}
    headers = {h: request.headers[h] for h in PASSED_HEADERS if h in request.headers}
    async with request.app[SESSION].post(request.app[UPSTREAM] + request.path, data=orjson.dumps(body),
                                         headers=headers) as up:
        if not up.content_type.startswith("text/event-stream"):
            data = priced(orjson.loads(await up.read()), model)
            return web.Response(body=orjson.dumps(data), status=up.status, content_type="application/json")
        resp = web.StreamResponse(status=up.status, headers={"Content-Type": up.headers["Content-Type"]})
        held: list[bytes] | None = []
        rest = b""
        async for piece in up.content.iter_any():
            whole, _, rest = (rest + piece).rpartition(b"\n\n")
            if not whole:
                continue
            out, content = reencode(whole, model)
            if held is not None:
                held.append(out)
                if not content:
                    continue
                resp._send_headers_immediately = False
                await resp.prepare(request)
                out, held = b"".join(held), None
            await resp.write(out)
        if held is not None:
            await resp.prepare(request)
            await resp.write(b"".join(held))
        await resp.write_eof()
        return resp


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
    parser.add_argument("--parse", action="store_true",
                        help="parse and re-encode the request and the answers, as a gateway must (holds stream headers)")
    args = parser.parse_args()

    async def session_ctx(app: web.Application) -> AsyncIterator[None]:
        app[SESSION] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), timeout=aiohttp.ClientTimeout(total=None))
        yield
        await app[SESSION].close()

    app = web.Application()
    app[UPSTREAM] = args.upstream.rstrip("/")
    app[HOLD] = args.hold_headers
    app.cleanup_ctx.append(session_ctx)
    app.router.add_post("/{tail:.*}", forward_parsed if args.parse else forward)
    uvloop.install()
    web.run_app(app, host=args.host, port=args.port, print=None, access_log=None, backlog=4096)


if __name__ == "__main__":
    main()
