"""Time the Rust scorer's `rank_providers` and `record` against the pure-Python reference.

Prints per-call p50/p99 in microseconds and the ratio; writes bench/results/scorer_bench.json.
`--quick` is a seconds-long smoke run for CI; it writes scorer_bench_quick.json instead, so a smoke
run never overwrites the full-run numbers. Each sample is the mean of a batch of 100 calls (a single
sub-microsecond call is below the clock's resolution), so p99 is over batch means.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from proxy._scorer import Scorer
from proxy.scorer_reference import ReferenceScorer

RESULTS = Path(__file__).parent / "results"
PROVIDERS = ["openai", "azure", "openrouter"]


def setup(scorer: Scorer | ReferenceScorer) -> None:
    for i, p in enumerate(PROVIDERS):
        scorer.register("openai/gpt-4o", p, 2.5 + i, 10.0)
        scorer.begin("openai/gpt-4o", p, now_ms=0.0)
        scorer.record("openai/gpt-4o", p, "ok", first_token_ms=100.0 + 10 * i, tokens_per_s=80.0, now_ms=0.0)


def time_rank(scorer: Scorer | ReferenceScorer, n: int, batch: int = 100) -> list[float]:
    """Per-call microseconds of rank_providers, called directly in a loop (no wrapper in the timing)."""
    factor: Literal["latency"] = "latency"
    rank, model, now = scorer.rank_providers, "openai/gpt-4o", 1.0
    out = []
    for _ in range(n // batch):
        t0 = time.perf_counter_ns()
        for _ in range(batch):
            rank(model, factor, now)
        out.append((time.perf_counter_ns() - t0) / batch / 1000.0)
    return out


def time_record(scorer: Scorer | ReferenceScorer, n: int, batch: int = 100) -> list[float]:
    record, model = scorer.record, "openai/gpt-4o"
    out = []
    for _ in range(n // batch):
        t0 = time.perf_counter_ns()
        for provider in PROVIDERS * (batch // 3):
            record(model, provider, "ok", 100.0, 80.0, None, 1.0)
        out.append((time.perf_counter_ns() - t0) / (3 * (batch // 3)) / 1000.0)
    return out


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000)[int(q * 1000) - 1] if len(values) > 1 else values[0]


def bench(n: int) -> dict[str, dict[str, float]]:
    rust, ref = Scorer(), ReferenceScorer()
    setup(rust)
    setup(ref)
    cases: dict[str, Callable[[Scorer | ReferenceScorer, int], list[float]]] = {
        "rank_providers": time_rank,
        "record": time_record,
    }
    report = {}
    for name, timer in cases.items():
        timer(rust, n // 10)  # warm-up
        timer(ref, n // 10)
        r, p = timer(rust, n), timer(ref, n)
        report[name] = {
            "rust_p50_us": statistics.median(r),
            "rust_p99_us": pct(r, 0.99),
            "python_p50_us": statistics.median(p),
            "python_p99_us": pct(p, 0.99),
            "ratio_p50": statistics.median(p) / statistics.median(r),
            "ratio_p99": pct(p, 0.99) / pct(r, 0.99),
        }
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a seconds-long smoke run")
    parser.add_argument("--calls", type=int, default=200_000)
    args = parser.parse_args()
    n = 10_000 if args.quick else args.calls
    report = bench(n)
    print(f"{'call':<16}{'rust p50':>10}{'rust p99':>10}{'py p50':>10}{'py p99':>10}{'ratio':>8}   (µs per call, {n} calls)")
    for name, r in report.items():
        print(f"{name:<16}{r['rust_p50_us']:>10.3f}{r['rust_p99_us']:>10.3f}{r['python_p50_us']:>10.3f}{r['python_p99_us']:>10.3f}{r['ratio_p50']:>7.1f}x")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / ("scorer_bench_quick.json" if args.quick else "scorer_bench.json")
    meta = {"calls": n, "providers": len(PROVIDERS), "python": platform.python_version(), "machine": platform.machine()}
    out.write_text(json.dumps({**meta, "results": report}, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
