"""Two gateway processes sharing one Redis and one PostgreSQL, as replicas behind a load balancer."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.pg_cluster import PostgresCluster
from tests.redis_server import RedisServer
from tests.replica_set import ADMIN, ANSWER_TOKENS, ReplicaSet

CHAT = {"model": "test/alpha", "messages": [{"role": "user", "content": "hi"}], "max_tokens": ANSWER_TOKENS}


@pytest.fixture
def replicas(tmp_path: Path, redis_server: RedisServer, postgres: PostgresCluster) -> Iterator[ReplicaSet]:
    rs = ReplicaSet(tmp_path, redis_server.url, postgres.new_database()).start(2)
    yield rs
    rs.stop()


def test_revoking_on_a_refuses_on_b_within_a_second(replicas: ReplicaSet) -> None:
    a, b = replicas[0], replicas[1]
    key_id, secret = replicas.create_key(name="leaver")
    deadline = time.monotonic() + 2  # B learns of the new key by pub/sub or its next poll
    while b.post("/v1/chat/completions", CHAT, secret).status_code != 200:
        assert time.monotonic() < deadline, "the key never worked on B"
        time.sleep(0.02)
    r = a.client.delete(f"/v1/keys/{key_id}", headers={"Authorization": "Bearer sk-replica-admin-0123456789"})
    assert r.status_code == 200
    revoked_at = time.monotonic()
    while True:
        status = b.post("/v1/chat/completions", CHAT, secret).status_code
        if status == 401:
            break
        assert status == 200
        assert time.monotonic() - revoked_at < 1.0, "B still accepted the key a second after A revoked it"
    print(f"revocation reached B after {1000 * (time.monotonic() - revoked_at):.0f} ms")


def test_a_provider_failed_through_a_is_ejected_on_b_within_a_second(replicas: ReplicaSet) -> None:
    a, b = replicas[0], replicas[1]
    assert b.client.get("/health").json()["circuits"]["open"] == 0
    replicas.mock.call(_set_status(replicas, 503))
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


async def _set_status(replicas: ReplicaSet, status: int | None) -> None:
    replicas.mock.server.knobs.update({"status": status})
