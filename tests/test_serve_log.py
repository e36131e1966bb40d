"""Real `switchyard serve` processes: one scrape of /metrics shows every worker; SIGTERM writes out the
log's queue and SIGKILL loses at most one batch window; two gateways writing one PostgreSQL database
each list both's records; answers go on while that database is down."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from proxy.simulated.knobs import Knobs
from proxy.store import Page, RequestFilter, Store, backend_for
from tests.pg_cluster import PostgresCluster, free_port
from tests.test_shutdown import MockThread

KEY = "sk-workers-test-0123456789"
MESSAGES = [{"role": "user", "content": "Say hello."}]


@pytest.fixture(scope="module")
def mock() -> Iterator[MockThread]:
    m = MockThread(Knobs(api_key=KEY, ttft_ms=1.0, tokens_per_s=5000.0))
    yield m
    m.stop()


class Serve:
    """`python -m proxy serve` on a free port with a config of our own."""

    def __init__(self, tmp: Path, mock: MockThread, workers: int = 1, extra: dict[str, Any] | None = None) -> None:
        self.port = free_port()
        self.tmp = tmp
        config = {
            "simulate": "never",
            "store": {"data_dir": str(tmp / "data")},
            "log": {"batch_interval_ms": 20},
            "providers": {"p-one": {"base_url": mock.server.url + "/v1", "api_key_env": "WORKERS_TEST_KEY"}},
            "models": {"test/alpha": {"context_window": 32000, "max_output": 4096,
                                      "providers": {"p-one": {"id": "alpha-one", "input": 1.0, "output": 2.0}}}},
            **(extra or {}),
        }
        path = tmp / f"switchyard-{self.port}.yaml"
        path.write_text(yaml.safe_dump(config))
        env = {**os.environ, "WORKERS_TEST_KEY": KEY, "PROMETHEUS_MULTIPROC_DIR": str(tmp / f"metrics-{self.port}")}
        self.proc = subprocess.Popen([sys.executable, "-m", "proxy", "serve", "--config", str(path), "--port",
                                      str(self.port), "--workers", str(workers)], env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(self.base + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"gateway did not start: {self.proc.stdout.read() if self.proc.stdout else ''}")
            time.sleep(0.1)

    def chat(self, n: int) -> list[str]:
        client = openai.OpenAI(base_url=self.base + "/v1", api_key="unused", max_retries=0)
        return [client.chat.completions.with_raw_response.create(model="test/alpha", messages=MESSAGES)  # type: ignore[arg-type]
                .headers["x-request-id"] for _ in range(n)]

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


def listed_ids(gw: Serve, expected: list[str], timeout_s: float = 10.0) -> set[str]:
    """The ids GET /v1/requests lists, once `expected` are among them (or the time is up)."""
    deadline = time.monotonic() + timeout_s
    while True:
        resp = httpx.get(gw.base + "/v1/requests?limit=200", timeout=15)
        ids = {r["id"] for r in resp.json()["data"]} if resp.status_code == 200 else set()
        if set(expected) <= ids or time.monotonic() > deadline:
            return ids
        time.sleep(0.1)


def sample_list(families: dict[str, Any], name: str) -> list[Any]:
    return list(families[name].samples) if name in families else []


def scrape(base: str) -> dict[str, Any]:
    text = httpx.get(base + "/metrics", timeout=5).text
    return {f.name: f for f in text_string_to_metric_families(text)}


def test_one_scrape_shows_both_workers(tmp_path: Path, mock: MockThread) -> None:
    gw = Serve(tmp_path, mock, workers=2)
    try:
        gw.chat(20)  # new connections each: the kernel spreads them over both workers
        deadline = time.monotonic() + 10
        while True:
            families = scrape(gw.base)
            # each worker hands its tallies over every 2 s, so a family may not be there yet
            workers = {s.labels["worker"] for s in sample_list(families, "switchyard_in_flight")}
            attempts = sum(s.value for s in sample_list(families, "switchyard_attempts") if s.name.endswith("_total"))
            if (workers == {"0", "1"} and attempts == 20) or time.monotonic() > deadline:
                break
            time.sleep(0.3)  # each worker refreshes its gauges every 2 s, whichever the scrape reaches
        assert workers == {"0", "1"}
        assert attempts == 20  # summed over both workers, whichever answered the scrape
        requests = sum(s.value for s in families["gen_ai_server_request_duration_seconds"].samples if s.name.endswith("_count"))
        assert requests == 20
        for family in families.values():
            for sample in family.samples:
                assert "pid" not in sample.labels
    finally:
        gw.stop()


def stored(url: str | None, data_dir: Path) -> list[dict[str, Any]]:
    async def read() -> list[dict[str, Any]]:
        store = Store.create(backend_for(str(data_dir), url))
        await store.start()
        try:
            page, _ = await store.list_records(RequestFilter(), Page(limit=200))
            return page
        finally:
            await store.close()

    return asyncio.run(read())


def test_sigterm_writes_out_the_queue(tmp_path: Path, mock: MockThread) -> None:
    # a batch window far longer than the test: only the shutdown flush can write these records
    gw = Serve(tmp_path, mock, extra={"log": {"batch_interval_ms": 600_000, "batch_rows": 100_000}})
    ids = gw.chat(12)
    assert gw.stop() == 0
    assert sorted(r["id"] for r in stored(None, tmp_path / "data")) == sorted(ids)


def test_two_gateways_write_one_postgres(tmp_path: Path, mock: MockThread, postgres: PostgresCluster) -> None:
    url = postgres.new_database()
    one = Serve(tmp_path, mock, extra={"store": {"url": url}})
    two = Serve(tmp_path, mock, extra={"store": {"url": url}})
    try:
        ids = one.chat(3) + two.chat(4)
        for gw in (one, two):
            deadline = time.monotonic() + 5
            while True:
                listed = {r["id"] for r in httpx.get(gw.base + "/v1/requests?limit=200", timeout=5).json()["data"]}
                if set(ids) <= listed or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            assert set(ids) <= listed
    finally:
        one.stop()
        two.stop()
    assert len(stored(url, tmp_path)) == 7


def test_sigkill_loses_at_most_the_last_batch_window(tmp_path: Path, mock: MockThread) -> None:
    gw = Serve(tmp_path, mock, extra={"log": {"batch_interval_ms": 200}})
    written = gw.chat(10)
    time.sleep(0.6)  # more than one batch window: these are on disk
    gw.proc.kill()
    gw.proc.wait(10)
    assert set(written) <= {r["id"] for r in stored(None, tmp_path / "data")}


def test_answers_go_on_while_postgres_is_down(tmp_path: Path, mock: MockThread) -> None:
    cluster = PostgresCluster().init()  # its own cluster: this test stops it
    gw = Serve(tmp_path, mock, extra={"store": {"url": cluster.new_database()}})
    try:
        before = gw.chat(3)
        listed_ids(gw, before)  # written before the outage (a read writes out the queue first)
        cluster.stop()
        during = gw.chat(5)  # every answer still arrives
        deadline = time.monotonic() + 15
        while httpx.get(gw.base + "/health", timeout=5).json()["log"] != "degraded" and time.monotonic() < deadline:
            time.sleep(0.2)
        assert httpx.get(gw.base + "/health", timeout=5).json()["log"] == "degraded"
        assert httpx.get(gw.base + "/v1/requests", timeout=15).status_code == 503
        cluster.start()
        deadline = time.monotonic() + 20
        while True:  # writing resumes by itself: a new request's record shows up
            after = gw.chat(1)
            listed = httpx.get(gw.base + "/v1/requests?limit=200", timeout=15)
            if listed.status_code == 200 and set(after) <= {r["id"] for r in listed.json()["data"]}:
                break
            assert time.monotonic() < deadline, listed.text
            time.sleep(0.5)
        ids = {r["id"] for r in listed.json()["data"]}
        assert set(before) <= ids
        lost = set(during) - ids  # the outage's records: dropped, and counted
        dropped = sum(s.value for s in sample_list(scrape(gw.base), "switchyard_log_dropped") if s.name.endswith("_total"))
        assert lost and dropped >= len(lost)
    finally:
        gw.stop()
        cluster.destroy()
