"""`switchyard serve --workers 2`: one scrape of /metrics shows the whole server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from proxy.simulated.knobs import Knobs
from tests.pg_cluster import free_port
from tests.test_shutdown import MockThread

KEY = "sk-workers-test-0123456789"


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[tuple[str, MockThread]]:
    mock = MockThread(Knobs(api_key=KEY, ttft_ms=1.0, tokens_per_s=5000.0))
    port = free_port()
    config = {
        "simulate": "never",
        "store": {"data_dir": str(tmp_path / "data")},
        "log": {"batch_interval_ms": 20},
        "providers": {"p-one": {"base_url": mock.server.url + "/v1", "api_key_env": "WORKERS_TEST_KEY"}},
        "models": {"test/alpha": {"context_window": 32000, "max_output": 4096,
                                  "providers": {"p-one": {"id": "alpha-one", "input": 1.0, "output": 2.0}}}},
    }
    (tmp_path / "switchyard.yaml").write_text(yaml.safe_dump(config))
    env = {**os.environ, "WORKERS_TEST_KEY": KEY, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics")}
    proc = subprocess.Popen([sys.executable, "-m", "proxy", "serve", "--config", str(tmp_path / "switchyard.yaml"),
                             "--port", str(port), "--workers", "2"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(base + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"gateway did not start: {proc.stdout.read() if proc.stdout else ''}")
            time.sleep(0.1)
        yield base, mock
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        mock.stop()


def scrape(base: str) -> dict[str, Any]:
    text = httpx.get(base + "/metrics", timeout=5).text
    return {f.name: f for f in text_string_to_metric_families(text)}


def test_one_scrape_shows_both_workers(two_workers: tuple[str, MockThread]) -> None:
    base, _mock = two_workers
    deadline = time.monotonic() + 10
    workers: set[str] = set()
    while workers != {"0", "1"} and time.monotonic() < deadline:
        time.sleep(0.3)  # each worker refreshes its gauges every 2 s, whichever the scrape reaches
        families = scrape(base)
        workers = {s.labels["worker"] for s in families["switchyard_in_flight"].samples}
    assert workers == {"0", "1"}
    for family in families.values():
        for sample in family.samples:
            assert "pid" not in sample.labels  # counters and histograms are summed over workers
