"""Hedging bench: TTFT with and without hedged requests, against providers with a slow tail.

Two mock providers per gateway, each sending its first token after 300 ms for 95% of requests and
after 3 s for 5% (the mock's `slow_share` / `slow_ttft_ms` knobs: a provider's queue). Streaming
requests arrive at a fixed rate (open loop), in interleaved rounds against two gateways that differ
only in `routing.hedge.enabled` (delay: the live p95). TTFT is measured at the client: request sent
to the first body bytes (the gateway holds the opening frames until the first content).

    python bench/hedge_bench.py                       # 20 req/s, 2 minutes per mode; bench/results/hedge.json
    python bench/hedge_bench.py --seconds 20 --rounds 2 --out /tmp/h.json --check   # CI's smoke form

Reports p50/p95/p99 TTFT per mode, the median over rounds of the p99 ratio, and the share of extra
upstream calls (upstream requests the mocks saw per client request, minus one).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from proxy.simulated.knobs import Knobs  # noqa: E402
from proxy.simulated.openai_mock import create_openai_mock  # noqa: E402
from proxy.simulated.server import MockServer  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "hedge.json"
FIGURE = ROOT / "bench" / "results" / "hedge.png"
MODEL = "bench/tail"
TAIL_KNOBS = {"ttft_ms": 300.0, "slow_share": 0.05, "slow_ttft_ms": 3000.0, "tokens_per_s": 2000.0, "chunks": 6}
MODES = ("off", "hedge")


class Side:
    """One gateway with its own two mock providers."""

    def __init__(self, mode: str, runner: Any, gateway: Any, port: int, mocks: list[MockServer]) -> None:
        self.mode, self.runner, self.gateway, self.port, self.mocks = mode, runner, gateway, port, mocks
        self.ttft_ms: list[float] = []
        self.requests = 0
        self.failures = 0

    @property
    def upstream_calls(self) -> int:
        return sum(m.context.counters.requests for m in self.mocks)

    async def stop(self) -> None:
        await self.runner.cleanup()
        for mock in self.mocks:
            await mock.stop()


async def start_side(mode: str, seed: int) -> Side:
    from aiohttp import web

    from proxy.app import create_app
    from proxy.appkeys import GATEWAY
    from proxy.config import load_settings

    mocks = [await MockServer.start(create_openai_mock(Knobs(seed=seed + i, **TAIL_KNOBS), name=f"tail-{i}"))
             for i in range(2)]
    providers = {f"tail-{i}": {"base_url": m.url + "/v1", "api_key_env": "HEDGE_BENCH_KEY"} for i, m in enumerate(mocks)}
    models = {MODEL: {"context_window": 32000, "max_output": 1024,
                      "providers": {name: {"id": "tail-model", "input": 1.0, "output": 2.0} for name in providers}}}
    hedge = {"enabled": mode == "hedge", "delay": "p95"}
    settings = load_settings(None, environ={}, overrides={
        "simulate": "never", "providers": providers, "models": models, "routing": {"hedge": hedge}})
    app = create_app(settings, environ={"HEDGE_BENCH_KEY": "sk-bench-0000"})
    runner = web.AppRunner(app, handler_cancellation=True, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=4096)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return Side(mode, runner, app[GATEWAY], port, mocks)


async def one_request(session: aiohttp.ClientSession, side: Side, sink: list[float] | None) -> None:
    body = orjson.dumps({"model": MODEL, "messages": [{"role": "user", "content": "tail"}], "stream": True})
    started = time.perf_counter()
    try:
        async with session.post(f"http://127.0.0.1:{side.port}/v1/chat/completions", data=body,
                                headers={"content-type": "application/json"}) as resp:
            first = await resp.content.readany()
            ttft = (time.perf_counter() - started) * 1000.0
            await resp.read()
            if resp.status != 200 or not first:
                side.failures += 1
                return
    except aiohttp.ClientError:
        side.failures += 1
        return
    if sink is not None:
        sink.append(ttft)


async def open_loop(session: aiohttp.ClientSession, side: Side, rate: float, seconds: float, record: bool) -> list[float]:
    """`rate` requests a second for `seconds`, each sent on schedule whatever the others are doing."""
    sink: list[float] = []
    tasks: list[asyncio.Task[None]] = []
    start = time.perf_counter()
    for i in range(int(rate * seconds)):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(one_request(session, side, sink if record else None)))
    await asyncio.gather(*tasks)
    return sink


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


SLOW_MS = 1000.0  # a first token slower than this came from the tail (the usual one comes in ~300 ms)


def summary(values: list[float]) -> dict[str, float]:
    return {"p50": round(pct(values, 0.5), 1), "p95": round(pct(values, 0.95), 1), "p99": round(pct(values, 0.99), 1),
            "max": round(max(values), 1), "slow_share": round(sum(v > SLOW_MS for v in values) / len(values), 4)}


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    sides = {mode: await start_side(mode, args.seed + 10 * k) for k, mode in enumerate(MODES)}
    per_round: list[dict[str, Any]] = []
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
            for side in sides.values():  # warm the scorer: the p95 needs 20 samples per provider
                await open_loop(session, side, args.rate, args.warmup, record=False)
            calls_before = {mode: side.upstream_calls for mode, side in sides.items()}
            for r in range(args.rounds):
                row: dict[str, Any] = {}
                for mode in MODES if r % 2 == 0 else MODES[::-1]:
                    side = sides[mode]
                    ttft = await open_loop(session, side, args.rate, args.seconds / args.rounds, record=True)
                    side.ttft_ms += ttft
                    side.requests += int(args.rate * args.seconds / args.rounds)
                    row[mode] = summary(ttft)
                row["p99_ratio"] = round(row["off"]["p99"] / row["hedge"]["p99"], 2)
                per_round.append(row)
                print(f"round {r + 1}/{args.rounds}: p99 off {row['off']['p99']} ms, hedge {row['hedge']['p99']} ms")
            result: dict[str, Any] = {"rate_per_s": args.rate, "seconds_per_mode": args.seconds, "rounds": args.rounds,
                                      "provider_knobs": TAIL_KNOBS, "modes": {}, "per_round": per_round}
            for mode, side in sides.items():
                calls = side.upstream_calls - calls_before[mode]
                hedging = side.gateway.chat.hedging
                result["modes"][mode] = {
                    **summary(side.ttft_ms), "requests": side.requests, "failures": side.failures,
                    "upstream_calls": calls, "extra_calls_share": round(calls / side.requests - 1.0, 4),
                    "hedges": dict(hedging.counts) if hedging is not None else {},
                    "ttft_p95_ms_live": {s["provider"]: s["ttft_p95_ms"] for s in side.gateway.scorer.all_stats()},
                }
            if args.plot is not None:
                plot_ttft({mode: side.ttft_ms for mode, side in sides.items()}, args.plot)
            result["p99_ratio_median"] = statistics.median(r["p99_ratio"] for r in per_round)
            result["p99_ratio_overall"] = round(result["modes"]["off"]["p99"] / result["modes"]["hedge"]["p99"], 2)
            return result
    finally:
        for side in sides.values():
            await side.stop()


def plot_ttft(samples: dict[str, list[float]], path: Path) -> None:
    """The TTFT distributions' tails: share of requests slower than x, log-scaled."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for mode, label in (("off", "no hedging"), ("hedge", "hedging at the live p95")):
        values = sorted(samples[mode])
        n = len(values)
        ax.step(values, [1.0 - i / n for i in range(n)], where="post", label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_ylim(1.0 / max(len(v) for v in samples.values()), 1.0)
    ax.set_xlabel("time to first token (ms)")
    ax.set_ylabel("share of requests slower")
    ax.set_title("Two providers, 5% of first tokens after 3 s; 20 req/s")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def print_table(r: dict[str, Any]) -> None:
    print(f"\n{r['rate_per_s']:.0f} req/s, {r['seconds_per_mode']:.0f} s per mode, {r['rounds']} interleaved rounds")
    print(f"{'mode':<8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}{'extra calls':>13}")
    for mode, m in r["modes"].items():
        print(f"{mode:<8}{m['p50']:>9.0f}{m['p95']:>9.0f}{m['p99']:>9.0f}{m['max']:>9.0f}{m['extra_calls_share']:>12.1%}")
    print(f"p99 cut: {r['p99_ratio_overall']}x overall, {r['p99_ratio_median']}x median of per-round ratios")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--seconds", type=float, default=120.0, help="measured seconds per mode, over all rounds")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds per mode before measuring")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--plot", type=Path, default=None, help=f"write the TTFT tail figure (e.g. {FIGURE.name})")
    parser.add_argument("--check", action="store_true",
                        help="exit 1 unless hedging at least halves the share of first tokens slower than 1 s, for "
                             "<= 10%% extra calls and no failures (a short run has too few samples for its p99)")
    args = parser.parse_args(argv)
    result = asyncio.run(bench(args))
    print_table(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    if args.check:
        hedge = result["modes"]["hedge"]
        off = result["modes"]["off"]
        print(f"slower than {SLOW_MS:.0f} ms: off {off['slow_share']:.1%}, hedge {hedge['slow_share']:.1%}")
        ok = (hedge["slow_share"] * 2 <= off["slow_share"] and off["slow_share"] > 0
              and hedge["extra_calls_share"] <= 0.10 and hedge["failures"] == 0)
        print("check:", "ok" if ok else "FAILED")
        return 0 if ok else 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
