"""What open consoles cost the gateway: c=64 throughput with and without 5 consoles on the Requests page.

    python -m bench.console_load            # ~2 min: 6 interleaved rounds, JSON in bench/results/
    python -m bench.console_load --smoke    # seconds: checks the harness works, not that anything is fast

Each console is simulated by an HTTP poller doing what the shipped page does (read from
proxy/console/static/pages/requests.js, so the bench follows the page): GET /v1/requests with the
page size and the look-back `since` every POLL_MS, and GET /health every 15 s. Within a round the two
conditions run as ABBA (or BAAB) slices; the figure is the median over rounds of the per-round ratio
of requests/s with consoles to without. The gateway, mock and load generator are the
ones bench/compare.py uses, pinned the same way.

On a shared machine that ratio is noisy, so each slice also records the gateway's CPU per request
served; the ratio of requests per CPU second, with over without, is what throughput does when the
gateway is CPU-bound, and is far steadier. The gateway's own CPU cost per poll is measured too, with
no other load and a full newest minute in the log (each poll then returns a whole page): idle CPU
against CPU with the consoles polling. Polls per second times that cost is the share of a core the
consoles take, which bounds what they can take from throughput.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import psutil

from bench.compare import cpu_layout
from bench.contenders import built_in
from bench.harness import ROOT, Harness
from bench.scenarios import FAST_KNOBS

REQUESTS_PAGE = ROOT / "proxy" / "console" / "static" / "pages" / "requests.js"
HEALTH_EVERY_S = 15.0  # app.js refreshes the header's health badge this often


@dataclass(frozen=True)
class ShippedPolling:
    poll_s: float
    lookback_s: int
    page: int


def shipped_polling(source: Path = REQUESTS_PAGE) -> ShippedPolling:
    text = source.read_text()

    def const(name: str) -> int:
        match = re.search(rf"\bconst {name} = ([\d_]+);", text)
        if match is None:
            raise SystemExit(f"bench.console_load: {source} no longer defines {name}")
        return int(match.group(1).replace("_", ""))

    return ShippedPolling(const("POLL_MS") / 1000.0, const("LOOKBACK_S"), const("PAGE"))


@dataclass
class PollStats:
    polls: int = 0
    records: int = 0  # records the polls returned: a busy log fills each page
    statuses: dict[int, int] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)

    def add(self, other: PollStats) -> None:
        self.polls += other.polls
        self.records += other.records
        self.latencies_ms += other.latencies_ms
        for status, n in other.statuses.items():
            self.statuses[status] = self.statuses.get(status, 0) + n


class Consoles:
    """N simulated consoles polling in a background thread with their own event loop."""

    def __init__(self, base: str, n: int, polling: ShippedPolling) -> None:
        self.base, self.n, self.polling = base, n, polling
        self.stats = PollStats()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._stop: asyncio.Event | None = None
        self._task: Any = None

    async def _console(self, session: aiohttp.ClientSession, offset: float, stop: asyncio.Event) -> None:
        await asyncio.sleep(offset)  # consoles opened at different moments do not poll in lockstep
        newest: str | None = None
        next_health = 0.0
        while not stop.is_set():
            started = time.perf_counter()
            params: dict[str, Any] = {"limit": self.polling.page}
            if newest:
                t = datetime.fromisoformat(newest.replace("Z", "+00:00")).timestamp()
                params["since"] = int(t) - self.polling.lookback_s
            async with session.get(self.base + "/v1/requests", params=params) as resp:
                body = await resp.read()
                self.stats.statuses[resp.status] = self.stats.statuses.get(resp.status, 0) + 1
                if resp.status == 200:
                    data = json.loads(body)["data"]
                    self.stats.records += len(data)
                    newest = max([newest or "", *(r["created_at"] for r in data)]) or None
            self.stats.polls += 1
            self.stats.latencies_ms.append((time.perf_counter() - started) * 1000)
            if time.monotonic() >= next_health:
                async with session.get(self.base + "/health") as resp:
                    await resp.read()
                next_health = time.monotonic() + HEALTH_EVERY_S
            try:
                await asyncio.wait_for(stop.wait(), self.polling.poll_s)
            except TimeoutError:
                pass

    async def _run(self) -> None:
        self._stop = asyncio.Event()
        async with aiohttp.ClientSession() as session:
            await asyncio.gather(*(self._console(session, i * self.polling.poll_s / self.n, self._stop) for i in range(self.n)))

    def __enter__(self) -> Consoles:
        self._thread.start()
        self._task = asyncio.run_coroutine_threadsafe(self._run(), self._loop)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._task.result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)


def cpu_seconds(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def isolated_poll_cost(pid: int, base: str, consoles: int, polling: ShippedPolling, seconds: float) -> dict[str, Any]:
    """The gateway's CPU per poll: CPU with `consoles` polling minus CPU idle, over as many polls.

    More consoles than the scenario's 5 so the process's 10 ms CPU clock sees enough polls."""
    start = cpu_seconds(pid)
    time.sleep(seconds)
    idle = cpu_seconds(pid) - start
    with Consoles(base, consoles, polling) as c:
        time.sleep(polling.poll_s)  # every console has made its first (cold) poll
        polls_before, records_before, start = c.stats.polls, c.stats.records, cpu_seconds(pid)
        time.sleep(seconds)
        busy, polls = cpu_seconds(pid) - start, c.stats.polls - polls_before
        records = c.stats.records - records_before
    per_poll_ms = max(0.0, busy - idle) / polls * 1000 if polls else None
    return {"seconds": seconds, "consoles": consoles, "polls": polls, "records_per_poll": records / polls if polls else None,
            "idle_cpu_s": idle, "polling_cpu_s": busy, "cpu_ms_per_poll": per_poll_ms}


def run(args: argparse.Namespace) -> dict[str, Any]:
    polling = shipped_polling()
    h = Harness(argparse.Namespace(mock_procs=1, aux_cpus=args.aux_cpus, gateway_cpus=args.gateway_cpus, skip=[]),
                rounds=args.rounds, slice_s=args.slice_s)
    rounds: list[dict[str, Any]] = []
    poll_stats = PollStats()
    isolated: dict[str, Any] = {}
    try:
        h.start_mock()
        h.set_knobs(FAST_KNOBS)
        h.start_contenders([built_in("switchyard")])
        gateway = h.contenders.get("switchyard")
        if gateway is None:
            raise SystemExit(f"bench.console_load: the gateway did not start: {h.unavailable}")
        base = gateway.url.rsplit("/v1/", 1)[0]
        load = ["--concurrency", str(args.concurrency)]
        h.loadgen(gateway, *load, seconds=args.slice_s)  # warm-up, and a full newest minute in the log
        assert gateway.proc is not None
        isolated = isolated_poll_cost(gateway.proc.pid, base, 4 * args.consoles, polling, max(args.slice_s, 10.0))
        per_poll = isolated["cpu_ms_per_poll"]
        if per_poll is not None:  # what the scenario's consoles take: polls per second x CPU per poll
            isolated["core_share_pct"] = per_poll * args.consoles / polling.poll_s / 10
            print(f"isolated: {per_poll:.2f} ms of gateway CPU per poll; {args.consoles} consoles take "
                  f"{isolated['core_share_pct']:.2f}% of a core", flush=True)
        pid = gateway.proc.pid

        def measured_slice() -> tuple[float, float]:
            """requests/s, and the gateway's CPU microseconds per request served in the slice."""
            cpu0 = cpu_seconds(pid)
            rps = float(h.loadgen(gateway, *load, seconds=args.slice_s)["rps"])
            cpu = cpu_seconds(pid) - cpu0
            return rps, cpu / max(1.0, rps * args.slice_s) * 1e6

        for i in range(args.rounds):
            # ABBA (then BAAB): a machine getting busier or quieter within a round hits both alike
            order = ("without", "with", "with", "without") if i % 2 == 0 else ("with", "without", "without", "with")
            rps: dict[str, list[float]] = {"without": [], "with": []}
            cpu_us: dict[str, list[float]] = {"without": [], "with": []}
            for condition in order:
                if condition == "with":
                    with Consoles(base, args.consoles, polling) as consoles:
                        r, c = measured_slice()
                    poll_stats.add(consoles.stats)
                else:
                    r, c = measured_slice()
                rps[condition].append(r)
                cpu_us[condition].append(c)
            mean_rps = {k: statistics.fmean(v) for k, v in rps.items()}
            mean_cpu = {k: statistics.fmean(v) for k, v in cpu_us.items()}
            # requests per CPU second, with over without: what throughput does when the gateway is CPU-bound,
            # and far steadier than requests/s on a machine other jobs share
            result: dict[str, Any] = {
                **mean_rps, "ratio": mean_rps["with"] / mean_rps["without"] if mean_rps["without"] else None,
                "cpu_us_per_request": mean_cpu, "cpu_ratio": mean_cpu["without"] / mean_cpu["with"],
            }
            rounds.append(result)
            print(f"round {i + 1}/{args.rounds}: without {mean_rps['without']:.0f} req/s, with {mean_rps['with']:.0f} req/s, "
                  f"ratio {result['ratio']:.3f}; CPU per request {mean_cpu['without']:.0f} vs "
                  f"{mean_cpu['with']:.0f} us, ratio {result['cpu_ratio']:.3f}", flush=True)
    finally:
        h.close()
    ratios = [r["ratio"] for r in rounds if r["ratio"] is not None]
    lat = sorted(poll_stats.latencies_ms)
    return {
        "bench": "console_load",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "concurrency": args.concurrency,
        "consoles": args.consoles,
        "polling": polling.__dict__,
        "slice_s": args.slice_s,
        "rounds": rounds,
        "median_ratio": statistics.median(ratios) if ratios else None,
        "median_cpu_ratio": statistics.median(r["cpu_ratio"] for r in rounds) if rounds else None,
        "throughput_drop_pct": (1 - statistics.median(ratios)) * 100 if ratios else None,
        "isolated": isolated,
        "polls": poll_stats.polls,
        "records_per_poll": poll_stats.records / poll_stats.polls if poll_stats.polls else None,
        "poll_statuses": {str(k): v for k, v in sorted(poll_stats.statuses.items())},
        "poll_ms_p50": lat[len(lat) // 2] if lat else None,
        "poll_ms_max": lat[-1] if lat else None,
    }


def main() -> None:
    gateway_cpus, aux_cpus = cpu_layout(os.cpu_count() or 1)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="a few seconds: the harness works, nothing is measured")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--slice-s", type=float, default=3.0, help="seconds of load per slice (4 slices a round)")
    parser.add_argument("--consoles", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--gateway-cpus", default=gateway_cpus)
    parser.add_argument("--aux-cpus", default=aux_cpus)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    if args.smoke:
        args.rounds, args.slice_s = 1, 1.0
    report = run(args)
    missing = report["poll_statuses"].get("404")
    print(json.dumps({k: report[k] for k in ("median_ratio", "throughput_drop_pct", "median_cpu_ratio", "polls", "poll_statuses", "poll_ms_p50", "isolated")}))
    if missing:
        print("note: GET /v1/requests answered 404: this build has no request log, so the consoles polled nothing real")
    if not args.smoke:
        args.out.mkdir(parents=True, exist_ok=True)
        path = args.out / "console_load.json"
        path.write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
