"""Switchyard side by side with direct-to-mock, a bare aiohttp forwarder and LiteLLM, in one interleaved run.

    python -m bench.compare            # full run (~10 min): table, bench/results/<date>.json and .png
    python -m bench.compare --smoke    # seconds: checks the harness works, not that anything is fast

One fast mock upstream (bench/fast_mock.py) and every contender run at once; each contender is pinned
to the same cores (`--gateway-cpus`), the mock and the load generator (bench/loadgen.py, a separate
process) to the others (`--aux-cpus`). Within a scenario the contenders take turns in short slices,
over several rounds, so a change in machine load hits all of them alike; added latency is each
contender's percentile minus direct's from the same scenario.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
from tqdm import tqdm

from bench import litellm_env, report

ROOT = Path(__file__).resolve().parent.parent
TASKSET = shutil.which("taskset") is not None
MODEL = "bench/model"
UPSTREAM_KEY = "sk-bench-upstream"
# Non-streaming answers come at once so only the path through each contender is measured.
FAST_KNOBS = {"ttft_ms": 0.0, "chunks": 8, "tokens_per_chunk": 1, "tokens_per_s": 0.0}
# Streams: 64 content chunks at a fixed pace after a fixed first-token delay.
STREAM_PACE_MS = 10.0
STREAM_KNOBS = {"ttft_ms": 20.0, "chunks": 64, "tokens_per_chunk": 1, "tokens_per_s": 1000.0 / STREAM_PACE_MS}
# Held streams: slow enough that 1,000 of them stay open while RSS is read.
SCALING_SUFFIX = "@all-cpus"
HOLD_KNOBS = {"ttft_ms": 0.0, "chunks": 64, "tokens_per_chunk": 1, "tokens_per_s": 2.0}


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


FULL = Profile(rounds=3, slice_s=4.0, stream_concurrency=32, stream_rate=40.0, rate_steps=6, rate_step_s=4.0, hold_streams=1000,
               hold_s=4.0, contenders=("direct", "forwarder", "switchyard", "litellm", "switchyard-2w"))
SMOKE = Profile(rounds=1, slice_s=0.6, stream_concurrency=8, stream_rate=10.0, rate_steps=2, rate_step_s=0.8, hold_streams=100,
                hold_s=1.0, contenders=("direct", "forwarder", "switchyard", "switchyard-2w"),
                concurrencies=(1, 64), scaling=False)


@dataclass
class Contender:
    name: str
    url: str
    api_key: str | None
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    load_cpus: str | None = None  # where its load generator runs, when not the usual aux cpus

    def processes(self) -> list[psutil.Process]:
        if self.proc is None:
            return []
        try:
            root = psutil.Process(self.proc.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def rss_mb(self) -> float:
        total = 0
        for p in self.processes():
            with contextlib.suppress(psutil.Error):
                total += p.memory_info().rss
        return total / 1e6


@dataclass
class Slice:
    """One loadgen run's raw result, accumulated across rounds."""

    results: list[dict[str, Any]] = field(default_factory=list)
    peak_rss_mb: float = 0.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_layout(nproc: int) -> tuple[str, str]:
    """(gateway cpus, mock+loadgen cpus): the upper half for contenders, the rest for everything else."""
    if nproc < 2:
        return "0", "0"
    half = max(1, nproc // 2)
    return f"{nproc - half}-{nproc - 1}" if half > 1 else str(nproc - 1), f"0-{nproc - half - 1}" if nproc - half > 1 else "0"


def pinned(cpus: str, argv: list[str]) -> list[str]:
    """`argv` run on `cpus` only; unpinned where taskset is missing (the report says so)."""
    return ["taskset", "-c", cpus, *argv] if TASKSET else argv


class Harness:
    def __init__(self, args: argparse.Namespace, profile: Profile) -> None:
        self.args = args
        self.profile = profile
        self.tmp = Path(tempfile.mkdtemp(prefix="bench-compare-"))
        self.mock_proc: subprocess.Popen[str] | None = None
        self.mock_port = 0
        self.control_ports: list[int] = []
        self.mock_pids: list[int] = []
        self.contenders: dict[str, Contender] = {}
        self.unavailable: dict[str, str] = {}
        self.warnings: list[str] = []

    # -- processes --------------------------------------------------------------------------------
    def start_mock(self) -> None:
        argv = [sys.executable, "-m", "bench.fast_mock", "--procs", str(self.args.mock_procs),
                "--max-seconds", "1800", "--ttft-ms", "0", "--chunks", "8"]
        self.mock_proc = subprocess.Popen(pinned(self.args.aux_cpus, argv), stdout=subprocess.PIPE, text=True, cwd=ROOT)
        line = self.mock_proc.stdout.readline() if self.mock_proc.stdout else ""
        if not line:
            raise SystemExit("bench.compare: the mock upstream did not start")
        info = json.loads(line)
        self.mock_port, self.control_ports, self.mock_pids = info["port"], info["control_ports"], info["pids"]

    def set_knobs(self, knobs: dict[str, Any]) -> None:
        body = json.dumps(knobs).encode()
        for port in self.control_ports:
            req = urllib.request.Request(f"http://127.0.0.1:{port}/_mock/knobs", data=body, method="POST")
            with urllib.request.urlopen(req, timeout=5) as resp:
                resp.read()

    def switchyard_config(self) -> Path:
        origin = f"http://127.0.0.1:{self.mock_port}/v1"
        providers = "\n".join(f"  m{i}: {{wire: openai, base_url: \"{origin}\", api_key_env: BENCH_KEY}}" for i in (1, 2, 3))
        routes = "\n".join(f"      m{i}: {{id: mock-model, input: 0.1, output: 0.2}}" for i in (1, 2, 3))
        path = self.tmp / "switchyard.yaml"
        path.write_text(
            "simulate: never\nserver: {log_level: warning, shutdown_grace_s: 1}\n"
            f"store: {{data_dir: \"{self.tmp / 'data'}\"}}\n"
            f"providers:\n{providers}\n"
            f"models:\n  {MODEL}:\n    context_window: 128000\n    max_output: 4096\n    providers:\n{routes}\n"
        )
        return path

    def launch(self, name: str, argv: list[str], env: dict[str, str] | None = None, api_key: str | None = None,
               cpus: str | None = None) -> None:
        port = int(argv[argv.index("--port") + 1])
        log_path = self.tmp / f"{name}.log"
        with log_path.open("wb") as log:
            proc = subprocess.Popen(pinned(cpus or self.args.gateway_cpus, argv), stdout=log, stderr=subprocess.STDOUT,
                                    cwd=ROOT, env=env, start_new_session=True)
        self.contenders[name] = Contender(name, f"http://127.0.0.1:{port}/v1/chat/completions", api_key, proc, log_path,
                                          load_cpus=cpus)

    def start_contenders(self) -> None:
        names = [n for n in self.profile.contenders if n not in self.args.skip]
        self.contenders["direct"] = Contender("direct", f"http://127.0.0.1:{self.mock_port}/v1/chat/completions", UPSTREAM_KEY)
        if "forwarder" in names:
            self.launch("forwarder", [sys.executable, "-m", "bench.forwarder", "--upstream",
                                      f"http://127.0.0.1:{self.mock_port}", "--port", str(free_port())], api_key=UPSTREAM_KEY)
        config = self.switchyard_config()
        env = dict(os.environ, BENCH_KEY=UPSTREAM_KEY)
        for name, workers in (("switchyard", 1), ("switchyard-2w", 2)):
            if name in names:
                self.launch(name, [sys.executable, "-m", "proxy", "serve", "--config", str(config),
                                   "--port", str(free_port()), "--workers", str(workers)], env=env)
        if "litellm" in names:
            exe, status = litellm_env.ensure_litellm()
            if exe is None:
                self.unavailable["litellm"] = status
            else:
                cfg = litellm_env.write_config(self.tmp / "litellm.yaml", MODEL, f"http://127.0.0.1:{self.mock_port}/v1", UPSTREAM_KEY)
                argv, lenv = litellm_env.litellm_command(cfg, free_port())
                self.launch("litellm", argv, env=lenv, api_key=litellm_env.MASTER_KEY)
        for name in list(self.contenders):
            if not self.wait_ready(self.contenders[name], timeout_s=90.0 if name == "litellm" else 30.0):
                c = self.contenders.pop(name)
                tail = c.log_path.read_text(errors="replace")[-400:] if c.log_path else ""
                self.unavailable[name] = f"did not answer a chat completion within the start-up timeout: {tail}"
                self.stop(c)

    def wait_ready(self, c: Contender, timeout_s: float) -> bool:
        body = json.dumps({"model": MODEL, "messages": [{"role": "user", "content": "ready?"}]}).encode()
        headers = {"Content-Type": "application/json"}
        if c.api_key:
            headers["Authorization"] = f"Bearer {c.api_key}"
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if c.proc is not None and c.proc.poll() is not None:
                return False
            with contextlib.suppress(OSError):
                req = urllib.request.Request(c.url, data=body, headers=headers, method="POST")
                with urllib.request.urlopen(req, timeout=5) as resp:
                    if resp.status == 200:
                        return True
            time.sleep(0.3)
        return False

    def stop(self, c: Contender) -> None:
        if c.proc is None or c.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(c.proc.pid, 15)
        try:
            c.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(c.proc.pid, 9)
            c.proc.wait(timeout=5)

    def close(self) -> None:
        for c in self.contenders.values():
            self.stop(c)
        if self.mock_proc is not None and self.mock_proc.poll() is None:
            self.mock_proc.terminate()
            try:
                self.mock_proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.mock_proc.kill()

    # -- load -------------------------------------------------------------------------------------
    def loadgen(self, c: Contender, *extra: str, seconds: float) -> dict[str, Any]:
        argv = [sys.executable, "-m", "bench.loadgen", "--url", c.url, "--model", MODEL, "--seconds", str(seconds), *extra]
        if c.api_key:
            argv += ["--api-key", c.api_key]
        with self.rss_sampler(c) as peak:
            proc = subprocess.run(pinned(c.load_cpus or self.args.aux_cpus, argv), capture_output=True, text=True, cwd=ROOT,
                                  timeout=seconds * 3 + 60)
        if proc.returncode != 0 or not proc.stdout.strip():
            raise RuntimeError(f"loadgen against {c.name} failed: {proc.stderr[-800:]}")
        result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
        result["peak_rss_mb"] = peak[0]
        return result

    @contextlib.contextmanager
    def rss_sampler(self, c: Contender, every_s: float = 0.25) -> Iterator[list[float]]:
        peak = [c.rss_mb()]
        stop = threading.Event()

        def sample() -> None:
            while not stop.wait(every_s):
                peak[0] = max(peak[0], c.rss_mb())

        thread = threading.Thread(target=sample, daemon=True)
        thread.start()
        try:
            yield peak
        finally:
            stop.set()
            thread.join()
            peak[0] = max(peak[0], c.rss_mb())

    def interleaved(self, label: str, extra: list[str], bar: tqdm, names: list[str] | None = None) -> dict[str, Slice]:
        """Each contender in turn, `rounds` times, the starting contender rotating each round."""
        order = names or [n for n in self.contenders if not n.endswith(SCALING_SUFFIX)]
        slices = {name: Slice() for name in order}
        for r in range(self.profile.rounds):
            turn = order[r % len(order):] + order[: r % len(order)]
            for name in turn:
                bar.set_postfix_str(f"{label} · {name} · round {r + 1}")
                res = self.loadgen(self.contenders[name], *extra, seconds=self.profile.slice_s)
                slices[name].results.append(res)
                slices[name].peak_rss_mb = max(slices[name].peak_rss_mb, res["peak_rss_mb"])
                bar.update(1)
        return slices

    def start_scaling_pair(self) -> list[str]:
        """Switchyard with 1 and 2 workers on every cpu, load generator too: the only way 2 workers can scale here."""
        every = f"0-{(os.cpu_count() or 1) - 1}"
        env = dict(os.environ, BENCH_KEY=UPSTREAM_KEY)
        names = []
        for workers in (1, 2):
            name = ("switchyard" if workers == 1 else "switchyard-2w") + SCALING_SUFFIX
            self.launch(name, [sys.executable, "-m", "proxy", "serve", "--config", str(self.tmp / "switchyard.yaml"),
                               "--port", str(free_port()), "--workers", str(workers)], env=env, cpus=every)
            if self.wait_ready(self.contenders[name], timeout_s=30.0):
                names.append(name)
            else:
                self.unavailable[name] = "did not start"
        return names

    def sustained_rate(self, c: Contender, start: float, bar: tqdm) -> dict[str, Any]:
        """Open-loop steps up from `start` by 1.4x until p99 >= 1 s or errors >= 0.1%, then one bisection."""
        steps: list[dict[str, Any]] = []
        good, bad = 0.0, None
        rate = max(start, 5.0)
        for _ in range(self.profile.rate_steps):
            bar.set_postfix_str(f"max rate · {c.name} · {rate:.0f}/s")
            res = self.loadgen(c, "--rate", f"{rate:.1f}", "--max-in-flight", "4000", "--timeout", "10",
                               seconds=self.profile.rate_step_s)
            lat = sorted(res["latencies_ms"])
            p99 = lat[min(len(lat) - 1, int(0.99 * len(lat)))] if lat else float("inf")
            err_frac = res["errors"] / max(1, res["sent"])
            ok = p99 < 1000.0 and err_frac < 0.001 and res["rps"] >= 0.9 * rate
            steps.append({"rate": rate, "p99_ms": p99, "error_frac": err_frac, "achieved_rps": res["rps"], "ok": ok,
                          "peak_rss_mb": res["peak_rss_mb"]})
            bar.update(1)
            if ok:
                good = max(good, rate)
            else:
                bad = rate if bad is None else min(bad, rate)
            rate = rate * 1.4 if bad is None else (good + bad) / 2 if good else bad / 2
            if bad is not None and good and bad / good < 1.1:
                break
            time.sleep(0.5)  # let a failed step's queue drain before the next
        bar.update(self.profile.rate_steps - len(steps))
        return {"max_rate": good, "first_failing_rate": bad, "steps": steps}

    def held_streams(self, c: Contender, n: int) -> dict[str, Any]:
        """Open `n` slow streams through `c`, read its RSS while they are all open."""
        before = c.rss_mb()
        argv = [sys.executable, "-m", "bench.loadgen", "--url", c.url, "--model", MODEL, "--stream",
                "--hold-streams", str(n), "--seconds", str(self.profile.hold_s)]
        if c.api_key:
            argv += ["--api-key", c.api_key]
        proc = subprocess.Popen(pinned(self.args.aux_cpus, argv), stdout=subprocess.PIPE, text=True, cwd=ROOT)
        first = proc.stdout.readline() if proc.stdout else ""  # printed once every stream has answered
        live = json.loads(first) if first.strip() else {}
        peak = c.rss_mb()
        deadline = time.monotonic() + self.profile.hold_s * 0.8
        while time.monotonic() < deadline:
            peak = max(peak, c.rss_mb())
            time.sleep(0.1)
        last = proc.stdout.read() if proc.stdout else ""
        proc.wait(timeout=self.profile.hold_s + 60)
        end = json.loads(last.strip().splitlines()[-1]) if last.strip() else {}
        alive = c.proc is not None and c.proc.poll() is None
        return {"streams": n, "opened": live.get("opened", 0), "live_streams": live.get("live_streams", 0),
                "live_at_end": end.get("live_at_end"), "ramp_s": live.get("open_s"),
                "rss_before_mb": before, "rss_open_mb": peak, "alive_after": alive}


SCENARIOS = ("c1", "c64", "c256", "stream", "stream-open", "held", "rate", "scaling")


def held_names(h: Harness) -> list[str]:
    return [name for name in ("switchyard", "switchyard-2w", "forwarder") if name in h.contenders]


def scaling_possible(h: Harness, profile: Profile) -> bool:
    return profile.scaling and (os.cpu_count() or 1) > 1 and {"switchyard", "switchyard-2w"} <= set(h.contenders)


def planned_steps(h: Harness, profile: Profile, wanted: set[str]) -> int:
    n = len(h.contenders)
    loads = [f"c{c}" for c in profile.concurrencies] + ["stream", "stream-open"]
    total = sum(n * profile.rounds for name in loads if name in wanted)
    total += n * profile.rate_steps if "rate" in wanted else 0
    total += len(held_names(h)) if "held" in wanted else 0
    total += 2 * profile.rounds if "scaling" in wanted and scaling_possible(h, profile) else 0
    return total


def run_scenarios(h: Harness, profile: Profile, wanted: set[str], out: dict[str, Any], bar: tqdm, warmup: str) -> None:
    """Every wanted scenario in turn, each one interleaving the contenders; results go into `out`."""
    h.set_knobs(FAST_KNOBS)
    for conc in profile.concurrencies:
        if f"c{conc}" in wanted:
            extra = ["--concurrency", str(conc), "--warmup", warmup]
            out["scenarios"][f"c{conc}"] = {k: report.summarise(s) for k, s in h.interleaved(f"c={conc}", extra, bar).items()}
    h.set_knobs(STREAM_KNOBS)
    stream = ["--stream", "--pace-ms", str(STREAM_PACE_MS), "--expect-chunks", str(STREAM_KNOBS["chunks"])]
    if "stream" in wanted:
        extra = ["--concurrency", str(profile.stream_concurrency), *stream]
        out["scenarios"]["stream"] = {k: report.summarise(s) for k, s in h.interleaved("stream", extra, bar).items()}
    if "stream-open" in wanted:  # the same streams at a fixed arrival rate: starts do not come in bursts
        extra = ["--rate", str(profile.stream_rate), "--timeout", "10", *stream]
        out["scenarios"]["stream-open"] = {k: report.summarise(s) for k, s in h.interleaved("stream-open", extra, bar).items()}
    if "held" in wanted:
        h.set_knobs(HOLD_KNOBS)
        for name in held_names(h):
            bar.set_postfix_str(f"{profile.hold_streams} open streams · {name}")
            out["held_streams"][name] = h.held_streams(h.contenders[name], profile.hold_streams)
            bar.update(1)
            time.sleep(0.5)
    h.set_knobs(FAST_KNOBS)
    if "rate" in wanted:
        top = out["scenarios"].get(f"c{profile.concurrencies[-1]}", {})
        for name, c in list(h.contenders.items()):
            start = 0.6 * top[name]["rps"] if name in top else 200.0
            out["max_rate"][name] = h.sustained_rate(c, start, bar)
    if "scaling" in wanted and scaling_possible(h, profile):
        bar.set_postfix_str("starting 1 and 2 workers on every cpu")
        pair = h.start_scaling_pair()
        if len(pair) == 2:
            conc = profile.concurrencies[-1]
            extra = ["--concurrency", str(conc), "--warmup", warmup]
            slices = h.interleaved(f"c{conc} all cpus", extra, bar, names=pair)
            out["scaling"] = {"scenario": f"c{conc}", "cpus": f"0-{(os.cpu_count() or 1) - 1}",
                              "rows": {k: report.summarise(s) for k, s in slices.items()}}


def machine_load() -> dict[str, float]:
    one, five, fifteen = os.getloadavg()
    return {"load1": one, "load5": five, "load15": fifteen}


def run(args: argparse.Namespace) -> dict[str, Any]:
    profile = SMOKE if args.smoke else FULL
    if args.rounds:
        profile.rounds = args.rounds
    if args.slice_s:
        profile.slice_s = args.slice_s
    h = Harness(args, profile)
    started = time.time()
    meta: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started)),
        "mode": "smoke" if args.smoke else "full",
        "cpus": os.cpu_count(),
        "gateway_cpus": args.gateway_cpus if TASKSET else "unpinned (no taskset)",
        "aux_cpus": args.aux_cpus if TASKSET else "unpinned (no taskset)",
        "mock_procs": args.mock_procs,
        "load_before": machine_load(),
        "profile": profile.__dict__ | {"contenders": list(profile.contenders)},
    }
    out: dict[str, Any] = {"meta": meta, "scenarios": {}, "max_rate": {}, "held_streams": {}}
    wanted = set(args.only.split(",")) if args.only else set(SCENARIOS)
    try:
        h.start_mock()
        h.start_contenders()
        with tqdm(total=planned_steps(h, profile, wanted), desc="bench", unit="step", file=sys.stderr,
                  dynamic_ncols=True) as bar:
            run_scenarios(h, profile, wanted, out, bar, warmup="0.3" if args.smoke else "1")
    finally:
        h.close()
    meta["load_after"] = machine_load()
    meta["elapsed_s"] = time.time() - started
    meta["unavailable"] = h.unavailable
    out["warnings"] = h.warnings
    return out


def main(argv: list[str] | None = None) -> int:
    gateway_cpus, aux_cpus = cpu_layout(os.cpu_count() or 1)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="a seconds-long run that checks the harness works")
    parser.add_argument("--gateway-cpus", default=gateway_cpus, help=f"cpus every contender is pinned to (default {gateway_cpus})")
    parser.add_argument("--aux-cpus", default=aux_cpus, help=f"cpus for the mock and the load generator (default {aux_cpus})")
    parser.add_argument("--mock-procs", type=int, default=1)
    parser.add_argument("--skip", nargs="*", default=[], help="contenders to leave out, e.g. litellm")
    parser.add_argument("--only", default="", help=f"comma-separated scenarios to run, of {','.join(SCENARIOS)} (default all)")
    parser.add_argument("--rounds", type=int, default=0)
    parser.add_argument("--slice-s", type=float, default=0.0)
    parser.add_argument("--out-dir", default=str(ROOT / "bench" / "results"))
    parser.add_argument("--no-png", action="store_true")
    args = parser.parse_args(argv)
    results = run(args)
    report.finish(results, Path(args.out_dir), smoke=args.smoke, png=not args.no_png)
    return 0


if __name__ == "__main__":
    sys.exit(main())
