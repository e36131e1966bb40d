"""The Redis answer store against a real redis-server on a free port: shared entries, Redis's expiry,
and a Redis that goes away turns the cache into misses, never into failed answers."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import orjson
import pytest
from openai import OpenAI

from proxy.cache.redis_store import RedisStore
from tests.conftest import FAST
from tests.gateway_harness import GatewayHarness, simple_model

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_redis(port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return proc
        except OSError:
            time.sleep(0.02)
    proc.kill()
    raise RuntimeError("redis-server did not start")


@pytest.fixture
def redis_url() -> Iterator[str]:
    port = free_port()
    proc = start_redis(port)
    yield f"redis://127.0.0.1:{port}/0"
    proc.kill()
    proc.wait()


async def test_two_replicas_share_entries_and_redis_expires_them(redis_url: str) -> None:
    one, two = RedisStore.from_url(redis_url), RedisStore.from_url(redis_url)
    try:
        await one.put("k", b"answer", 60)
        assert await two.get("k") == b"answer"
        await two.put("short", b"x", 0.05)
        time.sleep(0.1)
        assert await one.get("short") is None
    finally:
        await one.close()
        await two.close()


async def test_a_redis_that_is_gone_means_misses_not_errors(redis_url: str, caplog: pytest.LogCaptureFixture) -> None:
    store = RedisStore.from_url(redis_url.replace(redis_url.rsplit(":", 1)[1].split("/")[0], str(free_port())))
    try:
        assert await store.get("k") is None
        await store.put("k", b"v", 60)
        assert await store.get("k") is None
        assert sum("answer cache: Redis" in r.message for r in caplog.records) == 1  # once per outage
    finally:
        await store.close()


def test_replicas_on_one_redis_share_answers(redis_url: str) -> None:
    """Wired in by `state.redis_url`: an answer cached through gateway A is a hit on gateway B."""
    def gateway() -> GatewayHarness:
        return GatewayHarness(providers={"p-one": {"knobs": {**FAST, "chunks": 4}}},
                              models={"test/alpha": simple_model({"p-one": "alpha-one"})},
                              # a generous Redis timeout: on a loaded machine the first connection can take
                              # longer than the default 0.25 s, and the answer would then skip the cache
                              extra_config={"cache": {"enabled": True, "ttl_s": 60, "redis_timeout_s": 5.0},
                                            "state": {"redis_url": redis_url}}).start()

    a, b = gateway(), gateway()
    try:
        body = {"model": "test/alpha", "messages": [{"role": "user", "content": "shared?"}]}
        miss = OpenAI(base_url=a.url, api_key="x").chat.completions.with_raw_response.create(**body)  # type: ignore[call-overload]
        hit = OpenAI(base_url=b.url, api_key="x").chat.completions.with_raw_response.create(**body)  # type: ignore[call-overload]
        assert miss.headers["x-switchyard-cache"] == "miss" and hit.headers["x-switchyard-cache"] == "hit"
        assert orjson.loads(hit.content) == orjson.loads(miss.content)
        assert a.counters("p-one").requests == 1 and b.counters("p-one").requests == 0  # B never went upstream
    finally:
        a.stop()
        b.stop()
