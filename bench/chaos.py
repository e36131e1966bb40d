"""Chaos soak: a gateway in front of mock providers that fail, hang, slow down, rate-limit, drop
streams mid-answer and flap between those states, under mixed streaming and non-streaming load
with clients that hang up early.

Every request must end in exactly one complete answer or one clear error: a complete answer is
byte-for-byte the answer the serving provider produces, and a broken stream must end with an
error event and [DONE]. Afterwards open file descriptors, asyncio tasks and RSS must be back at
their baseline and nothing may still be in flight. And the request log must agree with the clients:
every request whose answer a client saw has exactly one record, with the status and attempt count
that client got (bench/log_reconcile.py).

    python bench/chaos.py --requests 20000          # the full soak; writes bench/results/chaos.json
    python bench/chaos.py --requests 2000 --out /tmp/chaos.json   # CI's short form

The mock providers run in a child process (`--serve-mocks`), so the fd, task and RSS figures are
the gateway's and the load generator's alone; their faults are changed live through each mock's
`POST /_mock/knobs`.
"""

from __future__ import annotations

import argparse
import array
import asyncio
import collections
import ctypes
import gc
import json
import os
import random
import subprocess
import sys
import time
import tracemalloc
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import psutil

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.log_reconcile import logged_records, reconcile_views  # noqa: E402
from proxy.simulated.knobs import answer_words  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "chaos.json"

# name -> starting knobs. `chunks` never changes, so the expected answer is known per provider.
PROVIDERS: dict[str, dict[str, Any]] = {
    "steady": {"ttft_ms": 10.0, "tokens_per_s": 2000.0, "chunks": 6},
    "flaky": {"ttft_ms": 15.0, "tokens_per_s": 2000.0, "chunks": 7, "error_rate": 0.3},
    "limited": {"ttft_ms": 10.0, "tokens_per_s": 2000.0, "chunks": 5},
    "hangs": {"ttft_ms": 10.0, "tokens_per_s": 2000.0, "chunks": 6},
    "slow": {"ttft_ms": 150.0, "tokens_per_s": 300.0, "chunks": 8, "keepalive_every_ms": 50.0},
    "dropper": {"ttft_ms": 10.0, "tokens_per_s": 1000.0, "chunks": 9},
    "flapper": {"ttft_ms": 10.0, "tokens_per_s": 2000.0, "chunks": 6},
}

# model -> providers, in catalogue order. chaos/solo has one flapping provider: its errors surface.
MODELS: dict[str, list[str]] = {
    "chaos/wide": ["flaky", "limited", "hangs", "steady"],
    "chaos/rough": ["dropper", "slow", "flapper"],
    "chaos/solo": ["flapper"],
    "chaos/pair": ["hangs", "dropper"],
}
MODEL_WEIGHTS = {"chaos/wide": 4, "chaos/rough": 3, "chaos/solo": 1, "chaos/pair": 2}

# the states each provider flaps between (a patch on its knobs), picked at random every period
FLAPS: dict[str, list[dict[str, Any]]] = {
    "flaky": [{"error_rate": r, "error_status": s} for r in (0.1, 0.3, 0.7) for s in (500, 502, 503)],
    "limited": [{"status": 429, "retry_after_s": 1}, {"status": None}, {"status": None}],
    "hangs": [{"hang": True}, {"hang": False}, {"hang": False, "ttft_ms": 400.0}],
    "slow": [{"ttft_ms": 150.0, "tokens_per_s": 300.0}, {"ttft_ms": 1500.0}, {"ttft_ms": 40.0, "tokens_per_s": 2.5}],
    "dropper": [{"drop_after_chunks": d, "stream_error_after_chunks": e}
                for d, e in ((None, None), (0, None), (3, None), (None, 0), (None, 2), (6, None))],
    "flapper": [{"status": None, "hang": False, "drop_after_chunks": None}, {"status": 503}, {"status": 500},
                {"hang": True, "status": None}, {"hang": False, "status": None, "drop_after_chunks": 2}],
}

TIMEOUTS = {"connect_s": 1.0, "first_token_s": 0.8, "idle_s": 0.5, "total_s": 8.0}
CLIENT_TIMEOUT_S = 30.0  # far beyond the gateway's own total: reaching it means the gateway hung


# -- the mock providers (child process) -----------------------------------------------------------

async def serve_mocks() -> None:
    import logging

    from proxy.simulated.knobs import Knobs
    from proxy.simulated.openai_mock import create_openai_mock
    from proxy.simulated.server import MockServer

    logging.getLogger("aiohttp").setLevel(logging.CRITICAL)  # clients hanging up is the point here
    servers = {}
    for i, (name, knobs) in enumerate(PROVIDERS.items()):
        servers[name] = await MockServer.start(create_openai_mock(Knobs(api_key=f"sk-chaos-{name}-0000", seed=i, **knobs), name))
    print(json.dumps({name: s.url for name, s in servers.items()}), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until the parent goes away
    for server in servers.values():
        await server.stop()


class Mocks:
    """The child process running the mock providers, and HTTP control of their knobs."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, __file__, "--serve-mocks"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, cwd=ROOT)
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if not line:
            raise RuntimeError("the mock providers did not start")
        self.urls: dict[str, str] = json.loads(line)

    async def patch(self, session: aiohttp.ClientSession, name: str, knobs: dict[str, Any]) -> None:
        async with session.post(self.urls[name] + "/_mock/knobs", json=knobs) as r:
            r.raise_for_status()

    async def counters(self, session: aiohttp.ClientSession) -> dict[str, dict[str, int]]:
        out = {}
        for name, url in self.urls.items():
            async with session.get(url + "/_mock/counters") as r:
                data = await r.json()
                out[name] = {k: data[k] for k in ("requests", "streams", "errors", "in_flight")}
        return out

    async def in_flight(self, session: aiohttp.ClientSession) -> dict[str, int]:
        return {name: c["in_flight"] for name, c in (await self.counters(session)).items()}

    def stop(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


# -- the gateway (in this process) ----------------------------------------------------------------

async def start_gateway(urls: dict[str, str], data_dir: str) -> tuple[Any, Any, int]:
    from aiohttp import web

    from proxy.app import create_app
    from proxy.appkeys import GATEWAY
    from proxy.config import load_settings

    providers = {name: {"base_url": url + "/v1", "api_key_env": f"CHAOS_{name.upper()}_KEY", "timeouts": TIMEOUTS}
                 for name, url in urls.items()}
    models = {slug: {"context_window": 32000, "max_output": 1024,
                     "providers": {p: {"id": f"{slug.split('/')[1]}-{p}", "input": 1.0, "output": 2.0} for p in names}}
              for slug, names in MODELS.items()}
    settings = load_settings(None, environ={}, overrides={
        "simulate": "never", "providers": providers, "models": models, "store": {"data_dir": data_dir},
        "routing": {"failure_threshold": 3, "cooldown_s": 0.5, "max_cooldown_s": 4.0},
    })
    environ = {f"CHAOS_{name.upper()}_KEY": f"sk-chaos-{name}-0000" for name in urls}
    app = create_app(settings, environ=environ)
    runner = web.AppRunner(app, handler_cancellation=True, access_log=None, shutdown_timeout=2.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=4096)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, app[GATEWAY], port


# -- one request and its verdict ------------------------------------------------------------------

@dataclass
class Plan:
    index: int
    model: str
    stream: bool
    hang_up: str | None  # None, "after_content" (stream) or "early" (any)
    order: list[str] | None = None  # provider.routing order: sends traffic to the bad providers first


@dataclass
class Verdict:
    outcome: str  # ok | error | error_midstream | client_hung_up, or a violation: lost, hung, duplicated, truncated, corrupted
    detail: str = ""
    latency_s: float = 0.0
    provider: str | None = None
    attempts: int = 1
    degraded: bool = False
    answered: bool = False  # response headers came back (the gateway's answer reached this client)
    content_before_error: bool = False


VIOLATIONS = ("lost", "hung", "duplicated", "truncated", "corrupted")


def expected_answer(model: str, provider: str, prompt: str) -> str:
    upstream = f"{model.split('/')[1]}-{provider}"
    return "".join(answer_words(upstream, prompt, PROVIDERS[provider]["chunks"]))


def judge_json(status: int, payload: Any, plan: Plan, provider: str | None, prompt: str) -> Verdict:
    if status >= 400:
        if isinstance(payload, dict) and set(payload.get("error") or {}) == {"message", "type", "param", "code"}:
            return Verdict("error", f"{status} {payload['error']['code']}")
        return Verdict("corrupted", f"{status} error not in OpenAI shape")
    try:
        choice = payload["choices"][0]
        text, finish = choice["message"]["content"], choice["finish_reason"]
    except (KeyError, IndexError, TypeError):
        return Verdict("corrupted", "200 without a chat.completion")
    if provider not in PROVIDERS:
        return Verdict("corrupted", "no x-switchyard-provider")
    want = expected_answer(plan.model, provider, prompt)
    if text == want and finish == "stop":
        return Verdict("ok", provider=provider)
    if want in text and text != want:
        return Verdict("duplicated", text[:80])
    return Verdict("truncated" if want.startswith(text or "") else "corrupted", f"{finish} {text[:80]!r}")


def judge_stream(events: list[Any], plan: Plan, provider: str | None, prompt: str) -> Verdict:
    from_errors = [e for e in events if isinstance(e, dict) and "error" in e]
    dones = [e for e in events if e == "[DONE]"]
    finishes = [c.get("finish_reason") for e in events if isinstance(e, dict) for c in e.get("choices") or ()
                if c.get("finish_reason")]
    text = "".join((c.get("delta") or {}).get("content") or "" for e in events if isinstance(e, dict)
                   for c in e.get("choices") or ())
    if provider not in PROVIDERS:
        return Verdict("corrupted", "no x-switchyard-provider")
    want = expected_answer(plan.model, provider, prompt)
    if len(dones) != 1 or events[-1] != "[DONE]":
        return Verdict("truncated", f"{len(dones)} [DONE], last={str(events[-1:])[:60]}")
    if text.count(want) > 1 or len(finishes) > 1 or len(from_errors) > 1 or (want in text and text != want):
        return Verdict("duplicated", f"{len(finishes)} finishes, {len(from_errors)} errors, {text[:80]!r}")
    if from_errors:
        err = from_errors[0]["error"]
        if events[-2] is not from_errors[0] or finishes or set(err) != {"message", "type", "param", "code"}:
            return Verdict("corrupted", f"error event out of place: {str(err)[:80]}")
        if not want.startswith(text):
            return Verdict("corrupted", f"partial answer is not a prefix: {text[:80]!r}")
        return Verdict("error_midstream", str(err.get("code")), content_before_error=bool(text))
    if text == want and finishes == ["stop"]:
        return Verdict("ok", provider=provider)
    return Verdict("truncated" if want.startswith(text) else "corrupted", f"{finishes} {text[:80]!r}")


async def read_events(resp: aiohttp.ClientResponse, plan: Plan) -> tuple[list[Any], bool]:
    """The stream's events; True as second value when this client hung up on purpose."""
    from proxy.streaming import SSEEvent, SSEParser

    parser = SSEParser()
    events: list[Any] = []
    async for piece in resp.content.iter_any():
        for ev in parser.feed(piece):
            if isinstance(ev, SSEEvent):
                events.append(ev.data if ev.data == "[DONE]" else orjson.loads(ev.data))
        if plan.hang_up == "after_content" and any(
            isinstance(e, dict) and any((c.get("delta") or {}).get("content") for c in e.get("choices") or ()) for e in events
        ):
            return events, True
    for ev in parser.close():
        if isinstance(ev, SSEEvent):
            events.append(ev.data if ev.data == "[DONE]" else orjson.loads(ev.data))
    return events, False


async def judge_response(resp: aiohttp.ClientResponse, plan: Plan, prompt: str) -> Verdict:
    provider = resp.headers.get("x-switchyard-provider")
    if resp.status == 200 and plan.stream:
        events, hung_up = await read_events(resp, plan)
        if hung_up:
            resp.close()
            return Verdict("client_hung_up", "after content")
        if not events:
            return Verdict("truncated", "empty stream")
        return judge_stream(events, plan, provider, prompt)
    raw = await resp.read()
    try:
        payload = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return Verdict("corrupted", f"{resp.status} body is not JSON")
    return judge_json(resp.status, payload, plan, provider, prompt)


async def run_one(session: aiohttp.ClientSession, url: str, plan: Plan, rng: random.Random) -> Verdict:
    prompt = f"req{plan.index} chaos soak"
    body: dict[str, Any] = {"model": plan.model, "messages": [{"role": "user", "content": prompt}], "stream": plan.stream}
    if plan.order:
        body["provider"] = {"routing": {"type": "order", "providers": plan.order}}
    started = time.perf_counter()
    headers = {"Content-Type": "application/json", "x-request-id": client_id(plan)}
    answered = False

    async def exchange() -> Verdict:
        nonlocal answered
        async with session.post(url, data=orjson.dumps(body), headers=headers) as resp:
            answered = True
            verdict = await judge_response(resp, plan, prompt)
            verdict.attempts = int(resp.headers.get("x-switchyard-attempts") or 1)
            verdict.degraded = "x-switchyard-degraded" in resp.headers
            return verdict

    try:
        if plan.hang_up == "early":
            try:
                async with asyncio.timeout(rng.uniform(0.005, 0.3)):
                    verdict = await exchange()
            except TimeoutError:
                verdict = Verdict("client_hung_up", "early")
        else:
            async with asyncio.timeout(CLIENT_TIMEOUT_S):
                verdict = await exchange()
    except TimeoutError:
        verdict = Verdict("hung", f"no end after {CLIENT_TIMEOUT_S}s")
    except (aiohttp.ClientError, ConnectionError) as exc:
        verdict = Verdict("lost", f"{type(exc).__name__}: {exc}"[:120])
    verdict.latency_s = time.perf_counter() - started
    verdict.answered = answered
    return verdict


def client_id(plan: Plan) -> str:
    """The client's own x-request-id: the log keeps it as client_request_id, to find each record by."""
    return f"chaos-{plan.index}"


# -- the soak --------------------------------------------------------------------------------------

def make_plans(n: int, seed: int, start: int = 0) -> list[Plan]:
    rng = random.Random(seed)
    models, weights = list(MODEL_WEIGHTS), list(MODEL_WEIGHTS.values())
    plans = []
    for i in range(start, start + n):
        stream = rng.random() < 0.6
        roll = rng.random()
        hang_up = ("after_content" if stream else "early") if roll < 0.04 else "early" if roll < 0.06 else None
        model = rng.choices(models, weights)[0]
        order = rng.sample(MODELS[model], len(MODELS[model])) if len(MODELS[model]) > 1 and rng.random() < 0.4 else None
        plans.append(Plan(i, model, stream, hang_up, order))
    return plans


async def flap(mocks: Mocks, session: aiohttp.ClientSession, stop: asyncio.Event, seed: int, every_s: float) -> int:
    """Change every flapping provider's state every `every_s` seconds until stopped; returns the flips."""
    rng = random.Random(seed)
    flips = 0
    while not stop.is_set():
        for name, states in FLAPS.items():
            await mocks.patch(session, name, rng.choice(states))
            flips += 1
        try:
            await asyncio.wait_for(stop.wait(), every_s)
        except TimeoutError:
            pass
    return flips


async def calm(mocks: Mocks, session: aiohttp.ClientSession) -> None:
    """Every provider healthy again (for warm-up and the settle phase)."""
    healthy = {"status": None, "hang": False, "error_rate": 0.0, "drop_after_chunks": None, "stream_error_after_chunks": None}
    for name, knobs in PROVIDERS.items():
        await mocks.patch(session, name, {**healthy, **knobs, "error_rate": 0.0})


class Tally:
    """Verdicts folded into counters as they come, so the soak's own memory stays flat."""

    def __init__(self, rss_every: int = 0, gw: Any = None) -> None:
        self.rss_every = rss_every
        self.rss_mb: list[float] = []  # RSS (after gc and malloc_trim) every 10% of the soak: flat means no leak
        self.completed = 0
        self.outcomes: collections.Counter[str] = collections.Counter()
        self.error_codes: collections.Counter[str] = collections.Counter()
        self.served_by: collections.Counter[str] = collections.Counter()
        self.ok_latency = array.array("f")
        self.retried = 0
        self.max_attempts = 0
        self.degraded = 0
        self.examples: dict[str, list[str]] = collections.defaultdict(list)
        # what each client saw, for the log reconciliation: small tuples, kept by plan index
        self.seen: dict[int, tuple[str, int, bool, bool, str | None]] = {}

    def add(self, v: Verdict, plan: Plan | None = None) -> None:
        self.completed += 1
        if plan is not None:
            self.seen[plan.index] = (sys.intern(v.outcome), v.attempts, v.answered, v.content_before_error, plan.hang_up)
        self.outcomes[v.outcome] += 1
        if v.outcome in ("error", "error_midstream"):
            self.error_codes[v.detail] += 1
        elif v.outcome == "ok":
            self.ok_latency.append(v.latency_s)
            self.served_by[v.provider or "?"] += 1
        elif v.outcome in VIOLATIONS and len(self.examples[v.outcome]) < 5:
            self.examples[v.outcome].append(v.detail)
        self.retried += v.attempts > 1
        self.max_attempts = max(self.max_attempts, v.attempts)
        self.degraded += v.degraded
        if self.rss_every and self.completed % self.rss_every == 0:
            release_free_memory()
            self.rss_mb.append(round(psutil.Process().memory_info().rss / 2**20, 1))


async def drive(url: str, plans: list[Plan], concurrency: int, deadline: float, seed: int, tally: Tally) -> None:
    """Run the plans with `concurrency` clients, into `tally`; stop issuing new ones at `deadline`."""
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    queue = collections.deque(plans)
    rng = random.Random(seed)

    async def client(session: aiohttp.ClientSession) -> None:
        while queue and time.monotonic() < deadline:
            plan = queue.popleft()
            tally.add(await run_one(session, url, plan, rng), plan)

    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=None)) as session:
        await asyncio.gather(*(client(session) for _ in range(concurrency)))


@dataclass
class Snapshot:
    fds: int
    upstream_pool: int
    tasks: int
    rss_mb: float


def release_free_memory() -> None:
    """gc, then glibc's malloc_trim: RSS then shows memory in use, not freed pages kept for reuse."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


async def snapshot(gw: Any) -> Snapshot:
    release_free_memory()
    proc = psutil.Process()
    return Snapshot(proc.num_fds(), gw.upstreams.open_connections(), len(asyncio.all_tasks()) - 1,
                    proc.memory_info().rss / 2**20)


def nothing_in_flight(gw: Any) -> bool:
    return gw.in_flight == 0 and all(
        gw.scorer.stats(slug, p)["in_flight"] == 0 for slug, names in MODELS.items() for p in names)


async def settle(gw: Any, mocks: Mocks, session: aiohttp.ClientSession, baseline: Snapshot | None,
                 timeout_s: float) -> tuple[Snapshot, dict[str, int]]:
    """Wait (bounded) until nothing is in flight and tasks are back to baseline; then measure."""
    deadline = time.monotonic() + timeout_s
    while True:
        await asyncio.sleep(0.1)
        mock_in_flight = await mocks.in_flight(session)
        snap = await snapshot(gw)
        tasks_ok = baseline is None or snap.tasks <= baseline.tasks
        if (nothing_in_flight(gw) and not any(mock_in_flight.values()) and tasks_ok) or time.monotonic() > deadline:
            return snap, mock_in_flight


async def chaos_phase(args: argparse.Namespace, mocks: Mocks, control: aiohttp.ClientSession, url: str,
                      plans: list[Plan], seed: int, tally: Tally) -> tuple[float, int]:
    """Drive `plans` while the providers flap; then calm them. Returns the elapsed time and knob changes."""
    stop = asyncio.Event()
    flapper = asyncio.create_task(flap(mocks, control, stop, seed, args.flap_every))
    started = time.monotonic()
    try:
        await drive(url, plans, args.concurrency, started + args.max_seconds, seed, tally)
    finally:
        stop.set()
        flips = await flapper
        await calm(mocks, control)
    return time.monotonic() - started, flips


async def soak(args: argparse.Namespace) -> dict[str, Any]:
    import tempfile

    mocks = Mocks()
    runner = None
    data_dir = tempfile.TemporaryDirectory(prefix="switchyard-chaos-")
    try:
        runner, gw, port = await start_gateway(mocks.urls, data_dir.name)
        url = f"http://127.0.0.1:{port}/v1/chat/completions"
        async with aiohttp.ClientSession() as control:
            # warm-up under the same chaos, so the baseline has seen every code path and buffer size once
            await chaos_phase(args, mocks, control, url, make_plans(args.warmup, args.seed + 1, start=10**7), args.seed + 1, Tally())
            baseline, _ = await settle(gw, mocks, control, None, args.settle_s)
            if args.tracemalloc:
                tracemalloc.start(12)
                traced = tracemalloc.take_snapshot()
            tally = Tally(rss_every=max(1, args.requests // 10), gw=gw)
            soak_started_ms = int(time.time() * 1000)
            elapsed, flips = await chaos_phase(args, mocks, control, url, make_plans(args.requests, args.seed), args.seed, tally)
            after, mock_in_flight = await settle(gw, mocks, control, baseline, args.settle_s)
            in_flight_ok = nothing_in_flight(gw)
            if args.tracemalloc:
                gc.collect()
                for stat in tracemalloc.take_snapshot().compare_to(traced, "traceback")[:8]:
                    print(stat, *stat.traceback.format()[-6:], sep="\n  ")
            circuits = gw.scorer.circuit_counts()
            upstream = await mocks.counters(control)
            log = reconcile_views(tally.seen, *await logged_records(runner.app, soak_started_ms))
        result = report(args, tally, elapsed, flips, baseline, after, mock_in_flight, in_flight_ok, circuits)
        result["upstream_counters"] = upstream  # warm-up included
        result["request_log"] = log
        result["checks"].update({"log_lost_0": log["lost"] == 0, "log_duplicated_0": log["duplicated"] == 0,
                                 "log_mismatched_0": log["mismatched"] == 0})
        result["passed"] = all(result["checks"].values())
        return result
    finally:
        if runner is not None:
            await runner.cleanup()
        mocks.stop()
        data_dir.cleanup()


# -- the report ------------------------------------------------------------------------------------

@dataclass
class Limits:
    fd_delta: int = 2
    task_delta: int = 0
    rss_delta_mb: float = 16.0
    rss_second_half_growth_mb: float = 6.0


def report(args: argparse.Namespace, tally: Tally, elapsed: float, flips: int,
           baseline: Snapshot, after: Snapshot, mock_in_flight: dict[str, int], in_flight_ok: bool,
           circuits: dict[str, int]) -> dict[str, Any]:
    outcomes = tally.outcomes
    limits = Limits()
    fd_delta = (after.fds - after.upstream_pool) - (baseline.fds - baseline.upstream_pool)
    latencies = sorted(tally.ok_latency)
    checks = {
        "all_requests_ran": tally.completed == args.requests,
        "lost_0": outcomes["lost"] == 0 and outcomes["hung"] == 0,
        "duplicated_0": outcomes["duplicated"] == 0,
        "truncated_without_error_0": outcomes["truncated"] == 0 and outcomes["corrupted"] == 0,
        "nothing_in_flight": in_flight_ok and not any(mock_in_flight.values()),
        "fds_back_to_baseline": fd_delta <= limits.fd_delta,
        "tasks_back_to_baseline": after.tasks - baseline.tasks <= limits.task_delta,
        "rss_back_to_baseline": after.rss_mb - baseline.rss_mb <= limits.rss_delta_mb,
        "rss_flat_in_second_half": second_half_growth(tally.rss_mb) <= limits.rss_second_half_growth_mb,
    }
    return {
        "requests": args.requests,
        "completed": tally.completed,
        "elapsed_s": round(elapsed, 2),
        "requests_per_s": round(tally.completed / elapsed, 1) if elapsed else 0.0,
        "concurrency": args.concurrency,
        "seed": args.seed,
        "knob_changes": flips,
        "outcomes": {k: outcomes.get(k, 0) for k in ("ok", "error", "error_midstream", "client_hung_up", *VIOLATIONS)},
        "error_codes": dict(tally.error_codes.most_common(12)),
        "fallbacks": {"answered_after_retries": tally.retried, "max_attempts": tally.max_attempts,
                      "degraded_all_ejected": tally.degraded},
        "served_by": dict(tally.served_by.most_common()),
        "ok_latency_s": {"p50": pct(latencies, 0.5), "p99": pct(latencies, 0.99),
                         "max": round(latencies[-1], 4) if latencies else None},
        "resources": {
            "baseline": asdict(baseline), "after": asdict(after),
            "fd_delta_excluding_upstream_pool": fd_delta, "fd_delta_raw": after.fds - baseline.fds,
            "task_delta": after.tasks - baseline.tasks, "rss_delta_mb": round(after.rss_mb - baseline.rss_mb, 1),
            "rss_mb_every_10pct": tally.rss_mb, "rss_second_half_growth_mb": round(second_half_growth(tally.rss_mb), 1),
            "limits": asdict(limits),
        },
        "mock_in_flight_after": mock_in_flight,
        "circuits_after": circuits,
        "violation_examples": dict(tally.examples),
        "checks": checks,
        "passed": all(checks.values()),
    }


def second_half_growth(samples: list[float]) -> float:
    return samples[-1] - samples[len(samples) // 2] if len(samples) >= 2 else 0.0


def pct(values: list[float], q: float) -> float | None:
    return round(values[min(len(values) - 1, int(q * len(values)))], 4) if values else None


def print_summary(r: dict[str, Any]) -> None:
    res = r["resources"]
    rows = [("requests", f"{r['completed']} / {r['requests']} in {r['elapsed_s']} s ({r['requests_per_s']}/s, {r['concurrency']} clients)"),
            ("knob changes", str(r["knob_changes"])),
            ("upstream faults", f"{sum(c['errors'] for c in r['upstream_counters'].values())} injected in "
                                f"{sum(c['requests'] for c in r['upstream_counters'].values())} upstream requests"),
            ("fallbacks", f"{r['fallbacks']['answered_after_retries']} answers needed >1 attempt "
                          f"(max {r['fallbacks']['max_attempts']}); {r['fallbacks']['degraded_all_ejected']} all-ejected")]
    total = max(1, r["completed"])
    rows += [(f"  {k}", f"{v:>7}  {100 * v / total:5.1f}%") for k, v in r["outcomes"].items()]
    rows += [("ok latency", f"p50 {r['ok_latency_s']['p50']} s, p99 {r['ok_latency_s']['p99']} s"),
             ("fd delta", f"{res['fd_delta_excluding_upstream_pool']} (raw {res['fd_delta_raw']}; pool "
                          f"{res['baseline']['upstream_pool']} -> {res['after']['upstream_pool']})"),
             ("task delta", f"{res['task_delta']} ({res['baseline']['tasks']} -> {res['after']['tasks']})"),
             ("RSS delta", f"{res['rss_delta_mb']} MB ({res['baseline']['rss_mb']:.1f} -> {res['after']['rss_mb']:.1f})"),
             ("RSS every 10%", " ".join(f"{x:.0f}" for x in res["rss_mb_every_10pct"]) + " MB"),
             ("in flight after", f"mocks {sum(r['mock_in_flight_after'].values())}, circuits {r['circuits_after']}")]
    log = r.get("request_log")
    if log:
        rows += [("request log", f"{log['records']} records: lost {log['lost']}, duplicated {log['duplicated']}, "
                                 f"mismatched {log['mismatched']} ({log['dropped']} dropped; "
                                 f"{log['abandoned_before_an_answer']} abandoned before an answer, "
                                 f"{log['abandoned_but_logged']} of them logged)")]
    rows += [(f"check {k}", "ok" if v else "FAILED") for k, v in r["checks"].items()]
    width = max(len(k) for k, _ in rows)
    print("\n".join(f"{k:<{width}}  {v}" for k, v in rows))
    for kind, details in r["violation_examples"].items():
        print(f"{kind}: " + " | ".join(details))
    for example in (log or {}).get("examples", []):
        print(f"log: {example}")
    print("PASSED" if r["passed"] else "FAILED")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=48)
    parser.add_argument("--warmup", type=int, default=1000, help="requests under chaos before the baseline")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--flap-every", type=float, default=0.15, help="seconds between knob changes")
    parser.add_argument("--max-seconds", type=float, default=900.0, help="stop issuing requests after this long")
    parser.add_argument("--settle-s", type=float, default=10.0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--tracemalloc", action="store_true", help="print where memory grew during the soak")
    parser.add_argument("--serve-mocks", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    if args.serve_mocks:
        asyncio.run(serve_mocks())
        return 0
    result = asyncio.run(soak(args))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print_summary(result)
    print(f"report: {os.path.relpath(args.out)}")
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
