"""Throughput at c=64 with everything on (request log, metrics, a virtual key with rpm, tpm,
max_parallel and a budget, limits in Redis) against the same build with keys off and against the
bare forwarder, in one interleaved run (bench.compare's harness: the same fast mock, pinning and
load generator).

    python -m bench.limits_throughput            # ~2 min: table and bench/results/limits_throughput.json
    python -m bench.limits_throughput --smoke    # seconds: checks the harness works

Reports requests/s per contender and the median of per-round ratios: keys-on / keys-off and
keys-on / forwarder (the issue's target: at least 0.8x the forwarder).
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

from bench.compare import FAST_KNOBS, SMOKE, UPSTREAM_KEY, Harness, Profile, cpu_layout, free_port

ROOT = Path(__file__).resolve().parent.parent
ADMIN = "sk-bench-admin-0123456789"
NAMES = ("forwarder", "switchyard", "switchyard+keys")


def start_redis(tmp: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--save", "", "--appendonly", "no", "--dir", str(tmp)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.3)
    return proc, f"redis://127.0.0.1:{port}/0"


def issue_key(base: str) -> str:
    body = json.dumps({"name": "bench", "rpm": 10_000_000, "tpm": 10_000_000_000, "max_parallel": 100_000,
                       "budget_usd": 1_000_000, "budget_period": "month"}).encode()
    req = urllib.request.Request(base + "/v1/keys", data=body, method="POST", headers={
        "Authorization": f"Bearer {ADMIN}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return str(json.loads(resp.read())["key"])


def run(args: argparse.Namespace) -> dict[str, Any]:
    profile = Profile(rounds=args.rounds, slice_s=args.slice_s, stream_concurrency=1, stream_rate=1.0, rate_steps=0,
                      rate_step_s=0.0, hold_streams=0, hold_s=0.0, contenders=("direct", "forwarder", "switchyard"))
    h = Harness(args, profile)
    redis_proc, redis_url = start_redis(h.tmp)
    try:
        h.start_mock()
        h.set_knobs(FAST_KNOBS)
        h.start_contenders()
        port = free_port()
        # its own store: a virtual key in a shared one would turn auth on for the keys-off gateway too
        env = dict(os.environ, BENCH_KEY=UPSTREAM_KEY, SWITCHYARD_ADMIN_KEYS=ADMIN, SWITCHYARD_STATE__REDIS_URL=redis_url,
                   SWITCHYARD_STORE__DATA_DIR=str(h.tmp / "keyed-data"))
        h.launch("switchyard+keys", [sys.executable, "-m", "proxy", "serve", "--config", str(h.switchyard_config()),
                                     "--port", str(port)], env=env, api_key=ADMIN)
        keyed = h.contenders["switchyard+keys"]
        if not h.wait_ready(keyed, 30.0):
            raise SystemExit("bench.limits_throughput: the keyed gateway did not start")
        keyed.api_key = issue_key(f"http://127.0.0.1:{port}")
        rps: dict[str, list[float]] = {n: [] for n in NAMES}
        errors: dict[str, int] = dict.fromkeys(NAMES, 0)
        for r in range(profile.rounds):
            turn = NAMES[r % 3:] + NAMES[: r % 3]
            for name in turn:
                res = h.loadgen(h.contenders[name], "--concurrency", "64", "--warmup", "0.5", seconds=profile.slice_s)
                rps[name].append(float(res["rps"]))
                errors[name] += int(res.get("errors") or 0)
                print(f"round {r + 1} {name:>16}: {res['rps']:8.0f} req/s, {res.get('errors')} errors", flush=True)
    finally:
        h.close()
        redis_proc.kill()
        redis_proc.wait()
    ratio = {
        "keys_on_over_keys_off": round(statistics.median(k / s for k, s in zip(rps["switchyard+keys"], rps["switchyard"],
                                                                               strict=True)), 3),
        "keys_on_over_forwarder": round(statistics.median(k / f for k, f in zip(rps["switchyard+keys"], rps["forwarder"],
                                                                                strict=True)), 3),
    }
    return {"rps_median": {n: round(statistics.median(v), 1) for n, v in rps.items()}, "rps": rps, "errors": errors,
            "ratios_median_of_rounds": ratio}


def main() -> None:
    gateway_cpus, aux_cpus = cpu_layout(os.cpu_count() or 2)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--slice-s", type=float, default=4.0)
    parser.add_argument("--gateway-cpus", default=gateway_cpus)
    parser.add_argument("--aux-cpus", default=aux_cpus)
    parser.add_argument("--mock-procs", type=int, default=1)
    parser.add_argument("--skip", nargs="*", default=[])
    args = parser.parse_args()
    if args.smoke:
        args.rounds, args.slice_s = SMOKE.rounds, SMOKE.slice_s
    result = run(args)
    for name, value in result["rps_median"].items():
        print(f"{name:>16}: {value:8.0f} req/s (median of {args.rounds} rounds at c=64)")
    for name, value in result["ratios_median_of_rounds"].items():
        print(f"{name}: {value}x")
    out = ROOT / "bench" / "results" / ("limits_throughput_smoke.json" if args.smoke else "limits_throughput.json")
    out.write_text(json.dumps({"bench": "limits_throughput", "rounds": args.rounds, "slice_s": args.slice_s, **result},
                              indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
