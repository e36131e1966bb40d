"""No secret leaves the gateway: not upstream keys, not client keys; not in responses, errors or logs.

The mock upstream here does what real providers do on a bad key, and worse: it echoes the
Authorization header it got back in its error messages, in plain bodies and inside streams.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from aiohttp import web

from proxy.redact import redact
from proxy.simulated.knobs import Knobs
from proxy.simulated.openai_mock import create_openai_mock
from tests.conftest import FAST
from tests.gateway_harness import GatewayHarness, simple_model
from tests.sse_client import post_stream

CLIENT_KEY = "sk-client-gateway-key-5e6f7a8b9c"
UPSTREAM_KEYS = ("sk-test-p-one-secret-0123456789", "sk-test-p-two-secret-0123456789")
MODE: dict[str, str] = {}
ECHOED: list[str] = []  # every credential the mock echoed back, to prove the test bites


def leaky_mock(knobs: Knobs, name: str) -> web.Application:
    """The OpenAI mock, plus a middleware that puts the caller's credentials into its failures."""

    @web.middleware
    async def leak(request: web.Request, handler: Any) -> web.StreamResponse:
        mode = MODE.get(name, "")
        auth = request.headers.get("Authorization", "")
        message = f"Incorrect API key provided: {auth.removeprefix('Bearer ')} (header was '{auth}')"
        if mode:
            ECHOED.append(auth)
        if mode in ("401", "500", "429"):
            await request.read()
            body = {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": "invalid_api_key"}}
            return web.Response(status=int(mode), body=orjson.dumps(body), content_type="application/json",
                                headers={"x-echo": auth})
        if mode in ("stream-before", "stream-after") and request.path.endswith("/chat/completions"):
            await request.read()
            resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "x-echo": auth})
            await resp.prepare(request)
            if mode == "stream-after":
                chunk = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m",
                         "choices": [{"index": 0, "delta": {"content": "partial"}, "finish_reason": None}]}
                await resp.write(b"data: " + orjson.dumps(chunk) + b"\n\n")
                await asyncio.sleep(0.05)  # so the gateway has relayed the content before the error
            await resp.write(b"data: " + orjson.dumps({"error": {"message": message, "type": "server_error"}}) + b"\n\n")
            return resp
        return await handler(request)

    app = create_openai_mock(knobs, name)
    app.middlewares.append(leak)
    return app


@pytest.fixture
def leaky() -> Iterator[GatewayHarness]:
    MODE.clear()
    ECHOED.clear()
    h = GatewayHarness(
        providers={"p-one": {"knobs": FAST}, "p-two": {"knobs": FAST}},
        models={"test/alpha": simple_model({"p-one": "alpha-one", "p-two": "alpha-two"})},
        environ={"SWITCHYARD_API_KEYS": CLIENT_KEY},
        factories={"openai": leaky_mock},
    ).start()
    yield h
    h.stop()


def secrets_in(text: str) -> list[str]:
    return [s for s in (CLIENT_KEY, *UPSTREAM_KEYS) if s in text or s[8:] in text]


@pytest.mark.parametrize(
    "modes",
    [
        {"p-one": "401"},
        {"p-one": "500", "p-two": "500"},
        {"p-one": "429", "p-two": "500"},
        {"p-one": "stream-before", "p-two": "stream-before"},
        {"p-one": "stream-after"},
        {"p-one": "500", "p-two": "stream-after"},
    ],
    ids=["401-fail-fast", "all-500", "429-then-500", "in-stream-before-content", "in-stream-after-content", "mixed"],
)
def test_no_secret_in_responses_or_logs(leaky: GatewayHarness, caplog: pytest.LogCaptureFixture, modes: dict[str, str]) -> None:
    MODE.update(modes)
    auth = {"Authorization": f"Bearer {CLIENT_KEY}"}
    order = {"provider": {"routing": {"type": "order", "providers": ["p-one", "p-two"]}}}
    body = {"model": "test/alpha", "messages": [{"role": "user", "content": "hello"}], **order}
    seen: list[str] = []
    with caplog.at_level(logging.DEBUG):
        for _ in range(2):
            status, headers, payload = leaky.raw("POST", "/v1/chat/completions", body, headers=auth)
            seen.append(f"{status} {headers} {payload}")
            result = post_stream(leaky, body, headers=auth)
            seen.append(f"{result.status} {result.headers} {result.events} {result.error_body}")
        # the failures really happened, and the mock really did echo the upstream keys
        assert len(ECHOED) >= 2 and f"Bearer {UPSTREAM_KEYS[0]}" in ECHOED
        assert any("error" in s for s in seen), seen
        status, _, models = leaky.raw("GET", "/v1/models/test/alpha", headers=auth)
        seen.append(str(models))
        seen.append(str(leaky.raw("GET", "/health")))
    logged = "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert not secrets_in("\n".join(seen)), [s for s in seen if secrets_in(s)]
    assert not secrets_in(logged), logged


def test_unknown_key_shapes_are_redacted_by_value(leaky: GatewayHarness) -> None:
    route = leaky.gateway.catalog.models["test/alpha"].routes["p-one"]
    assert route.api_key == UPSTREAM_KEYS[0]
    assert "secret" not in repr(route)  # Route hides its key from repr
    text = "key=plainsecretvalue99 and Bearer abc.def and sk-proj-ABCDEF123456 and AIza" + "x" * 30
    cleaned = redact(text, ["plainsecretvalue99"])
    assert "plainsecretvalue99" not in cleaned and "abc.def" not in cleaned and "ABCDEF123456" not in cleaned
    assert "AIza" not in cleaned and cleaned.count("[redacted]") == 4


def test_settings_never_show_gateway_keys() -> None:
    from proxy.config import load_settings

    settings = load_settings(None, environ={}, overrides={"server": {"api_keys": [CLIENT_KEY]}})
    assert CLIENT_KEY not in repr(settings) and CLIENT_KEY not in str(settings.model_dump())
