"""The Redis answer store against a real redis-server on a free port: shared entries, Redis's expiry,
and a Redis that goes away turns the cache into misses, never into failed answers."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest

from proxy.cache.redis_store import RedisStore

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
