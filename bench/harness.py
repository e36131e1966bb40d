"""bench.compare's processes: the mock upstream, the contenders, and one slice of load against one of them.

Every contender is pinned to the same cpus (`--gateway-cpus`), the mock, the load generators and any
sidecars to the others (`--aux-cpus`). Within a scenario the contenders take turns in short slices over
several rounds (`interleaved`), so a change in the machine's load hits all of them alike.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from tqdm import tqdm

from bench import litellm_env, wrk_client
from bench.contenders import Contender, ContenderSpec, Slice, command_argv, free_port, write_switchyard_config

ROOT = Path(__file__).resolve().parent.parent
TASKSET = shutil.which("taskset") is not None
MODEL = "bench/model"
UPSTREAM_KEY = "sk-bench-upstream"
SCALING_SUFFIX = "@all-cpus"
CHAT_BODY = {"model": MODEL, "messages": [{"role": "user", "content": "Say hello to the benchmark."}]}


def pinned(cpus: str, argv: list[str]) -> list[str]:
    """`argv` run on `cpus` only; unpinned where taskset is missing (the report says so)."""
    return ["taskset", "-c", cpus, *argv] if TASKSET else argv


def pin_prefix(cpus: str) -> list[str]:
    return ["taskset", "-c", cpus] if TASKSET else []


def set_policy(pids: list[int], policy: int, priority: int) -> bool:
    """Every thread of every process in `pids` to `policy`; False when the system refuses."""
    try:
        for pid in pids:
            for task in Path(f"/proc/{pid}/task").iterdir():
                with contextlib.suppress(ProcessLookupError):
                    os.sched_setscheduler(int(task.name), policy, os.sched_param(priority))
    except (PermissionError, FileNotFoundError):
        return False
    return True


class Harness:
    def __init__(self, args: argparse.Namespace, rounds: int, slice_s: float) -> None:
        self.args = args
        self.rounds = rounds
        self.slice_s = slice_s
        self.tmp = Path(tempfile.mkdtemp(prefix="bench-compare-"))
        self.mock_proc: subprocess.Popen[str] | None = None
        self.mock_port = 0
        self.control_ports: list[int] = []
        self.mock_pids: list[int] = []
        self.contenders: dict[str, Contender] = {}
        self.unavailable: dict[str, str] = {}
        self.warnings: list[str] = []
        self.load_prefix: list[str] = []  # ["chrt", "-f", "1"] while `realtime` is on

    # -- processes --------------------------------------------------------------------------------
    def start_mock(self) -> None:
        argv = [sys.executable, "-m", "bench.fast_mock", "--procs", str(self.args.mock_procs),
                "--max-seconds", "3600", "--ttft-ms", "0", "--chunks", "8"]
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

    def switchyard_base_config(self) -> dict[str, Any]:
        """Three providers, all the mock, behind one model: provider routing runs on every request."""
        origin = f"http://127.0.0.1:{self.mock_port}/v1"
        return {
            "simulate": "never",
            "server": {"log_level": "warning", "shutdown_grace_s": 1},
            "providers": {f"m{i}": {"wire": "openai", "base_url": origin, "api_key_env": "BENCH_KEY"} for i in (1, 2, 3)},
            "models": {MODEL: {"context_window": 128000, "max_output": 4096,
                               "providers": {f"m{i}": {"id": "mock-model", "input": 0.1, "output": 0.2} for i in (1, 2, 3)}}},
        }

    def launch(self, name: str, argv: list[str], env: dict[str, str] | None = None, api_key: str | None = None,
               cpus: str | None = None, port: int = 0, cwd: Path = ROOT) -> Contender:
        port = port or int(argv[argv.index("--port") + 1])
        log_path = self.tmp / f"{name}.log"
        with log_path.open("wb") as log:
            proc = subprocess.Popen(pinned(cpus or self.args.gateway_cpus, argv), stdout=log, stderr=subprocess.STDOUT,
                                    cwd=cwd, env=env, start_new_session=True)
        c = Contender(name, f"http://127.0.0.1:{port}/v1/chat/completions", api_key, proc, log_path, load_cpus=cpus)
        self.contenders[name] = c
        return c

    def start(self, spec: ContenderSpec) -> None:
        """Start one contender as its spec says; one that cannot start is noted in `unavailable`."""
        upstream = f"http://127.0.0.1:{self.mock_port}"
        if spec.kind == "direct":
            self.contenders[spec.name] = Contender(spec.name, f"{upstream}/v1/chat/completions", UPSTREAM_KEY)
            return
        env = dict(os.environ, BENCH_KEY=UPSTREAM_KEY, **spec.env)
        if spec.kind == "forwarder":
            argv = [sys.executable, "-m", "bench.forwarder", "--upstream", upstream, "--port", str(free_port())]
            self.launch(spec.name, argv, env=env, api_key=UPSTREAM_KEY)
        elif spec.kind == "switchyard":
            config = write_switchyard_config(self.tmp / f"{spec.name}.yaml", self.switchyard_base_config(), spec.overlay)
            argv = [sys.executable, "-m", "proxy", "serve", "--config", str(config), "--port", str(free_port()),
                    "--workers", str(spec.workers)]
            self.launch(spec.name, argv, env=self.switchyard_env(env, spec.checkout), cwd=self.workdir(spec.name))
        elif spec.kind == "command":
            port = free_port()
            self.launch(spec.name, command_argv(spec, port, upstream), env=env, api_key=UPSTREAM_KEY, port=port)
        elif spec.kind == "litellm":
            exe, status = litellm_env.ensure_litellm()
            if exe is None:
                self.unavailable[spec.name] = status
                return
            cfg = litellm_env.write_config(self.tmp / "litellm.yaml", MODEL, f"{upstream}/v1", UPSTREAM_KEY)
            argv, lenv = litellm_env.litellm_command(cfg, free_port())
            self.launch(spec.name, argv, env=lenv, api_key=litellm_env.MASTER_KEY)
        self.contenders[spec.name].sidecars = list(spec.sidecars)

    @staticmethod
    def switchyard_env(env: dict[str, str], checkout: Path | None) -> dict[str, str]:
        """`-m proxy` from our tree, or a variant's: it comes first on PYTHONPATH (the cwd is a scratch dir)."""
        return env | {"PYTHONPATH": os.pathsep.join(filter(None, [str(checkout or ROOT), env.get("PYTHONPATH")]))}

    def workdir(self, name: str) -> Path:
        """A contender's own scratch directory, its cwd: the request log's default ./switchyard-data lands
        there, whatever the version (an older config knows no `store` key to point elsewhere)."""
        path = self.tmp / name
        path.mkdir(exist_ok=True)
        return path

    def start_contenders(self, specs: list[ContenderSpec]) -> None:
        for spec in specs:
            self.start(spec)
        for name in list(self.contenders):
            if not self.wait_ready(self.contenders[name], timeout_s=90.0 if name == "litellm" else 30.0):
                c = self.contenders.pop(name)
                tail = c.log_path.read_text(errors="replace")[-400:] if c.log_path else ""
                self.unavailable[name] = f"did not answer a chat completion within the start-up timeout: {tail}"
                self.stop(c)

    def wait_ready(self, c: Contender, timeout_s: float) -> bool:
        body = json.dumps(CHAT_BODY).encode()
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

    @staticmethod
    def stop_process(proc: subprocess.Popen[Any]) -> None:
        if proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 15)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, 9)
            proc.wait(timeout=5)

    def stop(self, c: Contender) -> None:
        if c.proc is not None:
            self.stop_process(c.proc)

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
    @contextlib.contextmanager
    def realtime(self, enabled: bool) -> Iterator[None]:
        """SCHED_FIFO for the mock, every contender and the load generators, for the c=1 rows (--realtime).

        On a machine other builds keep busy, a process that wakes at c=1 waits for a busy neighbour's
        time slice (EEVDF: up to ~3 ms), so a p50 measures the scheduler and how often each proxy
        sleeps, not its own cost. A real-time policy runs each hop as soon as it is woken; at c=1 the
        processes mostly wait, so the neighbours keep most of the cpu (and the kernel caps real-time
        tasks at 95%). Back to SCHED_OTHER afterwards: c=64 saturates a core and stays fair."""
        pids = [*self.mock_pids] + [p.pid for c in self.contenders.values() for p in c.processes()]
        if not enabled or not set_policy(pids, os.SCHED_FIFO, 1):
            if enabled:
                self.warnings.append("--realtime: could not set SCHED_FIFO (needs root or CAP_SYS_NICE); ran without")
            yield
            return
        self.load_prefix = ["chrt", "-f", "1"]
        try:
            yield
        finally:
            self.load_prefix = []
            set_policy(pids, os.SCHED_OTHER, 0)

    @contextlib.contextmanager
    def sidecars(self, c: Contender) -> Iterator[None]:
        """A contender's sidecar commands, on the aux cpus, for the length of one of its slices."""
        procs = [subprocess.Popen(pinned(self.args.aux_cpus, shlex.split(cmd.format(origin=c.origin, url=c.url))),
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT, start_new_session=True)
                 for cmd in c.sidecars]
        if procs:
            time.sleep(0.5)  # let them start before the load does
        try:
            yield
        finally:
            for proc in procs:
                self.stop_process(proc)

    def loadgen(self, c: Contender, *extra: str, seconds: float, tries: int = 2) -> dict[str, Any]:
        argv = [sys.executable, "-m", "bench.loadgen", "--url", c.url, "--model", MODEL, "--seconds", str(seconds), *extra]
        if c.api_key:
            argv += ["--api-key", c.api_key]
        cpu_before = c.cpu_s()
        with self.sidecars(c), self.rss_sampler(c) as peak:
            proc = subprocess.run(self.load_prefix + pinned(c.load_cpus or self.args.aux_cpus, argv), capture_output=True,
                                  text=True, cwd=ROOT, timeout=seconds * 3 + 60)
        if proc.returncode != 0 or not proc.stdout.strip():
            raise RuntimeError(f"loadgen against {c.name} failed: {proc.stderr[-800:]}")
        try:
            result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
        except json.JSONDecodeError as exc:
            # seen once under --realtime: a summary cut at exactly 128 KiB, exit status 0; cause not found
            note = f"loadgen against {c.name} printed {len(proc.stdout)} characters of unreadable JSON ({exc})"
            if tries <= 1:
                raise RuntimeError(note) from exc
            self.warnings.append(note + "; the slice was run again")
            return self.loadgen(c, *extra, seconds=seconds, tries=tries - 1)
        result["peak_rss_mb"], result["cpu_s"] = peak[0], c.cpu_s() - cpu_before
        return result

    def wrk(self, c: Contender, connections: int, seconds: float) -> dict[str, Any]:
        """One wrk slice against `c`, non-streaming, posting the same body bench.loadgen does."""
        script = self.tmp / f"wrk-{c.name}.lua"
        if not script.exists():
            wrk_client.write_script(script, CHAT_BODY, c.api_key)
        cpu_before = c.cpu_s()
        with self.sidecars(c), self.rss_sampler(c) as peak:
            result = wrk_client.run_wrk(c.url, script, seconds, connections, self.load_prefix + pin_prefix(c.load_cpus or self.args.aux_cpus))
        if result["errors"]:
            self.warnings.append(f"wrk against {c.name}: {result['errors']} errors {result['error_kinds']}")
        result["peak_rss_mb"], result["cpu_s"] = peak[0], c.cpu_s() - cpu_before
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

    def interleaved(self, label: str, run_one: Callable[[Contender], dict[str, Any]], bar: tqdm,
                    names: list[str] | None = None) -> dict[str, Slice]:
        """Each contender in turn, `rounds` times, the starting contender rotating each round."""
        order = names or [n for n in self.contenders if not n.endswith(SCALING_SUFFIX)]
        slices = {name: Slice() for name in order}
        for r in range(self.rounds):
            turn = order[r % len(order):] + order[: r % len(order)]
            for name in turn:
                bar.set_postfix_str(f"{label} · {name} · round {r + 1}")
                res = run_one(self.contenders[name])
                res["round"], res["load1"] = r, os.getloadavg()[0]
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
                               "--port", str(free_port()), "--workers", str(workers)], env=self.switchyard_env(env, None),
                        cpus=every, cwd=self.workdir(name))
            if self.wait_ready(self.contenders[name], timeout_s=30.0):
                names.append(name)
            else:
                self.unavailable[name] = "did not start"
        return names

    def sustained_rate(self, c: Contender, start: float, steps_max: int, step_s: float, bar: tqdm) -> dict[str, Any]:
        """Open-loop steps up from `start` by 1.4x until p99 >= 1 s or errors >= 0.1%, then one bisection."""
        steps: list[dict[str, Any]] = []
        good, bad = 0.0, None
        rate = max(start, 5.0)
        for _ in range(steps_max):
            bar.set_postfix_str(f"max rate · {c.name} · {rate:.0f}/s")
            res = self.loadgen(c, "--rate", f"{rate:.1f}", "--max-in-flight", "4000", "--timeout", "10", seconds=step_s)
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
        bar.update(steps_max - len(steps))
        return {"max_rate": good, "first_failing_rate": bad, "steps": steps}

    def held_streams(self, c: Contender, n: int, hold_s: float) -> dict[str, Any]:
        """Open `n` slow streams through `c`, read its RSS while they are all open."""
        before = c.rss_mb()
        argv = [sys.executable, "-m", "bench.loadgen", "--url", c.url, "--model", MODEL, "--stream",
                "--hold-streams", str(n), "--seconds", str(hold_s)]
        if c.api_key:
            argv += ["--api-key", c.api_key]
        proc = subprocess.Popen(pinned(self.args.aux_cpus, argv), stdout=subprocess.PIPE, text=True, cwd=ROOT)
        first = proc.stdout.readline() if proc.stdout else ""  # printed once every stream has answered
        live = json.loads(first) if first.strip() else {}
        peak = c.rss_mb()
        deadline = time.monotonic() + hold_s * 0.8
        while time.monotonic() < deadline:
            peak = max(peak, c.rss_mb())
            time.sleep(0.1)
        last = proc.stdout.read() if proc.stdout else ""
        proc.wait(timeout=hold_s + 60)
        end = json.loads(last.strip().splitlines()[-1]) if last.strip() else {}
        alive = c.proc is not None and c.proc.poll() is None
        return {"streams": n, "opened": live.get("opened", 0), "live_streams": live.get("live_streams", 0),
                "live_at_end": end.get("live_at_end"), "ramp_s": live.get("open_s"),
                "rss_before_mb": before, "rss_open_mb": peak, "alive_after": alive}
