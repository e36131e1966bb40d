"""Run a mock upstream on a loopback port, with control endpoints to change its knobs live.

`GET /_mock/knobs` shows them, `POST /_mock/knobs` patches them (JSON), `GET /_mock/counters`
reports what the mock has seen, including the last request's headers (to prove what the gateway
forwards).
"""

from __future__ import annotations

import asyncio
import random
import socket
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Any

import orjson
from aiohttp import web

from proxy.simulated.knobs import FaultPlan, Knobs, MockCounters

MockHandler = Callable[["MockContext", web.Request], Awaitable[web.StreamResponse]]

KNOBS_KEY = web.AppKey("mock_knobs", Knobs)
CONTEXT_KEY: web.AppKey[MockContext] = web.AppKey("mock_context")  # type: ignore[name-defined]


class MockContext:
    """Knobs, counters and randomness of one mock upstream."""

    def __init__(self, name: str, knobs: Knobs) -> None:
        self.name = name
        self.knobs = knobs
        self.counters = MockCounters()
        self.rng = random.Random(knobs.seed)
        self.open_responses: set[web.StreamResponse] = set()

    def plan(self) -> FaultPlan:
        return FaultPlan(self.knobs, self.rng)

    def refuse(self, answer: web.StreamResponse) -> web.StreamResponse:
        """A request refused before any answer (its key, its body): counted as an error."""
        self.counters.errors += 1
        return answer

    def note_request(self, request: web.Request, body: Any) -> None:
        self.counters.requests += 1
        self.counters.last_headers = {str(k): v for k, v in request.headers.items()}  # plain str: orjson-safe
        self.counters.last_body = body


async def read_json(request: web.Request) -> Any:
    raw = await request.read()
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None


def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=orjson.dumps(payload), status=status, content_type="application/json", headers=headers
    )


def build_mock_app(name: str, knobs: Knobs, routes: list[tuple[str, str, MockHandler]]) -> web.Application:
    app = web.Application(client_max_size=64 * 1024 * 1024)
    ctx = MockContext(name, knobs)
    app[CONTEXT_KEY] = ctx

    def bind(handler: MockHandler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def wrapped(request: web.Request) -> web.StreamResponse:
            ctx.counters.in_flight += 1
            try:
                return await handler(ctx, request)
            except ConnectionResetError:  # the gateway hung up (a hedge's loser, a client gone): no answer owed
                return web.Response(status=499)
            finally:
                ctx.counters.in_flight -= 1

        return wrapped

    for method, path, handler in routes:
        app.router.add_route(method, path, bind(handler))

    async def get_knobs(_: web.Request) -> web.Response:
        return json_response(ctx.knobs.as_dict())

    async def set_knobs(request: web.Request) -> web.Response:
        patch = await read_json(request)
        if not isinstance(patch, dict):
            return json_response({"error": "expected a JSON object"}, status=400)
        try:
            ctx.knobs.update(patch)
        except ValueError as exc:
            return json_response({"error": str(exc)}, status=400)
        if "seed" in patch:
            ctx.rng = random.Random(ctx.knobs.seed)
        return json_response(ctx.knobs.as_dict())

    async def get_counters(_: web.Request) -> web.Response:
        return json_response(asdict(ctx.counters))

    app.router.add_get("/_mock/knobs", get_knobs)
    app.router.add_post("/_mock/knobs", set_knobs)
    app.router.add_get("/_mock/counters", get_counters)
    return app


class MockServer:
    """A running mock upstream. `await MockServer.start(...)`, then `.url`; `await .stop()`."""

    def __init__(self, app: web.Application, runner: web.AppRunner, port: int, host: str) -> None:
        self.app = app
        self.runner = runner
        self.port = port
        self.host = host

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def context(self) -> MockContext:
        return self.app[CONTEXT_KEY]

    @property
    def knobs(self) -> Knobs:
        return self.context.knobs

    @classmethod
    async def start(cls, app: web.Application, host: str = "127.0.0.1", port: int = 0) -> MockServer:
        # handler_cancellation: a caller that hangs up ends the handler (a hang, a slow stream) at once,
        # as a real provider would, so in_flight shows whether the gateway really let go
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.5, handler_cancellation=True)
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        site = web.SockSite(runner, sock, backlog=4096)
        await site.start()
        return cls(app, runner, sock.getsockname()[1], host)

    async def stop(self) -> None:
        await self.runner.cleanup()


async def hang_forever() -> None:
    await asyncio.Event().wait()
