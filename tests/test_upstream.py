"""The upstream session: what the gateway sends a provider besides the translated request."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.typedefs import Handler

from proxy.simulated.knobs import Knobs
from proxy.simulated.openai_mock import create_openai_mock
from tests.conftest import FAST
from tests.gateway_harness import GatewayHarness, simple_model

MESSAGES = [{"role": "user", "content": "ping"}]


class Seen:
    """Request headers the upstream received, in order."""

    def __init__(self) -> None:
        self.requests: list[dict[str, str]] = []


def cookie_setting_mock(seen: Seen) -> Any:
    """The OpenAI mock behind a load balancer that sets a sticky-session cookie on every answer."""

    def factory(knobs: Knobs, name: str) -> web.Application:
        app = create_openai_mock(knobs, name=name)

        @web.middleware
        async def sticky(request: web.Request, handler: Handler) -> web.StreamResponse:
            seen.requests.append(dict(request.headers))
            resp = await handler(request)
            resp.set_cookie("lb_session", f"user-{len(seen.requests)}", path="/")
            return resp

        app.middlewares.append(sticky)
        return app

    return factory


@pytest.fixture
def sticky_upstream() -> Iterator[tuple[GatewayHarness, Seen]]:
    seen = Seen()
    harness = GatewayHarness(
        providers={"p-one": {"knobs": FAST}},
        models={"test/alpha": simple_model({"p-one": "alpha-one"})},
        factories={"openai": cookie_setting_mock(seen)},
        mock_host="localhost",  # aiohttp's default jar ignores cookies from an IP address; a provider has a name
    ).start()
    yield harness, seen
    harness.stop()


def test_a_cookie_set_by_the_upstream_is_never_sent_back(sticky_upstream: tuple[GatewayHarness, Seen]) -> None:
    h, seen = sticky_upstream
    for stream in (False, False, True, False):
        status, _, _ = h.raw("POST", "/v1/chat/completions", {"model": "test/alpha", "messages": MESSAGES, "stream": stream})
        assert status == 200
    assert len(seen.requests) == 4
    # every answer set a cookie; no later request (another user's, as far as the provider knows) carried one
    assert all("Cookie" not in headers for headers in seen.requests), seen.requests


def test_user_agent_is_the_gateways(sticky_upstream: tuple[GatewayHarness, Seen]) -> None:
    h, seen = sticky_upstream
    status, _, _ = h.raw("POST", "/v1/chat/completions", {"model": "test/alpha", "messages": MESSAGES},
                         headers={"User-Agent": "client-sdk/9"})
    assert status == 200
    assert seen.requests[-1]["User-Agent"] == "switchyard/0.1"
