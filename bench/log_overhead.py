"""What the request log and metrics cost: throughput with them on, off, and through a bare forwarder.

    python -m bench.log_overhead             # ~2 min: 5 interleaved rounds at c=64
    python -m bench.log_overhead --quick     # seconds: CI's smoke form

Three contenders in front of one fast mock (bench.compare's harness, same pinning): `switchyard` as
shipped (log, metrics and access log on), `switchyard-off` (log.enabled, server.metrics and
server.access_log false) and the bare aiohttp `forwarder`. They take turns in short slices; each round
gives on/off and on/forwarder throughput ratios, and the figures are the median of the per-round ratios.
Targets: on/off >= 0.9, on/forwarder >= 0.8.

Then the cost per request in microseconds, measured in this process with the gateway's own objects:
the on_finish hook (an Outcome with a fallback turned into a record, queued, metrics observed) on the
request path, and the writer's share (serialising and inserting the record into SQLite) off it.

Writes bench/results/log_overhead.json (log_overhead_quick.json with --quick).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
from tqdm import tqdm

from bench.compare import FAST_KNOBS, FULL, SMOKE, UPSTREAM_KEY, Harness, cpu_layout, free_port

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
CONTENDERS = ("switchyard", "switchyard-off", "forwarder")


def start(h: Harness) -> None:
    h.start_mock()
    h.launch("forwarder", [sys.executable, "-m", "bench.forwarder", "--upstream", f"http://127.0.0.1:{h.mock_port}",
                           "--port", str(free_port())], api_key=UPSTREAM_KEY)
    base = h.switchyard_config()
    env = dict(os.environ, BENCH_KEY=UPSTREAM_KEY)
    for name, extra in (("switchyard", ""), ("switchyard-off", "log: {enabled: false}\n")):
        config = h.tmp / f"{name}.yaml"
        text = base.read_text()
        if extra:
            text = text.replace("server: {", "server: {metrics: false, access_log: false, ") + extra
        config.write_text(text)
        h.launch(name, [sys.executable, "-m", "proxy", "serve", "--config", str(config), "--port", str(free_port()),
                        "--workers", "1"], env=env)
    for name in CONTENDERS:
        if not h.wait_ready(h.contenders[name], timeout_s=30.0):
            raise SystemExit(f"log_overhead: {name} did not start")


def cpu_seconds(c: Any) -> float:
    total = 0.0
    for p in c.processes():
        try:
            t = p.cpu_times()
        except psutil.Error:
            continue
        total += t.user + t.system
    return total


def throughput(h: Harness, rounds: int, slice_s: float) -> dict[str, Any]:
    """rps per contender per round, and the gateway processes' own CPU time per answered request, which
    a busy shared machine disturbs far less than throughput (another process's load steals wall time,
    not this one's CPU time)."""
    h.set_knobs(FAST_KNOBS)
    per_round: list[dict[str, float]] = []
    cpu_us: dict[str, list[float]] = {n: [] for n in CONTENDERS}
    with tqdm(total=rounds * len(CONTENDERS), desc="c=64", unit="slice", file=sys.stderr) as bar:
        for r in range(rounds):
            order = CONTENDERS[r % 3:] + CONTENDERS[: r % 3]
            rps = {}
            for name in order:
                c = h.contenders[name]
                before = cpu_seconds(c)
                res = h.loadgen(c, "--concurrency", "64", "--warmup", "0.5", seconds=slice_s)
                # the warm-up's requests are not in res["ok"]: count them in at the measured rate
                served = res["ok"] * (slice_s + 0.5) / slice_s
                cpu_us[name].append((cpu_seconds(c) - before) / max(1.0, served) * 1e6)
                rps[name] = res["rps"]
                bar.update(1)
            per_round.append(rps)
    on_off = [r["switchyard"] / r["switchyard-off"] for r in per_round]
    on_fwd = [r["switchyard"] / r["forwarder"] for r in per_round]
    cpu = {n: round(statistics.median(v), 1) for n, v in cpu_us.items()}
    return {"rounds": per_round, "on_over_off": round(statistics.median(on_off), 3),
            "on_over_forwarder": round(statistics.median(on_fwd), 3),
            "rps_median": {n: round(statistics.median(r[n] for r in per_round)) for n in CONTENDERS},
            "cpu_us_per_request": cpu, "cpu_us_per_request_rounds": cpu_us,
            "log_cpu_us_per_request": round(cpu["switchyard"] - cpu["switchyard-off"], 1),
            "cpu_bound_on_over_off": round(cpu["switchyard-off"] / cpu["switchyard"], 3)}


def a_finished_outcome() -> Any:
    """A streamed answer that fell back once, as the pipeline leaves it."""
    from proxy.outcome import Outcome

    o = Outcome("0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "openai_chat")
    o.client_request_id, o.key, o.model_requested, o.stream = "client-1", "team-a", "bench/model", True
    o.tags = {"feature": "search"}
    o.model, o.provider, o.finish_reason, o.ttft_ms = "bench/model", "m2", "stop", 12.5
    o.usage = {"prompt_tokens": 812, "completion_tokens": 221, "prompt_tokens_details": {"cached_tokens": 0},
               "cost_usd": 0.00424}
    first = o.begin_attempt("bench/model", "m1")
    first.outcome, first.status, first.error, first.duration_ms, first.cost_usd = "http_503", 503, "busy", 3.0, 0.0
    second = o.begin_attempt("bench/model", "m2")
    second.outcome, second.status, second.ttft_ms, second.duration_ms, second.cost_usd = "ok", 200, 9.0, 40.0, 0.00424
    o.status, o.http_status, o.duration_ms = "ok", 200, 45.0
    return o


async def per_request_cost(n: int) -> dict[str, float]:
    from proxy.metrics import Metrics
    from proxy.observability import RequestLog
    from proxy.store import Store, backend_for
    from proxy.store.base import record_row
    from proxy.store.outcome_record import record_of

    outcome = a_finished_outcome()
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.create(backend_for(tmp, None), queue_max=n + 1, interval_s=3600, batch_rows=n + 1)
        await store.start()
        hook = RequestLog(store, Metrics(), access_log=False)
        t0 = time.perf_counter()
        for _ in range(n):
            hook.finish(outcome)
        hook_us = (time.perf_counter() - t0) / n * 1e6
        rec = record_of(outcome)
        t0 = time.perf_counter()
        rows = [record_row(rec) for _ in range(n)]
        serialise_us = (time.perf_counter() - t0) / n * 1e6
        store.writer._queue.clear()
        t0 = time.process_time()
        for i in range(0, n, 500):
            await store.backend.insert_records([(f"{k}-{r[0]}",) + r[1:] for k, r in enumerate(rows[i:i + 500], start=i)])
        insert_cpu_us = (time.process_time() - t0) / n * 1e6
        await store.close()
    return {"on_finish_hook_us": round(hook_us, 2), "writer_serialise_us": round(serialise_us, 2),
            "writer_insert_cpu_us": round(insert_cpu_us, 2),
            "total_cpu_us": round(hook_us + serialise_us + insert_cpu_us, 2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--slice-s", type=float, default=4.0)
    args = parser.parse_args()
    gateway_cpus, aux_cpus = cpu_layout(os.cpu_count() or 1)
    hargs = argparse.Namespace(gateway_cpus=gateway_cpus, aux_cpus=aux_cpus, mock_procs=1, skip=[])
    rounds, slice_s = (1, 0.8) if args.quick else (args.rounds, args.slice_s)
    h = Harness(hargs, SMOKE if args.quick else FULL)
    try:
        start(h)
        result: dict[str, Any] = {"load_before": os.getloadavg(), "throughput_c64": throughput(h, rounds, slice_s)}
    finally:
        h.close()
    result["per_request"] = asyncio.run(per_request_cost(2_000 if args.quick else 50_000))
    result["load_after"] = os.getloadavg()
    t, c = result["throughput_c64"], result["per_request"]
    print(f"c=64 rps (median of {rounds} rounds): " + ", ".join(f"{k} {v}" for k, v in t["rps_median"].items()))
    print(f"log+metrics on / off: {t['on_over_off']:.3f}x (target >= 0.9); on / bare forwarder: "
          f"{t['on_over_forwarder']:.3f}x (target >= 0.8)")
    print(f"gateway CPU per request: on {t['cpu_us_per_request']['switchyard']} us, off "
          f"{t['cpu_us_per_request']['switchyard-off']} us: the log and metrics cost {t['log_cpu_us_per_request']} us "
          f"(a CPU-bound gateway at {t['cpu_bound_on_over_off']:.3f}x)")
    print(f"in-process profile: {c['on_finish_hook_us']} us on the request path (record, queue, metrics); "
          f"{c['writer_serialise_us']} us serialising + {c['writer_insert_cpu_us']} us CPU inserting in the writer")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / ("log_overhead_quick.json" if args.quick else "log_overhead.json")
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
