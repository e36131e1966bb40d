"""Gateway replicas as a team runs them: separate `switchyard serve` processes on their own ports,
sharing one Redis and one PostgreSQL, in front of one mock upstream (in this process's thread)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from proxy.simulated.knobs import Knobs
from tests.pg_cluster import free_port
from tests.test_shutdown import MockThread

UPSTREAM_KEY = "sk-replica-upstream-0123456789"
ADMIN = "sk-replica-admin-0123456789"
ADMIN_AUTH = {"Authorization": f"Bearer {ADMIN}"}
# Free input and $312.50 per 1M output tokens: the mock answers 16 output tokens (8 chunks of 2), so a
# request with max_tokens=16 costs exactly $0.005, estimated and true alike.
PRICES = {"input": 0.0, "output": 312.5}
ANSWER_TOKENS = 16


class Replica:
    def __init__(self, proc: subprocess.Popen[str], port: int) -> None:
        self.proc = proc
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.client = httpx.Client(base_url=self.base, timeout=30)

    def post(self, path: str, body: Any, key: str | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return self.client.post(path, json=body, headers=headers)

    def stop(self) -> str:
        self.client.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.stdout.read() if self.proc.stdout else ""


class ReplicaSet:
    def __init__(self, tmp: Path, redis_url: str | None, store_url: str | None, *, state: dict[str, Any] | None = None,
                 knobs: dict[str, Any] | None = None, routing: dict[str, Any] | None = None) -> None:
        self.tmp = tmp
        self.mock = MockThread(Knobs(api_key=UPSTREAM_KEY, ttft_ms=1.0, tokens_per_s=20000.0, **(knobs or {})))
        config: dict[str, Any] = {
            "simulate": "never",
            "store": {"data_dir": str(tmp / "data"), **({"url": store_url} if store_url else {})},
            "log": {"batch_interval_ms": 50},
            "server": {"admin_keys": [{"name": "ops", "key": ADMIN}], "shutdown_grace_s": 2},
            "state": {**({"redis_url": redis_url} if redis_url else {}), "key_sync_ms": 300, **(state or {})},
            "routing": routing or {},
            "providers": {"p-one": {"base_url": self.mock.server.url + "/v1", "api_key_env": "REPLICA_UPSTREAM_KEY"}},
            "models": {"test/alpha": {"context_window": 32000, "max_output": 4096,
                                      "providers": {"p-one": {"id": "alpha-one", **PRICES}}}},
        }
        self.config_path = tmp / "switchyard.yaml"
        self.config_path.write_text(yaml.safe_dump(config))
        self.replicas: list[Replica] = []

    def start(self, n: int = 2, workers: int = 1) -> ReplicaSet:
        env = {**os.environ, "REPLICA_UPSTREAM_KEY": UPSTREAM_KEY}
        env.pop("SWITCHYARD_API_KEYS", None)
        for _ in range(n):
            port = free_port()
            args = [sys.executable, "-m", "proxy", "serve", "--config", str(self.config_path), "--port", str(port)]
            if workers > 1:
                args += ["--workers", str(workers)]
            proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            self.replicas.append(Replica(proc, port))
        for replica in self.replicas:
            wait_healthy(replica)
        return self

    def __getitem__(self, i: int) -> Replica:
        return self.replicas[i]

    def create_key(self, **fields: Any) -> tuple[str, str]:
        """(id, secret) of a new key, issued through the first replica."""
        r = self[0].client.post("/v1/keys", json=fields, headers=ADMIN_AUTH)
        assert r.status_code == 201, r.text
        return r.json()["id"], r.json()["key"]

    def stop(self) -> None:
        for replica in self.replicas:
            replica.stop()
        self.mock.stop()


def wait_healthy(replica: Replica, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(replica.base + "/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if replica.proc.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"gateway did not start: {replica.stop()}")
        time.sleep(0.05)
