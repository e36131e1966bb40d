"""Switchyard side by side with direct-to-mock, a bare aiohttp forwarder and LiteLLM, in one interleaved run.

    python -m bench.compare            # everything (~25 min): table, bench/results/<date>.json and .png
    python -m bench.compare --only overhead --skip litellm switchyard-2w --label before
                                       # issue 10's ratios (~8 min): c=1 with wrk and the paced mock, c=64
    python -m bench.compare --smoke    # seconds: checks the harness works, not that anything is fast
    python -m bench.compare --only c64 --skip litellm switchyard-2w --variant logs-on=logs_on.yaml
                                       # Switchyard as configured in logs_on.yaml against Switchyard as it is
    python -m bench.compare --only overhead --skip litellm switchyard-2w --realtime --held-forwarder
                                       # + --variant before --variant-checkout before:/tmp/switchyard-main:
                                       # issue 10's ratios, main and this tree in one run, and what holding
                                       # a stream's headers to its first token costs by itself
    python -m bench.compare --only overhead --skip litellm switchyard-2w --realtime --parsing-forwarder
                                       # + the floor: a forwarder that parses and re-encodes the request and
                                       # every answer (model name, usage cost), as any gateway must

One mock upstream (bench/fast_mock.py) and every contender run at once; contenders are pinned to the same
cpus (`--gateway-cpus`), the mock and the load (bench/loadgen.py, or wrk for the c=1 non-streaming rows)
to the others (`--aux-cpus`). Within a scenario the contenders take turns in short slices over several
rounds, so a change in the machine's load hits all of them alike. Added latency is a contender's
percentile minus direct's in the same round; each round gives a ratio to the forwarder, and the report
quotes the median of those per-round ratios (bench/report.py). Contenders, variants and sidecars:
bench/contenders.py; scenarios: bench/scenarios.py.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from tqdm import tqdm

from bench import report, scenarios
from bench.contenders import BUILT_IN, Slice, specs_from_args
from bench.harness import ROOT, TASKSET, Harness
from bench.scenarios import FULL, SMOKE

__all__ = ["Slice", "cpu_layout", "main", "run"]


def cpu_layout(nproc: int) -> tuple[str, str]:
    """(gateway cpus, mock+loadgen cpus): the upper half for contenders, the rest for everything else."""
    if nproc < 2:
        return "0", "0"
    half = max(1, nproc // 2)
    return f"{nproc - half}-{nproc - 1}" if half > 1 else str(nproc - 1), f"0-{nproc - half - 1}" if nproc - half > 1 else "0"


def machine_load() -> dict[str, float]:
    one, five, fifteen = os.getloadavg()
    return {"load1": one, "load5": five, "load15": fifteen}


HELD_FORWARDER = "forwarder-held"
PARSING_FORWARDER = "forwarder-parsing"


def forwarder_contender(name: str, flag: str) -> str:
    """--contender text for bench/forwarder.py in one of its modes: `--hold-headers` (a stream's headers
    held to its first content) or `--parse` (the request and every answer parsed and re-encoded)."""
    return (f"{name}={shlex.quote(sys.executable)} -m bench.forwarder --upstream {{upstream}} --port {{port}} "
            f"{flag}")


def run(args: argparse.Namespace) -> dict[str, Any]:
    profile = SMOKE if args.smoke else FULL
    names = [n for n in profile.contenders if n not in args.skip]
    if args.held_forwarder:
        args.contender = [*args.contender, forwarder_contender(HELD_FORWARDER, "--hold-headers")]
    if args.parsing_forwarder:
        args.contender = [*args.contender, forwarder_contender(PARSING_FORWARDER, "--parse")]
    specs = specs_from_args(names, args.variant, args.variant_env, args.variant_sidecar, args.contender, args.variant_checkout)
    wanted = scenarios.wanted_scenarios(args.only)
    h = Harness(args, rounds=args.rounds or profile.rounds, slice_s=args.slice_s or profile.slice_s)
    started = time.time()
    meta: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started)),
        "mode": "smoke" if args.smoke else "full",
        "label": args.label,
        "command": getattr(args, "command", None),
        "cpus": os.cpu_count(),
        "gateway_cpus": args.gateway_cpus if TASKSET else "unpinned (no taskset)",
        "aux_cpus": args.aux_cpus if TASKSET else "unpinned (no taskset)",
        "mock_procs": args.mock_procs,
        "load_before": machine_load(),
        "rounds": h.rounds,
        "slice_s": h.slice_s,
        "scenarios": sorted(wanted),
        "profile": profile.__dict__ | {"contenders": list(profile.contenders)},
        "contenders": {s.name: s.describe() for s in specs},
        "variants": [s.name for s in specs if s.name not in BUILT_IN],
        "paced_mock": scenarios.PACED_KNOBS,
        "realtime_c1": args.realtime,
    }
    out: dict[str, Any] = {"meta": meta, "scenarios": {}, "max_rate": {}, "held_streams": {}}
    try:
        h.start_mock()
        h.start_contenders(specs)
        with tqdm(total=scenarios.planned_steps(h, profile, wanted), desc="bench", unit="step", file=sys.stderr,
                  dynamic_ncols=True) as bar:
            scenarios.run_scenarios(h, profile, wanted, out, bar, warmup="0.3" if args.smoke else "1", realtime=args.realtime)
    finally:
        h.close()
    meta["load_after"] = machine_load()
    meta["elapsed_s"] = time.time() - started
    meta["unavailable"] = h.unavailable
    out["warnings"] = h.warnings
    return out


def parser() -> argparse.ArgumentParser:
    gateway_cpus, aux_cpus = cpu_layout(os.cpu_count() or 1)
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--smoke", action="store_true", help="a seconds-long run that checks the harness works")
    p.add_argument("--gateway-cpus", default=gateway_cpus, help=f"cpus every contender is pinned to (default {gateway_cpus})")
    p.add_argument("--aux-cpus", default=aux_cpus, help=f"cpus for the mock and the load generator (default {aux_cpus})")
    p.add_argument("--mock-procs", type=int, default=1)
    p.add_argument("--skip", nargs="*", default=[], help="built-in contenders to leave out, e.g. litellm switchyard-2w")
    groups = ", ".join(f"{k} ({','.join(v)})" for k, v in scenarios.GROUPS.items())
    p.add_argument("--only", default="", help=f"comma-separated scenarios, of {','.join(scenarios.SCENARIOS)}, or a group: {groups}")
    p.add_argument("--variant", action="append", default=[], metavar="NAME[=CONFIG.yaml]",
                   help="one more Switchyard contender, the YAML merged over the bench config (repeatable)")
    p.add_argument("--variant-env", action="append", default=[], metavar="NAME:VAR=VALUE",
                   help="an environment variable for a --variant's process only, e.g. SWITCHYARD_SERVER__LOG_LEVEL=info")
    p.add_argument("--variant-sidecar", action="append", default=[], metavar="NAME:COMMAND",
                   help="a command run on the aux cpus during the variant's turns only; {origin} and {url} are filled in")
    p.add_argument("--variant-checkout", action="append", default=[], metavar="NAME:PATH",
                   help="run a --variant from another Switchyard tree (its Rust module built), e.g. main before a change")
    p.add_argument("--contender", action="append", default=[], metavar="NAME=COMMAND",
                   help="any other proxy: a command taking {port} (and {upstream}, the mock's origin)")
    p.add_argument("--held-forwarder", action="store_true",
                   help=f"add {HELD_FORWARDER}: the forwarder holding a stream's headers until its first content, as "
                        "Switchyard does; its TTFT over the forwarder's is what that failover contract costs by itself")
    p.add_argument("--parsing-forwarder", action="store_true",
                   help=f"add {PARSING_FORWARDER}: the forwarder parsing and re-encoding the request and every answer "
                        "(stream headers held to the first content), the least a gateway in this stack must do")
    p.add_argument("--rounds", type=int, default=0, help=f"interleaved rounds (default {FULL.rounds}; smoke {SMOKE.rounds})")
    p.add_argument("--slice-s", type=float, default=0.0, help=f"one contender's turn (default {FULL.slice_s} s)")
    p.add_argument("--realtime", action="store_true",
                   help="run the c=1 rows under SCHED_FIFO (root): on a busy machine, else a c=1 p50 is mostly scheduler wait")
    p.add_argument("--label", default="", help="added to the results file's name, e.g. before / after")
    p.add_argument("--out-dir", default=str(ROOT / "bench" / "results"))
    p.add_argument("--no-png", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    args.command = shlex.join(["python", "-m", "bench.compare", *(sys.argv[1:] if argv is None else argv)])
    results = run(args)
    report.finish(results, Path(args.out_dir), smoke=args.smoke, png=not args.no_png, label=args.label)
    return 0


if __name__ == "__main__":
    sys.exit(main())
