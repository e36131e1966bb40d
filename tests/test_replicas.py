"""Two gateway processes sharing one Redis and one PostgreSQL, as replicas behind a load balancer,
with requests alternating between them. RPM tests use a 3-second window (`state.window_s`, a real
option; the default is 60 s) to stay fast."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.pg_cluster import PostgresCluster
from tests.redis_server import RedisServer
from tests.replica_set import ADMIN, ADMIN_AUTH, ANSWER_TOKENS, ReplicaSet

CHAT = {"model": "test/alpha", "messages": [{"role": "user", "content": "hi"}], "max_tokens": ANSWER_TOKENS}
COST = 0.005  # per request: see tests.replica_set.PRICES
WINDOW_S = 3.0


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory, redis_server: RedisServer,
             postgres: PostgresCluster) -> Iterator[ReplicaSet]:
    rs = ReplicaSet(tmp_path_factory.mktemp("replicas"), redis_server.url, postgres.new_database(),
                    state={"window_s": WINDOW_S}).start(2)
    yield rs
    rs.stop()


def wait_until_known(rs: ReplicaSet, secret: str) -> None:
    """B learns of a key issued on A by pub/sub (or its next poll of the store)."""
    deadline = time.monotonic() + 2
    while rs[1].client.get("/v1/key", headers={"Authorization": f"Bearer {secret}"}).status_code != 200:
        assert time.monotonic() < deadline, "B never learned of the key"
        time.sleep(0.02)


def test_rpm_holds_across_replicas(replicas: ReplicaSet) -> None:
    _, secret = replicas.create_key(name="rpm", rpm=20)
    wait_until_known(replicas, secret)
    start = time.monotonic()
    admitted = []
    for i in range(40):  # alternating A, B, A, B... well inside one window
        r = replicas[i % 2].post("/v1/chat/completions", CHAT, secret)
        assert r.status_code in (200, 429), r.text
        if r.status_code == 200:
            admitted.append(i % 2)
        else:
            assert int(r.headers["retry-after"]) >= 1
    assert time.monotonic() - start < WINDOW_S, "the machine was too slow for one window"
    print(f"RPM 20 across two replicas: {len(admitted)} admitted ({admitted.count(0)} on A, {admitted.count(1)} on B)")
    assert 19 <= len(admitted) <= 21
    time.sleep(WINDOW_S)  # the window slides on: both admit again
    assert replicas[0].post("/v1/chat/completions", CHAT, secret).status_code == 200
    assert replicas[1].post("/v1/chat/completions", CHAT, secret).status_code == 200


def test_budget_stops_both_replicas(replicas: ReplicaSet) -> None:
    key_id, secret = replicas.create_key(name="budget", budget_usd=0.05, budget_period="day")
    wait_until_known(replicas, secret)
    admitted = 0
    for i in range(30):
        r = replicas[i % 2].post("/v1/chat/completions", CHAT, secret)
        if r.status_code == 429:
            assert r.json()["error"]["code"] == "insufficient_quota"
        else:
            assert r.status_code == 200
            admitted += 1
    spend = settled_spend(replicas, key_id, admitted * COST)
    print(f"$0.05 budget across two replicas: {admitted} admitted, spend ${spend:.4f}")
    assert spend <= 0.05 + 2 * COST + 1e-9  # at most one reservation per replica over
    assert admitted >= 10 - 1  # and it was not stopped early either


def test_concurrent_burst_against_a_budget_for_ten(replicas: ReplicaSet) -> None:
    key_id, secret = replicas.create_key(name="burst", budget_usd=10 * COST)
    wait_until_known(replicas, secret)
    replicas.mock.call(_knobs(replicas, ttft_ms=300.0))  # all 50 in flight together
    try:
        async def burst() -> list[int]:
            async with httpx.AsyncClient(timeout=30) as c:
                rs = await asyncio.gather(*(c.post(replicas[i % 2].base + "/v1/chat/completions", json=CHAT,
                                                   headers={"Authorization": f"Bearer {secret}"}) for i in range(50)))
            return [r.status_code for r in rs]

        codes = asyncio.run(burst())
    finally:
        replicas.mock.call(_knobs(replicas, ttft_ms=1.0))
    admitted = codes.count(200)
    assert codes.count(200) + codes.count(429) == 50, codes
    spend = settled_spend(replicas, key_id, admitted * COST)
    print(f"burst of 50 against a budget for 10: {admitted} admitted, spend ${spend:.4f}")
    assert 8 <= admitted <= 12, codes


def test_revoking_on_a_refuses_on_b_within_a_second(replicas: ReplicaSet) -> None:
    a, b = replicas[0], replicas[1]
    key_id, secret = replicas.create_key(name="leaver")
    wait_until_known(replicas, secret)
    assert b.post("/v1/chat/completions", CHAT, secret).status_code == 200
    assert a.client.delete(f"/v1/keys/{key_id}", headers=ADMIN_AUTH).status_code == 200
    revoked_at = time.monotonic()
    while True:
        status = b.post("/v1/chat/completions", CHAT, secret).status_code
        if status == 401:
            break
        assert status == 200
        assert time.monotonic() - revoked_at < 1.0, "B still accepted the key a second after A revoked it"
    print(f"revocation reached B after {1000 * (time.monotonic() - revoked_at):.0f} ms")


def test_a_provider_failed_through_a_is_ejected_on_b_within_a_second(replicas: ReplicaSet) -> None:
    """(Last in this module: it leaves the provider ejected for its cooldown.)"""
    a, b = replicas[0], replicas[1]
    assert b.client.get("/health").json()["circuits"]["open"] == 0
    replicas.mock.call(_knobs(replicas, status=503))
    try:
        for _ in range(10):  # past the failure threshold, through A only
            assert a.post("/v1/chat/completions", CHAT, ADMIN).status_code == 503
            if a.client.get("/health").json()["circuits"]["open"] == 1:
                break
        opened_at = time.monotonic()
        assert a.client.get("/health").json()["circuits"]["open"] == 1
        while b.client.get("/health").json()["circuits"]["open"] != 1:
            assert time.monotonic() - opened_at < 1.0, "B did not eject the provider within a second"
            time.sleep(0.02)
        print(f"ejection reached B after {1000 * (time.monotonic() - opened_at):.0f} ms")
        # and B's /health shows A's latest stats snapshot, with the pair ejected there
        deadline = time.monotonic() + 3
        while b.client.get("/health").json()["replicas"]["ejected_by_peers"] != ["test/alpha:p-one"]:
            assert time.monotonic() < deadline, b.client.get("/health").json()
            time.sleep(0.05)
        assert b.client.get("/health").json()["replicas"]["peers"] == 1
    finally:
        replicas.mock.call(_knobs(replicas, status=None))


def settled_spend(rs: ReplicaSet, key_id: str, expected: float) -> float:
    """The key's spend as the store has it, once settlements (after the answers) are in."""
    deadline = time.monotonic() + 3
    while True:
        spend = float(rs[1].client.get(f"/v1/keys/{key_id}", headers=ADMIN_AUTH).json()["spend_usd"])
        if abs(spend - expected) < 1e-9 or time.monotonic() > deadline:
            return spend
        time.sleep(0.05)


async def _knobs(rs: ReplicaSet, **patch: object) -> None:
    rs.mock.server.knobs.update(patch)
