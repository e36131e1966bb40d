"""The request log on SQLite: the writer's sustained rate, and list-query latency on a big log.

1. Writer: `--writer-records` realistic records (a fallback attempt, an `auto` route receipt with
   candidates, tags) go through the real path, `Store.log()` onto the bounded queue and the batching
   writer into a fresh WAL database, submitted as fast as the queue takes them. Reports records/s
   (target >= 10,000) and how many were dropped (should be 0).
2. Lists: the log is filled to `--records` rows (default 1,000,000; rows are inserted in 5,000-row
   transactions straight through the back end, which is the writer's own insert), then the newest
   page (50 records) is timed unfiltered and filtered by model, by status and by key, each the
   median and p95 of `--repeats` runs through `list_records` (query + JSON decode). Target < 50 ms.

Writes bench/results/log_bench.json (or log_bench_quick.json with --quick, a seconds-long CI smoke).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from proxy.store import AttemptRecord, Page, RequestFilter, RequestRecord, RouteReceipt, Store, Usage
from proxy.store.base import record_row
from proxy.store.sqlite import SQLiteBackend

RESULTS = Path(__file__).parent / "results"
MODELS = [f"vendor-{i}/model-{j}" for i in range(8) for j in range(4)]  # 32 models
PROVIDERS = ["openai", "azure", "anthropic", "google", "together", "groq", "deepinfra", "openrouter"]
KEYS = [f"team-{i}" for i in range(20)]
STATUSES = ["ok"] * 94 + ["error"] * 3 + ["partial"] + ["cancelled"] * 2


def uuid7(ts_ms: int) -> str:
    """A UUIDv7: 48 bits of Unix ms, then random bits, as the gateway's x-request-id."""
    value = (ts_ms << 80) | random.getrandbits(80)
    value = (value & ~(0xF << 76)) | (0x7 << 76)
    value = (value & ~(0x3 << 62)) | (0x2 << 62)
    return str(uuid.UUID(int=value))


def make_record(rng: random.Random, ts_ms: int) -> RequestRecord:
    model, provider = rng.choice(MODELS), rng.choice(PROVIDERS)
    status = rng.choice(STATUSES)
    attempts = []
    if rng.random() < 0.05:
        attempts.append(AttemptRecord(model, rng.choice(PROVIDERS), "http_503", 503, "Service unavailable", 0.3, None, 41.0, 0.0))
    attempts.append(AttemptRecord(model, provider, "ok" if status == "ok" else "stream_error", 200, None, 1.2,
                                  rng.uniform(150, 900), rng.uniform(500, 6000), 0.0021))
    auto = rng.random() < 0.3
    route = RouteReceipt(
        "balanced", round(rng.random(), 3), "highest score within the cost budget",
        [{"model": m, "provider": p, "predicted_quality": 0.8, "estimated_cost_usd": 0.002,
          "estimated_latency_ms": 400.0, "score": 0.7} for m, p in zip(rng.sample(MODELS, 4), rng.sample(PROVIDERS, 4))],
        {"code": 0.1, "math": 0.0, "reasoning": 0.3, "length": 812},
    ) if auto else None
    return RequestRecord(
        id=uuid7(ts_ms), ts_ms=ts_ms, api="chat.completions", model_requested="auto" if auto else model,
        status=status, key=rng.choice(KEYS), tags={"feature": rng.choice(["search", "chat", "summarise"])},
        model=model, provider=provider, stream=True, http_status=200, ttft_ms=attempts[-1].ttft_ms,
        duration_ms=attempts[-1].duration_ms + 1.0,
        usage=Usage(prompt_tokens=rng.randint(50, 4000), completion_tokens=rng.randint(10, 800), cost_usd=0.0021),
        attempts=attempts, route=route,
    )


async def writer_rate(data_dir: str, n: int) -> dict[str, float]:
    store = Store.create(SQLiteBackend(data_dir), queue_max=10_000)
    await store.start()
    rng = random.Random(1)
    now = int(time.time() * 1000)
    records = [make_record(rng, now - n + i) for i in range(n)]
    t0 = time.perf_counter()
    for rec in records:
        while store.writer.depth >= store.writer.queue_max:  # a full queue: let the writer catch up
            await asyncio.sleep(0.001)
        store.log(rec)
    await store.writer.flush(timeout=600)
    elapsed = time.perf_counter() - t0
    written, dropped = store.writer.written, store.writer.dropped
    await store.close()
    return {"records": n, "seconds": round(elapsed, 3), "records_per_s": round(n / elapsed), "written": written,
            "dropped": dropped}


async def fill(backend: SQLiteBackend, n: int) -> float:
    """n records, newest now, one per ~2.6 ms (a month at 1M), in 5,000-row transactions."""
    rng = random.Random(2)
    now = int(time.time() * 1000)
    step = max(1, 30 * 86_400_000 // max(n, 1) // 1000)
    t0 = time.perf_counter()
    batch: list[tuple[Any, ...]] = []
    for i in range(n):
        batch.append(record_row(make_record(rng, now - (n - i) * step)))
        if len(batch) == 5_000:
            await backend.insert_records(batch)
            batch = []
    if batch:
        await backend.insert_records(batch)
    return time.perf_counter() - t0


async def list_latency(backend: SQLiteBackend, repeats: int) -> dict[str, dict[str, float]]:
    cases = {
        "unfiltered": RequestFilter(),
        "by_model": RequestFilter(model=MODELS[3]),
        "by_status": RequestFilter(status="error"),
        "by_key": RequestFilter(key=KEYS[7]),
    }
    out = {}
    for name, flt in cases.items():
        await backend.list_records(flt, Page(limit=50))  # warm the page cache
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            data, _cursor = await backend.list_records(flt, Page(limit=50))
            times.append((time.perf_counter() - t0) * 1000)
            assert len(data) == 50
        times.sort()
        out[name] = {"p50_ms": round(statistics.median(times), 3), "p95_ms": round(times[int(0.95 * (len(times) - 1))], 3)}
    return out


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="switchyard-logbench-") as tmp:
        writer = await writer_rate(os.path.join(tmp, "writer"), args.writer_records)
        print(f"writer: {writer['records_per_s']:,} records/s ({writer['records']:,} records in {writer['seconds']} s, "
              f"{writer['dropped']} dropped)")
        backend = SQLiteBackend(os.path.join(tmp, "lists"))
        await backend.open()
        fill_s = await fill(backend, args.records)
        size_mb = (Path(tmp) / "lists" / "switchyard.db").stat().st_size / 1e6
        print(f"filled {args.records:,} records in {fill_s:.1f} s ({args.records / fill_s:,.0f}/s), file {size_mb:,.0f} MB")
        lists = await list_latency(backend, args.repeats)
        for name, r in lists.items():
            print(f"newest page {name:<11} p50 {r['p50_ms']:7.2f} ms   p95 {r['p95_ms']:7.2f} ms")
        await backend.close()
    return {"writer": writer, "lists": {"records": args.records, "page": 50, "fill_seconds": round(fill_s, 1),
                                        "file_mb": round(size_mb), "latency": lists}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a seconds-long smoke run")
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--writer-records", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()
    if args.quick:
        args.records, args.writer_records, args.repeats = 20_000, 10_000, 10
    report = asyncio.run(main_async(args))
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / ("log_bench_quick.json" if args.quick else "log_bench.json")
    meta = {"python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count(),
            "sqlite": __import__("sqlite3").sqlite_version}
    out.write_text(json.dumps({**meta, **report}, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
