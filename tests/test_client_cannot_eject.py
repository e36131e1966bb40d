"""No client can eject a provider for everyone: what the client caused (its own deadline, hanging up,
input the upstream refused with a 400/422, a burst of bad bodies) leaves the provider's circuit closed
and its stats unchanged, on both inbound routes and every wire format. (Issue: four requests with
`x-switchyard-timeout-total: 0.001` opened the circuit of gpt-4.1-nano's only provider.)"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import aiohttp
import orjson
import pytest

from tests.conftest import FAST
from tests.gateway_harness import GatewayHarness, simple_model
from tests.hostile_input import CHAT, MESSAGES, chat_body, messages_body

# one model per wire format, each with a single provider: nothing to fall back to, as for gpt-4.1-nano
TARGETS = {"openai": ("test/gpt", "oai"), "anthropic": ("test/claude", "claude"), "gemini": ("test/gemini", "gem")}
ROUTES = {"chat": ("/v1/chat/completions", chat_body), "messages": ("/v1/messages", messages_body)}
KEYS = {"Authorization": "Bearer key-careless"}, {"Authorization": "Bearer key-innocent"}
# what stays put: the circuit and everything the ranking reads
WATCHED = ("circuit", "available", "error_rate", "consecutive_failures", "failures", "samples", "first_token_ms", "tokens_per_s")


@pytest.fixture(scope="module")
def gateway() -> Iterator[GatewayHarness]:
    harness = GatewayHarness(
        providers={"oai": {"wire": "openai", "knobs": FAST}, "claude": {"wire": "anthropic", "knobs": FAST},
                   "gem": {"wire": "gemini", "knobs": FAST}},
        models={model: simple_model({provider: model.split("/")[1] + "-1"}) for model, provider in TARGETS.values()},
        environ={"SWITCHYARD_API_KEYS": "key-careless,key-innocent"},
    ).start()
    yield harness
    harness.stop()


@pytest.fixture(autouse=True)
def healthy(gateway: GatewayHarness) -> Iterator[None]:
    """Each test starts from healthy mocks and fresh stats (one test's harm must not hide another's)."""
    yield
    gateway.heal(**FAST)
    gateway.call(reset_scorer(gateway))


async def reset_scorer(h: GatewayHarness) -> None:
    for model, provider in TARGETS.values():
        h.gateway.scorer.reset(model, provider)


def watched(h: GatewayHarness, wire: str) -> dict[str, Any]:
    model, provider = TARGETS[wire]
    return {k: v for k, v in h.stats(model, provider).items() if k in WATCHED}


def settle(h: GatewayHarness, wire: str) -> None:
    """Until the gateway has let go of every attempt (a hung-up request finishes in the background)."""
    model, provider = TARGETS[wire]
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and (h.stats(model, provider)["in_flight"] or h.counters(provider).in_flight):
        time.sleep(0.02)


def post(h: GatewayHarness, route: str, wire: str, headers: dict[str, str] | None = None, **patch: Any) -> tuple[int, dict[str, str], Any]:
    path, body = ROUTES[route]
    return h.raw("POST", path, body(TARGETS[wire][0], **patch), headers={**KEYS[0], **(headers or {})})


def innocent_request_is_served(h: GatewayHarness, route: str, wire: str) -> None:
    path, body = ROUTES[route]
    status, headers, payload = h.raw("POST", path, body(TARGETS[wire][0]), headers=KEYS[1])
    assert status == 200, payload
    assert "x-switchyard-degraded" not in {k.lower() for k in headers}


def assert_unharmed(h: GatewayHarness, route: str, wire: str, before: dict[str, Any]) -> None:
    settle(h, wire)
    after = watched(h, wire)
    assert after == before, f"{wire} provider's stats moved: {before} -> {after}"
    assert after["circuit"] == "closed"
    innocent_request_is_served(h, route, wire)


PARAMS = [pytest.param(route, wire, id=f"{route}-{wire}") for route in ROUTES for wire in TARGETS]


@pytest.mark.parametrize(("route", "wire"), PARAMS)
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_client_chosen_deadline(gateway: GatewayHarness, route: str, wire: str, stream: bool) -> None:
    before = watched(gateway, wire)
    for _ in range(4):
        status, _, payload = post(gateway, route, wire, headers={"x-switchyard-timeout-total": "0.001"}, stream=stream)
        assert status == 504, payload
    assert_unharmed(gateway, route, wire, before)


@pytest.mark.parametrize(("route", "wire"), PARAMS)
def test_client_deadline_in_the_body(gateway: GatewayHarness, route: str, wire: str) -> None:
    gateway.set_knobs(TARGETS[wire][1], ttft_ms=300.0)
    before = watched(gateway, wire)
    for _ in range(4):
        status, _, _ = post(gateway, route, wire, switchyard={"timeouts": {"first_token_s": 0.05}}, stream=True)
        assert status == 504
    gateway.set_knobs(TARGETS[wire][1], ttft_ms=FAST["ttft_ms"])
    assert_unharmed(gateway, route, wire, before)


@pytest.mark.parametrize(("route", "wire"), PARAMS)
def test_client_idle_limit_mid_stream(gateway: GatewayHarness, route: str, wire: str) -> None:
    """A stream the client's own idle limit ends after content has flowed: an error event for the
    client, nothing against the provider."""
    gateway.set_knobs(TARGETS[wire][1], tokens_per_s=8.0, chunks=4)  # 0.25 s between chunks
    before = watched(gateway, wire)
    for _ in range(4):
        status, _, text = post(gateway, route, wire, switchyard={"timeouts": {"idle_s": 0.1}}, stream=True)
        assert status == 200 and "idle timeout" in text
    gateway.set_knobs(TARGETS[wire][1], tokens_per_s=FAST["tokens_per_s"], chunks=FAST["chunks"])
    assert_unharmed(gateway, route, wire, before)


async def hang_up(h: GatewayHarness, path: str, body: dict[str, Any], after_s: float) -> None:
    timeout = aiohttp.ClientTimeout(total=after_s)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        try:
            async with session.post(h.base + path, data=orjson.dumps(body), headers={"Content-Type": "application/json", **KEYS[0]}) as r:
                await r.read()
        except TimeoutError:
            pass  # the client gave up and closed the connection: what this test is about
        else:
            raise AssertionError("the slow provider answered before the client hung up")


@pytest.mark.parametrize(("route", "wire"), PARAMS)
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_client_hangs_up(gateway: GatewayHarness, route: str, wire: str, stream: bool) -> None:
    gateway.set_knobs(TARGETS[wire][1], ttft_ms=400.0)
    before = watched(gateway, wire)
    path, body = ROUTES[route]

    async def four_hang_ups() -> None:
        await asyncio.gather(*(hang_up(gateway, path, body(TARGETS[wire][0], stream=stream), 0.08) for _ in range(4)))

    gateway.call(four_hang_ups())
    gateway.set_knobs(TARGETS[wire][1], ttft_ms=FAST["ttft_ms"])
    assert_unharmed(gateway, route, wire, before)


@pytest.mark.parametrize(("route", "wire"), PARAMS)
@pytest.mark.parametrize("upstream_status", [400, 422])
def test_upstream_refuses_the_clients_input(gateway: GatewayHarness, route: str, wire: str, upstream_status: int) -> None:
    """The upstream's own 400/422 (input the gateway could not know was bad) goes back to the client
    and says nothing about the provider's health."""
    gateway.set_knobs(TARGETS[wire][1], status=upstream_status)
    before = watched(gateway, wire)
    for _ in range(4):
        status, _, payload = post(gateway, route, wire)
        assert status in (400, 422), payload
    gateway.set_knobs(TARGETS[wire][1], status=None)
    assert_unharmed(gateway, route, wire, before)


@pytest.mark.parametrize(("route", "wire"), PARAMS)
def test_burst_of_bad_input_from_one_key(gateway: GatewayHarness, route: str, wire: str) -> None:
    """Every malformed body of the field tests, three times over, from one key."""
    before = watched(gateway, wire)
    cases = CHAT if route == "chat" else MESSAGES
    for _ in range(3):
        for _case_id, patch, _field in cases:
            status, _, payload = post(gateway, route, wire, **patch)
            assert 400 <= status < 500, (patch, payload)
    assert_unharmed(gateway, route, wire, before)


def test_real_provider_failures_still_count(gateway: GatewayHarness) -> None:
    """The other side of the line: 5xx from the provider opens its circuit, as before."""
    gateway.set_knobs("oai", status=503)
    for _ in range(3):
        post(gateway, "chat", "openai")
    assert watched(gateway, "openai")["circuit"] == "open"
