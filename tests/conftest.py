from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from proxy.store import Store, backend_for
from tests.browser import start_browser
from tests.gateway_harness import GatewayHarness, simple_model
from tests.pg_cluster import PostgresCluster
from tests.redis_server import RedisServer

FAST = {"ttft_ms": 5.0, "tokens_per_s": 5000.0, "chunks": 6}


@pytest.fixture
def three_providers() -> Iterator[GatewayHarness]:
    """One model (`test/alpha`) on three OpenAI-format providers with different prices."""
    harness = GatewayHarness(
        providers={"p-one": {"knobs": FAST}, "p-two": {"knobs": FAST}, "p-three": {"knobs": FAST}},
        models={
            "test/alpha": simple_model(
                {"p-one": "alpha-one", "p-two": "alpha-two", "p-three": "alpha-three"},
                prices={"p-one": (3.0, 9.0), "p-two": (1.0, 2.0), "p-three": (2.0, 4.0)},
            ),
            "test/beta": simple_model({"p-one": "beta-one"}),
        },
    ).start()
    yield harness
    harness.stop()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    """One throwaway PostgreSQL cluster for the session; tests take a fresh database with new_database()."""
    cluster = PostgresCluster().init()
    yield cluster
    cluster.destroy()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One throwaway redis-server for the session; tests that kill it use their own."""
    server = RedisServer().start()
    yield server
    server.destroy()


@pytest.fixture(params=["sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """A started store on SQLite and on PostgreSQL (a fresh database), batching every 50 ms."""
    url = request.getfixturevalue("postgres").new_database() if request.param == "postgres" else None
    st = Store.create(backend_for(str(tmp_path), url), interval_s=0.05)
    await st.start()
    yield st
    await st.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Debian Chromium through selenium, one per test module."""
    driver = start_browser()
    yield driver
    driver.quit()
