"""A client that hangs up cancels the upstream request and frees its connection; counts stay right."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator

import aiohttp
import orjson
import pytest

from tests.conftest import FAST
from tests.gateway_harness import GatewayHarness, simple_model

BODY = {"model": "test/alpha", "messages": [{"role": "user", "content": "ping"}]}


@pytest.fixture
def slow() -> Iterator[GatewayHarness]:
    # 0.2 s between content chunks, 30 of them: a 6 s answer
    h = GatewayHarness(
        providers={"p-one": {"knobs": {**FAST, "tokens_per_s": 10.0, "chunks": 30}}},
        models={"test/alpha": simple_model({"p-one": "alpha-one"})},
    ).start()
    yield h
    h.stop()


def wait_for(condition: Callable[[], bool], timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def all_released(h: GatewayHarness) -> bool:
    stats = h.stats("test/alpha", "p-one")
    return (h.counters("p-one").in_flight == 0 and stats["in_flight"] == 0 and h.gateway.in_flight == 0
            and h.call(upstream_connections(h)) == 0)


async def upstream_connections(h: GatewayHarness) -> int:
    return h.gateway.upstreams.open_connections()


async def hang_up_after_first_content(h: GatewayHarness) -> str:
    async with aiohttp.ClientSession() as s:
        resp = await s.post(h.base + "/v1/chat/completions", data=orjson.dumps({**BODY, "stream": True}),
                            headers={"Content-Type": "application/json"})
        seen = b""
        while b'"content":"[' not in seen:
            seen += await resp.content.readany()
        resp.close()  # drop the connection mid-answer
        return seen.decode()


def test_stream_disconnect_cancels_upstream(slow: GatewayHarness) -> None:
    seen = slow.call(hang_up_after_first_content(slow))
    assert "[alpha-one]" in seen
    assert wait_for(lambda: all_released(slow)), (slow.counters("p-one"), slow.stats("test/alpha", "p-one"))
    stats = slow.stats("test/alpha", "p-one")
    assert stats["failures"] == 0 and stats["circuit"] == "closed"  # a client leaving is not the provider's fault


def test_disconnect_while_waiting_for_first_token(slow: GatewayHarness) -> None:
    slow.set_knobs("p-one", ttft_ms=5000.0)

    async def hang_up_early() -> None:
        async with aiohttp.ClientSession() as s:
            with pytest.raises(asyncio.TimeoutError):
                async with asyncio.timeout(0.3):
                    await s.post(slow.base + "/v1/chat/completions", data=orjson.dumps({**BODY, "stream": True}),
                                 headers={"Content-Type": "application/json"})

    slow.call(hang_up_early())
    assert wait_for(lambda: slow.counters("p-one").in_flight == 0, 1.0)  # long before the mock's 5 s
    assert wait_for(lambda: all_released(slow))
    assert slow.stats("test/alpha", "p-one")["failures"] == 0


def test_non_stream_disconnect_cancels_upstream(slow: GatewayHarness) -> None:
    slow.set_knobs("p-one", hang=True)

    async def give_up() -> None:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=0.3)) as s:
            with pytest.raises(asyncio.TimeoutError):
                await s.post(slow.base + "/v1/chat/completions", data=orjson.dumps(BODY), headers={"Content-Type": "application/json"})

    slow.call(give_up())
    assert slow.counters("p-one").requests == 1
    assert wait_for(lambda: all_released(slow), 1.0)


def test_many_disconnects_leave_nothing_behind(slow: GatewayHarness) -> None:
    async def burst() -> None:
        await asyncio.gather(*(hang_up_after_first_content(slow) for _ in range(20)))

    slow.call(burst())
    assert wait_for(lambda: all_released(slow))
    # and the gateway still answers normally afterwards
    slow.set_knobs("p-one", tokens_per_s=5000.0, chunks=4)
    status, _, payload = slow.raw("POST", "/v1/chat/completions", BODY)
    assert status == 200 and payload["choices"][0]["message"]["content"].startswith("[alpha-one]")
