"""The hot-path cost of virtual keys: key lookup plus limits, in µs per request.

Each request does what the gateway does for a key with rpm, tpm, max_parallel and a budget: look the
presented secret up (SHA-256, one dict get), admit it under its limits (reserve, count), then settle
it to its true cost. Three variants, timed in interleaved rounds so drift hits them alike:

- `lookup`: the key lookup alone (a key without limits costs only this);
- `local`: lookup + in-process limits (one process without Redis, or a worker of `--workers N`);
- `redis`: lookup + limits in Redis on loopback (one Lua call to admit, one to settle), as replicas do;
  `redis_admit`: the part before the answer (lookup + admit; settling happens after the answer ends);
  `redis_ping`: one bare PING on the same connection, the floor any Redis round trip pays here.

The settlement's durable write to the store is off the measured path here (it runs after the answer,
on its own task, in the gateway). Reports the median over rounds of each variant's mean µs/request,
and redis/local as the median of per-round ratios. Writes bench/results/limits_bench.json (or
limits_bench_quick.json with --quick, a seconds-long CI smoke).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from proxy.config import StateConfig
from proxy.keys.enforce import Enforcer
from proxy.keys.registry import KeyRegistry, secret_digest
from proxy.state.shared import SharedState
from proxy.store.keys import KeyRecord

RESULTS = Path(__file__).parent / "results"
SECRET = "sk-sy-bench-secret-0123456789abcdefghijklmnopqrstuv"
MESSAGES = [{"role": "user", "content": "Summarise the attached report in three bullet points." * 4}]


def bench_key(n_other_keys: int = 1000) -> KeyRegistry:
    """A registry holding the bench key among `n_other_keys` others, with generous limits (never refused)."""
    registry = KeyRegistry()
    for i in range(n_other_keys):
        registry.apply(KeyRecord(f"key_{i}", f"k{i}", secret_digest(f"other-{i}"), 1, 1))
    registry.apply(KeyRecord("key_bench", "bench", secret_digest(SECRET), 1, 1, rpm=10**9, tpm=10**12,
                             max_parallel=10**6, budget_nusd=10**15, budget_period="month"))
    return registry


def start_redis() -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--save", "", "--appendonly", "no",
                             "--dir", tempfile.mkdtemp(prefix="limits-bench-")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            break
        except OSError:
            time.sleep(0.02)
    return proc, f"redis://127.0.0.1:{port}/0"


async def one_request(registry: KeyRegistry, enforcer: Enforcer | None, settle: bool = True) -> None:
    rec = registry.identify(SECRET)
    assert rec is not None
    if enforcer is None:
        return
    adm = await enforcer.admit(rec, prompt_tokens=60, max_tokens=200, prices=(2.5, 10.0))
    assert adm is not None
    if settle:
        await enforcer.settle(adm, 60, 180, 0.00195)
    else:
        adm.settled = True  # (the window and parallel slots fill; the bench key's limits never refuse)


async def timed(n: int, step: Callable[[], Awaitable[None]]) -> float:
    start = time.perf_counter()
    for _ in range(n):
        await step()
    return (time.perf_counter() - start) / n * 1e6


async def run(rounds: int, per_round: int, with_redis: bool) -> dict[str, Any]:
    registry = bench_key()
    local_state = SharedState(StateConfig())
    local = Enforcer(registry, local_state)
    variants: dict[str, Callable[[], Awaitable[None]]] = {
        "lookup": lambda: one_request(registry, None),
        "local": lambda: one_request(registry, local),
    }
    proc = None
    redis_state = None
    if with_redis:
        proc, url = start_redis()
        redis_state = SharedState(StateConfig(redis_url=url))
        await redis_state.start()
        remote = Enforcer(registry, redis_state)
        client = redis_state.client
        assert client is not None

        async def ping() -> None:
            await client.ping()

        variants["redis_admit"] = lambda: one_request(registry, remote, settle=False)
        variants["redis"] = lambda: one_request(registry, remote)
        variants["redis_ping"] = ping
    try:
        for step in variants.values():  # warm up: scripts loaded, connections open
            await timed(200, step)
        samples: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(rounds):
            for name, step in variants.items():
                samples[name].append(await timed(per_round, step))
    finally:
        if redis_state is not None:
            await redis_state.close()
        if proc is not None:
            proc.kill()
            proc.wait()
    out: dict[str, Any] = {name: {"us_per_request_median": round(statistics.median(v), 2),
                                  "us_per_request_min": round(min(v), 2)} for name, v in samples.items()}
    if "redis" in samples:
        out["redis_over_local_ratio"] = round(statistics.median(
            r / lo for r, lo in zip(samples["redis"], samples["local"], strict=True)), 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--per-round", type=int, default=5000)
    parser.add_argument("--quick", action="store_true", help="a seconds-long smoke run (CI)")
    args = parser.parse_args()
    rounds, per_round = (3, 300) if args.quick else (args.rounds, args.per_round)
    with_redis = shutil.which("redis-server") is not None
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    result = asyncio.run(run(rounds, per_round, with_redis))
    report = {"bench": "limits", "rounds": rounds, "per_round": per_round, "python": platform.python_version(),
              "machine": platform.machine(), "results": result}
    for name in ("lookup", "local", "redis_admit", "redis", "redis_ping"):
        if name in result:
            print(f"{name:>7}: {result[name]['us_per_request_median']:8.1f} µs/request (median of {rounds} rounds)")
    if "redis_over_local_ratio" in result:
        print(f"redis/local: {result['redis_over_local_ratio']}x (median of per-round ratios)")
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / ("limits_bench_quick.json" if args.quick else "limits_bench.json")
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
