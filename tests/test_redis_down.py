"""Redis killed mid-run: the declared mode holds (`local`: limit ÷ replicas on each, said in /health
and the metric; `closed`: a clear 503 for limited keys), and restarting Redis resumes without a
restart of the gateways. And without Redis, `--workers N` enforces limit ÷ N per worker."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.pg_cluster import PostgresCluster
from tests.redis_server import RedisServer
from tests.replica_set import ANSWER_TOKENS, ReplicaSet

CHAT = {"model": "test/alpha", "messages": [{"role": "user", "content": "hi"}], "max_tokens": ANSWER_TOKENS}
WINDOW_S = 3.0


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    server = RedisServer().start()
    yield server
    server.destroy()


def limits_health(rs: ReplicaSet, i: int) -> dict[str, object]:
    return rs[i].client.get("/health").json()["limits"]  # type: ignore[no-any-return]


def wait_for(check: object, timeout: float = 3.0) -> float:
    """Seconds until check() is true."""
    start = time.monotonic()
    while not check():  # type: ignore[operator]
        assert time.monotonic() - start < timeout, "condition not met in time"
        time.sleep(0.02)
    return time.monotonic() - start


def alternate(rs: ReplicaSet, secret: str, n: int) -> list[int]:
    return [rs[i % 2].post("/v1/chat/completions", CHAT, secret).status_code for i in range(n)]


def test_local_mode_divides_limits_then_resumes(tmp_path: Path, own_redis: RedisServer,
                                                postgres: PostgresCluster) -> None:
    rs = ReplicaSet(tmp_path, own_redis.url, postgres.new_database(),
                    state={"window_s": WINDOW_S, "on_redis_down": "local"}).start(2)
    try:
        _, secret = rs.create_key(name="steady", rpm=10)
        wait_for(lambda: rs[1].client.get("/v1/key", headers={"Authorization": f"Bearer {secret}"}).status_code == 200)
        wait_for(lambda: limits_health(rs, 0)["replicas"] == 2 and limits_health(rs, 1)["replicas"] == 2)
        assert limits_health(rs, 0)["limits_divisor"] == 1

        own_redis.stop()
        codes = alternate(rs, secret, 20)
        print(f"Redis down (local mode): {codes.count(200)} of 20 admitted against rpm 10")
        assert codes.count(200) == 10 and codes.count(429) == 10  # 5 on each replica: never 10 on each
        for i in (0, 1):
            health = limits_health(rs, i)
            assert (health["backend"], health["redis"], health["limits_divisor"]) == ("local", "down", 2)
            assert "1/2" in str(health["note"])
        metrics = rs[0].client.get("/metrics", headers={"Authorization": "Bearer sk-replica-admin-0123456789"}).text
        assert "switchyard_limits_divisor" in metrics and "switchyard_state_redis_up" in metrics

        own_redis.start()  # same port, empty
        took = wait_for(lambda: limits_health(rs, 0)["redis"] == "up" and limits_health(rs, 1)["redis"] == "up")
        print(f"Redis back: both replicas sharing again after {took * 1000:.0f} ms")
        time.sleep(WINDOW_S)
        codes = alternate(rs, secret, 20)
        assert codes.count(200) == 10  # one shared window again
    finally:
        rs.stop()


def test_closed_mode_refuses_limited_keys_with_a_503(tmp_path: Path, own_redis: RedisServer,
                                                    postgres: PostgresCluster) -> None:
    rs = ReplicaSet(tmp_path, own_redis.url, postgres.new_database(), state={"on_redis_down": "closed"}).start(2)
    try:
        _, limited = rs.create_key(name="limited", rpm=100)
        _, free = rs.create_key(name="free")
        wait_for(lambda: rs[1].client.get("/v1/key", headers={"Authorization": f"Bearer {free}"}).status_code == 200)
        own_redis.stop()
        for i in (0, 1):
            r = rs[i].post("/v1/chat/completions", CHAT, limited)
            assert r.status_code == 503 and r.json()["error"]["code"] == "limits_unavailable", r.text
            assert "on_redis_down" in r.json()["error"]["message"]
            assert rs[i].post("/v1/chat/completions", CHAT, free).status_code == 200  # no limits: no Redis needed
            assert limits_health(rs, i)["backend"] == "closed"
        own_redis.start()
        wait_for(lambda: rs[0].post("/v1/chat/completions", CHAT, limited).status_code == 200)
        wait_for(lambda: rs[1].post("/v1/chat/completions", CHAT, limited).status_code == 200)
    finally:
        rs.stop()


def test_workers_without_redis_divide_limits(tmp_path: Path) -> None:
    rs = ReplicaSet(tmp_path, None, None, state={"window_s": 30.0}).start(1, workers=2)
    try:
        _, secret = rs.create_key(name="workers", rpm=10)
        time.sleep(0.6)  # the other worker's poll of the store picks the key up
        health = limits_health(rs, 0)
        assert health["limits_divisor"] == 2 and "limit / 2" in str(health["note"])
        codes = [httpx.post(rs[0].base + "/v1/chat/completions", json=CHAT,
                            headers={"Authorization": f"Bearer {secret}", "Connection": "close"}).status_code
                 for _ in range(30)]
        print(f"--workers 2 without Redis: {codes.count(200)} of 30 admitted against rpm 10")
        assert 5 <= codes.count(200) <= 10  # 5 per worker at most: never 10 on each
    finally:
        rs.stop()
