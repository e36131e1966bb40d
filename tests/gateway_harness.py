"""A real gateway and real mock upstreams on loopback sockets, run in a background thread.

The gateway runs in its own event loop, so both the sync and the async `openai` SDK can call it
from the test's thread exactly as a user's program would.
"""

from __future__ import annotations

import asyncio
import tempfile
import threading
from collections.abc import Callable, Coroutine
from typing import Any

import orjson
from aiohttp import web

from proxy.app import create_app
from proxy.appkeys import GATEWAY
from proxy.config import load_settings
from proxy.gateway import Gateway
from proxy.outcome import Outcome
from proxy.simulated.anthropic_mock import create_anthropic_mock
from proxy.simulated.gemini_mock import create_gemini_mock
from proxy.simulated.knobs import Knobs
from proxy.simulated.openai_mock import create_openai_mock
from proxy.simulated.server import MockServer

MockFactory = Callable[..., web.Application]
# Every wire format's own mock, unless a test brings its own (a leaky or overloaded one).
WIRE_MOCKS: dict[str, MockFactory] = {"openai": create_openai_mock, "anthropic": create_anthropic_mock,
                                      "gemini": create_gemini_mock}
# The knobs that make a mock fail; `heal` puts them back.
FAULTS = {"status": None, "stream_error_after_chunks": None, "drop_after_chunks": None}


class GatewayHarness:
    """Start with `GatewayHarness(providers=..., models=...).start()`; `.url` is the gateway's /v1 base."""

    def __init__(
        self,
        providers: dict[str, dict[str, Any]],
        models: dict[str, dict[str, Any]],
        extra_config: dict[str, Any] | None = None,
        environ: dict[str, str] | None = None,
        factories: dict[str, MockFactory] | None = None,
        mock_host: str = "127.0.0.1",
        on_finish: list[Callable[[Outcome], None]] | None = None,
    ) -> None:
        """`providers`: slug -> {"wire": ..., "knobs": {...}}; each gets a mock server and a key.
        `mock_host`: where the mocks listen and how the gateway addresses them (a name such as
        "localhost" where a test needs a host name rather than an IP address)."""
        self.provider_specs = providers
        self.models = models
        self.extra_config = extra_config or {}
        self.environ = dict(environ or {})
        self.factories = {**WIRE_MOCKS, **(factories or {})}
        self.mock_host = mock_host
        self.on_finish = on_finish or []
        self.mocks: dict[str, MockServer] = {}
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.runner: web.AppRunner | None = None
        self.port = 0

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> GatewayHarness:
        self.thread.start()
        self.call(self._start())
        return self

    def stop(self) -> None:
        self.call(self._stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
        if not self.thread.is_alive():
            # a stopped loop still holds its selector and self-pipe: close it, or every test's harness
            # leaves a few descriptors open for the rest of the session
            self.loop.close()

    def call(self, coro: Coroutine[Any, Any, Any], timeout: float = 60.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def _start(self) -> None:
        providers_cfg: dict[str, Any] = {}
        for slug, spec in self.provider_specs.items():
            wire = spec.get("wire", "openai")
            key = f"sk-test-{slug}-secret-0123456789"
            knobs = Knobs(api_key=key, **spec.get("knobs", {}))
            server = await MockServer.start(self.factories[wire](knobs, name=slug), host=self.mock_host)
            self.mocks[slug] = server
            prefix = {"openai": "/v1", "anthropic": "", "gemini": "/v1beta"}[wire]
            env_name = f"TEST_{slug.upper().replace('-', '_')}_KEY"
            self.environ[env_name] = key
            providers_cfg[slug] = {"wire": wire, "base_url": server.url + prefix, "api_key_env": env_name, **spec.get("config", {})}
        # each gateway logs to its own throwaway SQLite file, never the working directory's
        store = {"data_dir": tempfile.mkdtemp(prefix="switchyard-test-")}
        overrides = {"simulate": "never", "store": store, "providers": providers_cfg, "models": self.models, **self.extra_config}
        await self._serve(load_settings(None, environ={}, overrides=overrides))

    async def _serve(self, settings: Any) -> None:
        self.app = create_app(settings, environ=self.environ, on_finish=self.on_finish)
        self.runner = web.AppRunner(self.app, handler_cancellation=True, access_log=None, shutdown_timeout=1.0)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0, backlog=4096)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def _stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
        for server in self.mocks.values():
            await server.stop()

    # -- helpers -------------------------------------------------------------------------------
    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return self.base + "/v1"

    @property
    def gateway(self) -> Gateway:
        return self.app[GATEWAY]

    def set_knobs(self, provider: str, **patch: Any) -> None:
        self.mocks[provider].knobs.update(patch)

    def heal(self, **knobs: Any) -> None:
        """Every mock back to answering (no forced status, no mid-stream fault), `knobs` set too."""
        for slug in self.mocks:
            self.set_knobs(slug, **FAULTS, **knobs)

    def issue_key(self, admin_headers: dict[str, str], **fields: Any) -> dict[str, Any]:
        """A virtual key from the admin API (its record, with the secret in `key`)."""
        status, _, made = self.raw("POST", "/v1/keys", fields, admin_headers)
        assert status == 201, made
        return made  # type: ignore[no-any-return]

    def counters(self, provider: str) -> Any:
        return self.mocks[provider].context.counters

    def stats(self, model: str, provider: str) -> dict[str, Any]:
        async def read() -> dict[str, Any]:
            return self.gateway.scorer.stats(model, provider)  # type: ignore[no-any-return]

        return self.call(read())  # type: ignore[no-any-return]

    def kill(self, provider: str) -> None:
        self.call(self.mocks[provider].stop())

    def raw(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], Any]:
        """A plain HTTP request to the gateway; returns status, headers and the decoded JSON (or text)."""
        import aiohttp

        async def go() -> tuple[int, dict[str, str], Any]:
            data = body if isinstance(body, bytes | str) or body is None else orjson.dumps(body)
            hdrs = {"Content-Type": "application/json", **(headers or {})}
            async with aiohttp.ClientSession() as s, s.request(method, self.base + path, data=data, headers=hdrs) as r:
                raw = await r.read()
                try:
                    payload: Any = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    payload = raw.decode(errors="replace")
                return r.status, dict(r.headers), payload

        return self.call(go())  # type: ignore[no-any-return]


class SimulatedGateway(GatewayHarness):
    """`switchyard serve` with no provider keys: the bundled catalogue, every provider simulated
    (all three wire formats), as a newcomer's first run sees it."""

    def __init__(self, extra_config: dict[str, Any] | None = None) -> None:
        super().__init__(providers={}, models={}, extra_config=extra_config)

    async def _start(self) -> None:
        store = {"data_dir": tempfile.mkdtemp(prefix="switchyard-test-")}
        await self._serve(load_settings(None, environ={}, overrides={"simulate": "always", "store": store, **self.extra_config}))


def simple_model(providers: dict[str, str], **extra: Any) -> dict[str, Any]:
    """A test model entry: provider slug -> upstream id, equal prices unless given."""
    prices = extra.pop("prices", {})
    return {
        "name": extra.pop("name", "Test model"),
        "quality": extra.pop("quality", 0.7),
        "context_window": extra.pop("context_window", 32000),
        "max_output": extra.pop("max_output", 4096),
        "capabilities": extra.pop("capabilities", {"tools": True, "vision": True, "json": True}),
        "providers": {
            slug: {"id": upstream, "input": prices.get(slug, (1.0, 2.0))[0], "output": prices.get(slug, (1.0, 2.0))[1]}
            for slug, upstream in providers.items()
        },
        **extra,
    }


def bearer(key: str) -> dict[str, str]:
    """The Authorization header for a gateway key."""
    return {"Authorization": f"Bearer {key}"}
