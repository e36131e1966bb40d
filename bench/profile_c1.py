"""Where a contender's cpu goes per request at c=1: py-spy on the process while wrk drives it.

    python -m bench.profile_c1                        # forwarder and switchyard, paced mock, non-streaming
    python -m bench.profile_c1 --stream --seconds 20  # streams (bench.loadgen at c=1) instead of wrk
    python -m bench.profile_c1 --instant --contenders switchyard

Same layout as bench.compare (contenders on --gateway-cpus, the mock and the load on --aux-cpus, all
under SCHED_FIFO unless --no-realtime; py-spy itself runs unprivileged on the aux cpus). py-spy drops
samples of an idle thread, so samples count cpu time: at `--rate` Hz one sample is 1e6/rate us, and
samples / requests x that is a function's cpu per request. The table lists functions by their own time
and by the time spent inside them (callees included); JSON and py-spy's raw stacks go to bench/results/.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.compare import cpu_layout
from bench.contenders import ContenderSpec, built_in
from bench.harness import ROOT, Harness, pinned
from bench.scenarios import FAST_KNOBS, PACED_CHUNKS, PACED_GAP_MS, PACED_KNOBS

HOPS_DIR = Path(__file__).resolve().parent / "hops"


def py_spy() -> str:
    exe = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(exe).exists():
        raise SystemExit("bench.profile_c1: py-spy is not installed (pip install py-spy)")
    return exe


def frame_name(frame: str) -> str:
    """`answer_chat (proxy/api/chat.py:41)` -> `answer_chat (proxy/api/chat.py)`: one row per function, not per line."""
    name, _, where = frame.partition(" (")
    return f"{name} ({where.rsplit(':', 1)[0].rstrip(')')})" if where else name


def tally(raw: str) -> tuple[int, collections.Counter[str], collections.Counter[str]]:
    """(samples, own samples per function, inclusive samples per function) from py-spy's raw output."""
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [frame_name(f) for f in stack.split(";") if f and not f.startswith("process ")]
        if not frames:
            continue
        total += count
        own[frames[-1]] += count
        for name in set(frames):
            inclusive[name] += count
    return total, own, inclusive


def suffix(args: argparse.Namespace) -> str:
    return (("-hops" if args.hops else "") + (f"-c{args.concurrency}" if args.concurrency != 1 else "")
            + ("-stream" if args.stream else "") + ("-instant" if args.instant else "") + (f"-{args.label}" if args.label else ""))


def profile_one(h: Harness, name: str, args: argparse.Namespace, out_dir: Path) -> dict[str, Any]:
    c = h.contenders[name]
    assert c.proc is not None
    raw_path = out_dir / f"profile_c1{suffix(args)}-{name}.txt"
    # above the real-time load (SCHED_FIFO 1), or py-spy would sample only when the mock and wrk sleep
    spy_prefix = ["chrt", "-f", "2"] if h.load_prefix else []
    spy = subprocess.Popen(spy_prefix + pinned(args.aux_cpus, [py_spy(), "record", "-p", str(c.proc.pid), "-r", str(args.rate),
                                                 "-d", str(int(args.seconds) + 2), "-f", "raw", "-o", str(raw_path),
                                                 "--nonblocking"]),
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)  # py-spy attaches
    if args.stream:
        extra = ["--concurrency", str(args.concurrency), "--stream", "--pace-ms", str(PACED_GAP_MS), "--expect-chunks", str(PACED_CHUNKS)]
        result = h.loadgen(c, *extra, seconds=args.seconds)
    else:
        result = h.wrk(c, args.concurrency, args.seconds)
    _, err = spy.communicate(timeout=60)
    if not raw_path.exists():
        raise SystemExit(f"bench.profile_c1: py-spy wrote nothing for {name}: {err[-400:]}")
    samples, own, inclusive = tally(raw_path.read_text())
    requests = max(1, int(result["ok"]))
    us_per_sample = 1e6 / args.rate

    def per_request(counter: collections.Counter[str]) -> list[tuple[str, float]]:
        return [(fn, n * us_per_sample / requests) for fn, n in counter.most_common(args.top)]

    return {"contender": name, "requests": requests, "samples": samples, "rate_hz": args.rate,
            "sampled_cpu_us_per_request": samples * us_per_sample / requests,
            "cpu_us_per_request": result["cpu_s"] / requests * 1e6, "p50_ms": result.get("p50"),
            "own_us_per_request": per_request(own), "inclusive_us_per_request": per_request(inclusive),
            "raw": str(raw_path.relative_to(ROOT))}


def hops_load(h: Harness, name: str, args: argparse.Namespace) -> dict[str, Any]:
    """Load only: the contender itself times its hops (bench/hops/sitecustomize.py)."""
    c = h.contenders[name]
    if args.stream:
        extra = ["--concurrency", "1", "--stream", "--pace-ms", str(PACED_GAP_MS), "--expect-chunks", str(PACED_CHUNKS)]
        result = h.loadgen(c, *extra, seconds=args.seconds)
    else:
        result = h.wrk(c, 1, args.seconds)
    return {"contender": name, "requests": int(result["ok"]), "cpu_us_per_request": result["cpu_s"] / max(1, result["ok"]) * 1e6}


def print_hops(p: dict[str, Any]) -> None:
    hops = p["hops"]
    cells = " | ".join(f"{hops[k]['p50']:.0f} ({hops[k]['p25']:.0f}-{hops[k]['p75']:.0f})" if k in hops else "-"
                       for k in ("request_us", "first_us", "last_us", "ttft_us", "upstream_answer_us",
                                 "upstream_content_us"))
    print(f"| {p['contender']} | {hops['requests']} | {cells} | {p['cpu_us_per_request']:.0f} |")


def print_profile(p: dict[str, Any]) -> None:
    print(f"\n## {p['contender']}: {p['requests']} requests, {p['cpu_us_per_request']:.0f} us of cpu per request "
          f"(process times); {p['samples']} samples at {p['rate_hz']} Hz, {p['sampled_cpu_us_per_request']:.0f} us per request")
    for title, key in (("own time", "own_us_per_request"), ("inclusive (callees too)", "inclusive_us_per_request")):
        print(f"\n| function ({title}) | us per request |\n|---|---|")
        for fn, us in p[key]:
            print(f"| `{fn}` | {us:.1f} |")


def main(argv: list[str] | None = None) -> int:
    gateway_cpus, aux_cpus = cpu_layout(os.cpu_count() or 1)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--contenders", nargs="*", default=["forwarder", "switchyard"])
    parser.add_argument("--checkout", action="append", default=[], metavar="NAME:PATH",
                        help="also Switchyard from another tree (its Rust module built), e.g. before:/tmp/switchyard-1ce115a")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--rate", type=int, default=1000, help="py-spy samples per second")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--stream", action="store_true", help="c=1 streams (TTFT path) instead of non-streaming wrk")
    parser.add_argument("--instant", action="store_true", help="the mock answers at once instead of paced")
    parser.add_argument("--no-realtime", action="store_true")
    parser.add_argument("--concurrency", type=int, default=1,
                        help="py-spy mode only: wrk connections (or streams); above 1, pass --no-realtime too")
    parser.add_argument("--marks", default="", help="with --hops: module:name,... whose entry and exit each contender records, "
                                                        "e.g. proxy.relay:relay_stream,aiohttp.web_response:StreamResponse.prepare")
    parser.add_argument("--hops", action="store_true",
                        help="instead of py-spy: time each hop inside the contender (bench/hops, bench/hop_report.py)")
    parser.add_argument("--gateway-cpus", default=gateway_cpus)
    parser.add_argument("--aux-cpus", default=aux_cpus)
    parser.add_argument("--label", default="")
    args = parser.parse_args(argv)
    args.mock_procs = 1
    out_dir = ROOT / "bench" / "results"
    h = Harness(args, rounds=1, slice_s=args.seconds)
    specs = [built_in(n) for n in args.contenders]
    for text in args.checkout:  # Switchyard from another tree, profiled the same way
        name, _, tree = text.partition(":")
        specs.append(ContenderSpec(name, "switchyard", checkout=Path(tree).resolve()))
    names = [s.name for s in specs]
    if args.hops:
        for spec in specs:
            spec.env |= {"PYTHONPATH": str(HOPS_DIR), "BENCH_HOPS_OUT": str(h.tmp / f"hops-{spec.name}.json")}
            if args.marks:  # marks a contender lacks (proxy.* in the forwarder) are skipped with a note
                spec.env["BENCH_HOPS_MARKS"] = args.marks
    profiles = []
    try:
        h.start_mock()
        h.start_contenders([built_in("direct"), *specs])
        h.set_knobs(FAST_KNOBS if args.instant else PACED_KNOBS)
        with h.realtime(not args.no_realtime):
            for name in names:
                profiles.append(hops_load(h, name, args) if args.hops else profile_one(h, name, args, out_dir))
    finally:
        h.close()  # a contender writes its hop summary as it exits
    if args.hops:
        print("\n| contender | requests | request path us p50 (p25-p75) | first token's way | last bytes' way "
              "| in to first content out | upstream: sent to first bytes | first bytes to content | cpu us/request |"
              "\n|---|---|---|---|---|---|---|---|---|")
    for p in profiles:
        if args.hops:
            p["hops"] = json.loads((h.tmp / f"hops-{p['contender']}.json").read_text())
            print_hops(p)
            for span, column in (("request", 1), ("first", 2)):
                for mark, offset in p["hops"].get(f"{span}_marks_us", {}).items():
                    print(f"|   {mark} |{' |' * column} +{offset:.0f} us |{' |' * (7 - column)}")
        else:
            print_profile(p)
    path = out_dir / f"profile_c1{suffix(args)}.json"
    path.write_text(json.dumps({"started": time.strftime("%Y-%m-%d %H:%M:%S"), "load1": os.getloadavg()[0],
                                "args": {k: v for k, v in vars(args).items()}, "profiles": profiles}, indent=1))
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
