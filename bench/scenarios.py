"""bench.compare's scenarios: what the mock does and what load each contender gets, in turn.

    c1, c64, c256      non-streaming, closed loop (bench.loadgen), the mock answering at once
    c1-wrk             c=1 non-streaming with wrk (a C client), the mock answering at once
    c1-wrk-paced       the same with the mock paced like a real upstream (5 ms to the first token, 2 ms a chunk)
    ttft-paced         c=1 streams against the paced mock: time to first token (bench.loadgen)
    stream, stream-open  64-chunk streams, closed loop and at a fixed arrival rate: TTFT, gaps, stalls
    held, rate, scaling  RSS with many open streams, highest sustained rate, 1 and 2 workers on all cpus
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tqdm import tqdm

from bench import report, wrk_client

if TYPE_CHECKING:
    from bench.contenders import Contender
    from bench.harness import Harness

# Non-streaming answers come at once so only the path through each contender is measured.
FAST_KNOBS = {"ttft_ms": 0.0, "chunks": 8, "tokens_per_chunk": 1, "tokens_per_s": 0.0}
# Like a real upstream: the first token after 5 ms, then a chunk every 2 ms; bench.fast_mock holds a
# non-streaming answer until its last chunk would have come (5 + 8 x 2 ms).
PACED_TTFT_MS, PACED_GAP_MS, PACED_CHUNKS = 5.0, 2.0, 8
PACED_KNOBS = {"ttft_ms": PACED_TTFT_MS, "chunks": PACED_CHUNKS, "tokens_per_chunk": 1, "tokens_per_s": 1000.0 / PACED_GAP_MS}
# Streams: 64 content chunks at a fixed pace after a fixed first-token delay.
STREAM_PACE_MS = 10.0
STREAM_KNOBS = {"ttft_ms": 20.0, "chunks": 64, "tokens_per_chunk": 1, "tokens_per_s": 1000.0 / STREAM_PACE_MS}
# Held streams: slow enough that 1,000 of them stay open while RSS is read.
HOLD_KNOBS = {"ttft_ms": 0.0, "chunks": 64, "tokens_per_chunk": 1, "tokens_per_s": 2.0}

SCENARIOS = ("c1", "c1-wrk", "c1-wrk-paced", "ttft-paced", "c64", "c256", "stream", "stream-open", "held", "rate", "scaling")
# Named sets for --only: `overhead` is issue 10's comparison (c=1 ratios and c=64 throughput).
GROUPS = {"overhead": ("c1", "c1-wrk", "c1-wrk-paced", "ttft-paced", "c64")}
C1_ROWS = ("c1-wrk", "c1-wrk-paced", "ttft-paced")


@dataclass
class Profile:
    """How long and how hard a run is."""

    rounds: int
    slice_s: float  # one contender's turn in one round
    stream_concurrency: int
    stream_rate: float  # open loop: new streams per second
    rate_steps: int  # open-loop steps in the sustained-rate search
    rate_step_s: float
    hold_streams: int
    hold_s: float
    contenders: tuple[str, ...]
    concurrencies: tuple[int, ...] = (1, 64, 256)
    scaling: bool = True  # also compare 1 and 2 workers with every cpu available


FULL = Profile(rounds=7, slice_s=3.0, stream_concurrency=32, stream_rate=40.0, rate_steps=6, rate_step_s=4.0, hold_streams=1000,
               hold_s=4.0, contenders=("direct", "forwarder", "switchyard", "litellm", "switchyard-2w"))
SMOKE = Profile(rounds=1, slice_s=0.4, stream_concurrency=8, stream_rate=10.0, rate_steps=1, rate_step_s=0.8, hold_streams=100,
                hold_s=1.0, contenders=("direct", "forwarder", "switchyard", "switchyard-2w"),
                concurrencies=(1, 64), scaling=False)


def wanted_scenarios(only: str) -> set[str]:
    if not only:
        return set(SCENARIOS)
    out: set[str] = set()
    for name in only.split(","):
        if name in GROUPS:
            out |= set(GROUPS[name])
        elif name in SCENARIOS:
            out.add(name)
        else:
            raise SystemExit(f"bench.compare: unknown scenario {name!r}; pick from {', '.join(SCENARIOS)} or {', '.join(GROUPS)}")
    return out


def held_names(h: Harness) -> list[str]:
    return [name for name in ("switchyard", "switchyard-2w", "forwarder") if name in h.contenders]


def scaling_possible(h: Harness, profile: Profile) -> bool:
    return profile.scaling and (os.cpu_count() or 1) > 1 and {"switchyard", "switchyard-2w"} <= set(h.contenders)


def planned_steps(h: Harness, profile: Profile, wanted: set[str]) -> int:
    n = len(h.contenders)
    loads = [f"c{c}" for c in profile.concurrencies] + ["stream", "stream-open", *C1_ROWS]
    total = sum(n * h.rounds for name in loads if name in wanted)
    total += n * profile.rate_steps if "rate" in wanted else 0
    total += len(held_names(h)) if "held" in wanted else 0
    total += 2 * h.rounds if "scaling" in wanted and scaling_possible(h, profile) else 0
    return total


def summarised(slices: dict[str, Any]) -> dict[str, Any]:
    return {k: report.summarise(s) for k, s in slices.items()}


def closed_loop(h: Harness, concurrency: int, warmup: str) -> Callable[[Contender], dict[str, Any]]:
    extra = ["--concurrency", str(concurrency), "--warmup", warmup]
    return lambda c: h.loadgen(c, *extra, seconds=h.slice_s)


def run_c1_rows(h: Harness, wanted: set[str], out: dict[str, Any], bar: tqdm) -> None:
    """The c=1 rows of issue 10: wrk against the instant and the paced mock, and streaming TTFT against the paced one."""
    seconds = h.slice_s
    if wrk_client.WRK is None and wanted & {"c1-wrk", "c1-wrk-paced"}:
        h.warnings.append("wrk is not installed (apt-get install -y wrk): the c1-wrk rows were not run")
        wanted = wanted - {"c1-wrk", "c1-wrk-paced"}
    if "c1-wrk" in wanted:
        h.set_knobs(FAST_KNOBS)
        out["scenarios"]["c1-wrk"] = summarised(h.interleaved("c=1 wrk", lambda c: h.wrk(c, 1, seconds), bar))
    h.set_knobs(PACED_KNOBS)
    if "c1-wrk-paced" in wanted:
        out["scenarios"]["c1-wrk-paced"] = summarised(h.interleaved("c=1 wrk, paced mock", lambda c: h.wrk(c, 1, seconds), bar))
    if "ttft-paced" in wanted:
        extra = ["--concurrency", "1", "--stream", "--pace-ms", str(PACED_GAP_MS), "--expect-chunks", str(PACED_CHUNKS),
                 "--warmup", "0.3"]
        out["scenarios"]["ttft-paced"] = summarised(
            h.interleaved("c=1 stream TTFT, paced mock", lambda c: h.loadgen(c, *extra, seconds=seconds), bar))


def run_scenarios(h: Harness, profile: Profile, wanted: set[str], out: dict[str, Any], bar: tqdm, warmup: str,
                  realtime: bool = False) -> None:
    """Every wanted scenario in turn, each one interleaving the contenders; results go into `out`.
    The c=1 rows come first, under SCHED_FIFO when `realtime` (see Harness.realtime)."""
    with h.realtime(realtime):
        h.set_knobs(FAST_KNOBS)
        if "c1" in wanted:
            out["scenarios"]["c1"] = summarised(h.interleaved("c=1", closed_loop(h, 1, warmup), bar))
        run_c1_rows(h, wanted, out, bar)
    h.set_knobs(FAST_KNOBS)
    for conc in profile.concurrencies:
        if conc > 1 and f"c{conc}" in wanted:
            out["scenarios"][f"c{conc}"] = summarised(h.interleaved(f"c={conc}", closed_loop(h, conc, warmup), bar))
    h.set_knobs(STREAM_KNOBS)
    stream = ["--stream", "--pace-ms", str(STREAM_PACE_MS), "--expect-chunks", str(STREAM_KNOBS["chunks"])]
    if "stream" in wanted:
        extra = ["--concurrency", str(profile.stream_concurrency), *stream]
        out["scenarios"]["stream"] = summarised(h.interleaved("stream", lambda c: h.loadgen(c, *extra, seconds=h.slice_s), bar))
    if "stream-open" in wanted:  # the same streams at a fixed arrival rate: starts do not come in bursts
        open_extra = ["--rate", str(profile.stream_rate), "--timeout", "10", *stream]
        out["scenarios"]["stream-open"] = summarised(
            h.interleaved("stream-open", lambda c: h.loadgen(c, *open_extra, seconds=h.slice_s), bar))
    if "held" in wanted:
        h.set_knobs(HOLD_KNOBS)
        for name in held_names(h):
            bar.set_postfix_str(f"{profile.hold_streams} open streams · {name}")
            out["held_streams"][name] = h.held_streams(h.contenders[name], profile.hold_streams, profile.hold_s)
            bar.update(1)
            time.sleep(0.5)
    h.set_knobs(FAST_KNOBS)
    if "rate" in wanted:
        top = out["scenarios"].get(f"c{profile.concurrencies[-1]}", {})
        for name, c in list(h.contenders.items()):
            start = 0.6 * top[name]["rps"] if name in top else 200.0
            out["max_rate"][name] = h.sustained_rate(c, start, profile.rate_steps, profile.rate_step_s, bar)
    if "scaling" in wanted and scaling_possible(h, profile):
        bar.set_postfix_str("starting 1 and 2 workers on every cpu")
        pair = h.start_scaling_pair()
        if len(pair) == 2:
            conc = profile.concurrencies[-1]
            slices = h.interleaved(f"c{conc} all cpus", closed_loop(h, conc, warmup), bar, names=pair)
            out["scaling"] = {"scenario": f"c{conc}", "cpus": f"0-{(os.cpu_count() or 1) - 1}", "rows": summarised(slices)}
