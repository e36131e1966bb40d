"""Throughput at c=64 with everything on (request log, metrics, a virtual key with rpm, tpm,
max_parallel and a budget, limits in Redis) against the same build with keys off, the same key with
in-process limits (no Redis), and the bare forwarder, in one interleaved run on bench.compare's
harness (the same fast mock, pinning and load generator).

    python -m bench.limits_throughput            # ~2 min: table and bench/results/limits_throughput.json
    python -m bench.limits_throughput --smoke    # seconds: checks the harness works
    python -m bench.limits_throughput --before /tmp/switchyard-main   # also that tree's keys-on, same run

Reports requests/s and cpu us per request per contender, and medians of per-round ratios: keys-on /
keys-off and keys-on / forwarder in requests/s (issue 13's target: at least 0.8x the forwarder), and
keys-off / keys-on in cpu per request (the same question, less swayed by the neighbours' load).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from tqdm import tqdm

from bench import report
from bench.compare import cpu_layout
from bench.contenders import Contender, ContenderSpec, free_port
from bench.harness import ROOT, Harness, pinned
from bench.scenarios import FAST_KNOBS, SMOKE, closed_loop

ADMIN = "sk-bench-admin-0123456789"
KEYS_ON, KEYS_OFF, BEFORE = "switchyard+keys", "switchyard", "switchyard+keys@before"
KEYS_LOCAL = "switchyard+keys-local"  # the same key with in-process limits: one gateway, no Redis
# Limits far above what the bench can reach: every check runs, none refuses.
KEY_LIMITS = {"name": "bench", "rpm": 10_000_000, "tpm": 10_000_000_000, "max_parallel": 100_000,
              "budget_usd": 1_000_000, "budget_period": "month"}


def start_redis(tmp: Path, cpus: str) -> tuple[subprocess.Popen[bytes], str]:
    """Redis on the aux cpus, beside the mock: unpinned, it ran on the gateways' cpu too, and each
    wake-up of it could preempt the gateway in the middle of a write (seen as ms-long stalls)."""
    port = free_port()
    argv = ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no", "--dir", str(tmp)]
    proc = subprocess.Popen(pinned(cpus, argv), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.3)
    return proc, f"redis://127.0.0.1:{port}/0"


def issue_key(c: Contender) -> str:
    """A fresh virtual key from the keyed gateway's admin API (each keyed contender has its own store)."""
    req = urllib.request.Request(c.origin + "/v1/keys", data=json.dumps(KEY_LIMITS).encode(), method="POST", headers={
        "Authorization": f"Bearer {ADMIN}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return str(json.loads(resp.read())["key"])


def specs(redis_url: str, before: Path | None) -> list[ContenderSpec]:
    # Each Switchyard runs in its own scratch dir, so its request log and key store are its own: a virtual
    # key in a shared store would turn auth on for the keys-off gateway too.
    keyed_env = {"SWITCHYARD_ADMIN_KEYS": ADMIN, "SWITCHYARD_STATE__REDIS_URL": redis_url}
    out = [ContenderSpec("forwarder", "forwarder"), ContenderSpec(KEYS_OFF, "switchyard"),
           ContenderSpec(KEYS_ON, "switchyard", env=dict(keyed_env)),
           ContenderSpec(KEYS_LOCAL, "switchyard", env={"SWITCHYARD_ADMIN_KEYS": ADMIN})]
    if before is not None:
        out.append(ContenderSpec(BEFORE, "switchyard", env=dict(keyed_env), checkout=before.resolve()))
    return out


def start(h: Harness, wanted: list[ContenderSpec]) -> None:
    """Start every contender; the keyed ones answer the readiness probe with the admin key, then get a virtual key."""
    for spec in wanted:
        h.start(spec)
        if spec.env.get("SWITCHYARD_ADMIN_KEYS"):
            h.contenders[spec.name].api_key = ADMIN
    for name, c in h.contenders.items():
        if not h.wait_ready(c, 30.0):
            tail = c.log_path.read_text(errors="replace")[-800:] if c.log_path else ""
            raise SystemExit(f"bench.limits_throughput: {name} did not start: {tail}")
        if c.api_key == ADMIN:
            c.api_key = issue_key(c)


def median_ratio(a: list[float], b: list[float]) -> float:
    return round(statistics.median(x / y for x, y in zip(a, b, strict=True)), 3)


def run(args: argparse.Namespace) -> dict[str, Any]:
    h = Harness(args, rounds=args.rounds, slice_s=args.slice_s)
    redis_proc, redis_url = start_redis(h.tmp, args.aux_cpus)
    try:
        h.start_mock()
        h.set_knobs(FAST_KNOBS)
        start(h, specs(redis_url, args.before))
        with tqdm(total=len(h.contenders) * h.rounds, desc="c=64", unit="slice", file=sys.stderr, dynamic_ncols=True) as bar:
            slices = h.interleaved("c=64", closed_loop(h, 64, "0.5"), bar)
    finally:
        h.close()
        redis_proc.kill()
        redis_proc.wait()
    rps = {n: [float(r["rps"]) for r in s.results] for n, s in slices.items()}
    errors = {n: sum(int(r.get("errors") or 0) for r in s.results) for n, s in slices.items()}
    cpu_us = {n: report.cpu_per_request(s.results) for n, s in slices.items()}
    # cpu per request, round by round: what each request costs the gateway, whatever share of the
    # machine it got in that slice (throughput on a shared machine swings with its neighbours' load)
    cpu_rounds = {n: [1e6 * r["cpu_s"] / max(1, r["ok"]) for r in s.results] for n, s in slices.items()}
    ratios = {"keys_on_over_keys_off": median_ratio(rps[KEYS_ON], rps[KEYS_OFF]),
              "keys_on_over_forwarder": median_ratio(rps[KEYS_ON], rps["forwarder"]),
              "keys_off_over_forwarder": median_ratio(rps[KEYS_OFF], rps["forwarder"]),
              "keys_local_over_keys_off": median_ratio(rps[KEYS_LOCAL], rps[KEYS_OFF])}
    ratios["cpu_keys_off_over_keys_on"] = median_ratio(cpu_rounds[KEYS_OFF], cpu_rounds[KEYS_ON])
    ratios["cpu_keys_off_over_keys_local"] = median_ratio(cpu_rounds[KEYS_OFF], cpu_rounds[KEYS_LOCAL])
    if BEFORE in rps:
        ratios["keys_on_over_before"] = median_ratio(rps[KEYS_ON], rps[BEFORE])
        ratios["before_over_keys_off"] = median_ratio(rps[BEFORE], rps[KEYS_OFF])
        ratios["cpu_keys_off_over_before"] = median_ratio(cpu_rounds[KEYS_OFF], cpu_rounds[BEFORE])
    return {"rps_median": {n: round(statistics.median(v), 1) for n, v in rps.items()}, "rps": rps, "errors": errors,
            "cpu_us_per_request": cpu_us, "ratios_median_of_rounds": ratios,
            "before_checkout": str(args.before) if args.before else None}


def main() -> None:
    gateway_cpus, aux_cpus = cpu_layout(os.cpu_count() or 2)
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="one short round: checks the harness, not the figures")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--slice-s", type=float, default=4.0)
    parser.add_argument("--gateway-cpus", default=gateway_cpus)
    parser.add_argument("--aux-cpus", default=aux_cpus)
    parser.add_argument("--mock-procs", type=int, default=1)
    parser.add_argument("--before", type=Path, default=None,
                        help="another Switchyard tree (Rust module built): its keys-on gateway joins the same rounds")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    if args.smoke:
        args.rounds, args.slice_s = SMOKE.rounds, max(SMOKE.slice_s, 1.0)
    result = run(args)
    for name, value in result["rps_median"].items():
        print(f"{name:>24}: {value:8.0f} req/s, {report.fmt(result['cpu_us_per_request'][name], 0):>7} cpu us/request, "
              f"{result['errors'][name]} errors (median of {args.rounds} rounds at c=64)")
    for name, value in result["ratios_median_of_rounds"].items():
        print(f"{name}: {value}x")
    out = args.out or ROOT / "bench" / "results" / ("limits_throughput_smoke.json" if args.smoke else "limits_throughput.json")
    out.write_text(json.dumps({"bench": "limits_throughput", "rounds": args.rounds, "slice_s": args.slice_s,
                               "load1_after": os.getloadavg()[0], **result}, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
