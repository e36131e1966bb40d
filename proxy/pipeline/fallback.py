"""The fallback loop: try candidates in order until one answers; each client gets one response.

Retriable failures (connection errors, timeouts, 429, 5xx, overload) move on to the next candidate;
anything else fails fast. Every attempt's outcome goes to the scorer, success included (by the
caller, once the answer has been fully delivered, so stream timings are real).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from proxy._scorer import Scorer
from proxy.catalog import Route
from proxy.errors import GatewayError, UpstreamError
from proxy.outcome import AttemptOutcome, Outcome
from proxy.redact import redact
from proxy.routing.hedging import HedgePlan, HedgeResult, Hedging
from proxy.upstream.drain import Drain

T = TypeVar("T")
# (model, provider) -> None to go ahead, or an awaitable saying whether this replica may probe it
ProbeGate = Callable[[str, str], Awaitable[bool] | None]

# Upstream answers that are the caller's fault say nothing about the provider's health.
NEUTRAL_STATUSES = frozenset({400, 404, 413, 422})


@dataclass(frozen=True, slots=True)
class FailedAttempt:
    route: Route
    error: UpstreamError

    def describe(self) -> str:
        return f"{self.route.model} via {self.route.provider}: HTTP {self.error.status} {self.error.message}"


DEGRADED_HEADER = "x-switchyard-degraded"
ALL_EJECTED = "all-providers-ejected"


@dataclass(slots=True)
class Won(Generic[T]):
    """The answer's attempt: its result, its record in the outcome, and how many attempts were started."""

    result: T
    record: AttemptOutcome
    attempts: int


async def run_with_fallback(
    candidates: list[Route],
    attempt: Callable[[Route], Awaitable[T]],
    scorer: Scorer,
    drain: Drain,
    max_attempts: int,
    outcome: Outcome,
    notes: dict[str, str],
    hedging: Hedging | None = None,
    hedge: HedgePlan | None = None,
    probe_gate: ProbeGate | None = None,
) -> Won[T]:
    """The first successful attempt, with its record and the number of attempts made.

    Each attempt arms one deadline with the drain's shared timer (see upstream/attempt.py); a
    TimeoutError that leaves one means the shutdown's grace deadline ended it. `attempt` may be a
    plain function returning an awaitable, which keeps one coroutine frame out of every resume.

    Ejected providers (circuit open) are tried only after every available one; when all candidates
    are ejected the least-bad is tried anyway and `notes` (response headers) gets a degraded header.
    Each try is added to `outcome.attempts`; the successful one is completed by the caller. With a
    `hedge` plan (and a second candidate) the attempts race instead: see `run_hedged`.
    `probe_gate` (replicas sharing provider health) may hold back a half-open provider whose probe
    another replica has taken.
    """
    failures: list[FailedAttempt] = []
    tries, all_ejected = order_by_availability(scorer, candidates)
    tries = tries[:max_attempts]
    if all_ejected:
        notes[DEGRADED_HEADER] = ALL_EJECTED
    if hedge is not None and hedging is not None and len(tries) > 1:
        return await run_hedged(tries, attempt, scorer, drain, outcome, notes, hedging, hedge)
    for route in tries:
        if drain.expired():
            raise shutting_down(notes)
        if probe_gate is not None:
            contested = probe_gate(route.model, route.provider)
            if contested is not None and not await contested and route is not tries[-1]:
                continue  # another replica is probing this provider: try the next candidate
        scorer.begin(route.model, route.provider)
        record = outcome.begin_attempt(route.model, route.provider)
        started = time.perf_counter()
        try:
            result = await attempt(route)
        except BaseException as exc:
            fatal = settle_failure(exc, route, record, started, scorer, failures, len(tries) == 1, notes, hedging)
            if fatal is None:
                continue
            if fatal is exc:
                raise
            raise fatal from None
        return Won(result, record, len(failures) + 1)
    raise exhausted(failures, notes)


def settle_failure(exc: BaseException, route: Route, record: AttemptOutcome, started: float, scorer: Scorer,
                   failures: list[FailedAttempt], single: bool, notes: dict[str, str],
                   hedging: Hedging | None) -> BaseException | None:
    """Score and record a failed attempt; the exception the request must end with, or None to go on.

    Retriable upstream failures go on (unless `single`); a TimeoutError is the drain's deadline (a
    503); the client leaving, a late 400 (the request's fault) and gateway bugs end the request."""
    if isinstance(exc, UpstreamError):
        exc.message = redact(exc.message, [route.api_key])
        record_failure(scorer, route, exc)
        if exc.status == 429 and hedging is not None:
            hedging.on_rate_limited(route, exc.retry_after_s)
        end_attempt(record, started, attempt_result(exc), exc.status, exc.message)
        failures.append(FailedAttempt(route, exc))
        if not exc.retriable or single:
            return upstream_to_client(exc, route, len(failures), notes)
        return None
    if isinstance(exc, TimeoutError):  # only the drain's deadline gets here; attempts map their own limits
        scorer.record(route.model, route.provider, "cancelled")
        end_attempt(record, started, "cancelled", 503, "the gateway shut down")
        return shutting_down(notes)
    if isinstance(exc, asyncio.CancelledError):
        scorer.record(route.model, route.provider, "cancelled")
        end_attempt(record, started, "cancelled", None, "the client went away")
        return exc
    if isinstance(exc, GatewayError):  # the request's fault (found late), not the provider's
        scorer.record(route.model, route.provider, "cancelled")
        end_attempt(record, started, f"http_{exc.status}", exc.status, exc.message)
        return exc
    # the gateway's own bug (a translation that failed): not the provider's doing
    scorer.record(route.model, route.provider, "cancelled")
    end_attempt(record, started, "http_500", 500, type(exc).__name__)
    return exc


@dataclass(slots=True)
class Racer:
    route: Route
    record: AttemptOutcome
    started: float
    task: asyncio.Future[Any]


async def run_hedged(tries: list[Route], attempt: Callable[[Route], Awaitable[T]], scorer: Scorer, drain: Drain,
                     outcome: Outcome, notes: dict[str, str], hedging: Hedging, hedge: HedgePlan) -> Won[T]:
    """Attempts as racing tasks. The lead runs alone until it produces content (its awaitable returns)
    or the hedge delay passes with budget left; then the next candidate the policy allows starts too.
    The first to produce content wins; the others are cancelled at once (their connections close) and
    recorded as `hedge_lost`, censored in the TTFT quantile and never counted against their provider.
    A failure leaves the others racing; with none left, the next candidate starts (plain fallback)."""
    queue = list(tries)
    failures: list[FailedAttempt] = []
    racers: list[Racer] = []
    launched = extra = 0
    lead: Racer | None = None
    deadline: float | None = None

    def launch(route: Route) -> Racer:
        nonlocal launched
        scorer.begin(route.model, route.provider)
        racer = Racer(route, outcome.begin_attempt(route.model, route.provider), time.perf_counter(),
                      asyncio.ensure_future(attempt(route)))
        racers.append(racer)
        launched += 1
        return racer

    try:
        while True:
            if not racers:
                if not queue:
                    raise exhausted(failures, notes)
                if drain.expired():
                    raise shutting_down(notes)
                lead = launch(queue.pop(0))
                delay = hedging.delay_ms(hedge, lead.route) if extra < hedge.max_extra else None
                deadline = None if delay is None else lead.started + delay / 1000.0
            timeout = None if deadline is None or not queue else max(0.0, deadline - time.perf_counter())
            done, _ = await asyncio.wait([r.task for r in racers], timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            if not done:
                deadline = None  # one hedge per lead; a further one waits for the next lead
                target = next((r for r in queue if hedging.may_hedge_to(r)), None)
                if target is None:
                    continue
                if not hedging.budget.take():
                    hedging.count("skipped_budget")
                    outcome.hedge = "skipped_budget"
                    continue
                queue.remove(target)
                launch(target)
                extra += 1
                continue
            for racer in [r for r in racers if r.task in done]:
                racers.remove(racer)
                exc = racer.task.exception()
                if exc is None:
                    lose(racers, scorer)
                    if extra:
                        # "won": a hedge produced the answer; "lost": the lead did, though hedged
                        verdict: HedgeResult = "lost" if racer is lead else "won"
                        hedging.count(verdict)
                        outcome.hedge = verdict
                    return Won(racer.task.result(), racer.record, launched)
                fatal = settle_failure(exc, racer.route, racer.record, racer.started, scorer, failures, False, notes,
                                       hedging)
                if fatal is not None:
                    abandon(racers, scorer, "another attempt failed the request")
                    if fatal is exc:
                        raise exc
                    raise fatal from None
    except asyncio.CancelledError:
        abandon(racers, scorer, "the client went away")
        raise


def lose(racers: list[Racer], scorer: Scorer) -> None:
    """Cancel the racers that did not win: `hedge_lost`, censored at their wait, no verdict on health."""
    for racer in racers:
        waited = (time.perf_counter() - racer.started) * 1000.0
        stop(racer)
        scorer.record(racer.route.model, racer.route.provider, "cancelled", waited_ms=waited)
        end_attempt(racer.record, racer.started, "hedge_lost", None, None)
    racers.clear()


def abandon(racers: list[Racer], scorer: Scorer, why: str) -> None:
    for racer in racers:
        stop(racer)
        scorer.record(racer.route.model, racer.route.provider, "cancelled")
        end_attempt(racer.record, racer.started, "cancelled", None, why)
    racers.clear()


def stop(racer: Racer) -> None:
    """Cancel the attempt now; if it had already produced content, close what it opened."""
    racer.task.cancel()
    racer.task.add_done_callback(release_result)


def release_result(task: asyncio.Future[Any]) -> None:
    if task.cancelled() or task.exception() is not None:
        return  # the exception is retrieved: a cancelled racer's failure is of no interest
    close = getattr(task.result(), "close", None)
    if close is not None:
        close()


def attempt_result(exc: UpstreamError) -> str:
    """An attempt outcome's name: timeout, connect_error, stream_error or http_<status>."""
    if exc.code == "upstream_timeout":
        return "timeout"
    if exc.code == "upstream_connection_error":
        return "connect_error"
    if exc.in_stream:
        return "stream_error"
    return f"http_{exc.status}"


def end_attempt(record: AttemptOutcome, started: float, result: str, status: int | None, error: str | None) -> None:
    record.outcome = result
    record.status = status
    record.error = error
    record.duration_ms = round((time.perf_counter() - started) * 1000.0, 3)


def order_by_availability(scorer: Scorer, candidates: list[Route]) -> tuple[list[Route], bool]:
    """Available candidates first (order kept), then ejected ones; and whether all are ejected."""
    available: list[Route] = []
    ejected: list[Route] = []
    for route in candidates:
        (available if scorer.is_available(route.model, route.provider) else ejected).append(route)
    return available + ejected, bool(candidates) and not available


def shutting_down(notes: dict[str, str] | None) -> GatewayError:
    return GatewayError(
        503,
        "The gateway is shutting down and could not finish this request in time; retry it.",
        code="gateway_shutting_down",
        headers={**(notes or {}), "retry-after": "1"},
    )


def record_failure(scorer: Scorer, route: Route, exc: UpstreamError) -> None:
    """Only what the provider caused counts against it: not the client's own input (400, 404, 413,
    422) nor a deadline the client set below the provider's default."""
    if exc.status in NEUTRAL_STATUSES or exc.caused_by_client:
        scorer.record(route.model, route.provider, "cancelled")
        return
    retry_after_ms = exc.retry_after_s * 1000.0 if exc.retry_after_s is not None else None
    scorer.record(route.model, route.provider, "error", retry_after_ms=retry_after_ms)


def upstream_to_client(exc: UpstreamError, route: Route, attempts: int, notes: dict[str, str] | None = None) -> GatewayError:
    headers = {**(notes or {}), "x-switchyard-provider": route.provider, "x-switchyard-attempts": str(attempts)}
    if exc.retry_after_s is not None:
        headers["retry-after"] = str(int(exc.retry_after_s + 0.999))
    return GatewayError(
        502 if exc.status == 500 else exc.status,  # the provider's 500 is not the gateway's own bug
        f"Provider '{route.provider}' ({route.model}): {exc.message}",
        type=exc.type,
        param=exc.param,
        code=exc.code,
        headers=headers,
    )


def exhausted(failures: list[FailedAttempt], notes: dict[str, str] | None = None) -> GatewayError:
    last = failures[-1]
    statuses = {f.error.status for f in failures}
    # 500 would read as the gateway's own bug; an upstream failure is a 502 unless all said the same
    status = 429 if statuses == {429} else 504 if statuses == {504} else 503 if statuses == {503} else 502
    detail = "; ".join(f.describe() for f in failures)
    return GatewayError(
        status,
        f"All {len(failures)} candidate(s) failed: {detail}",
        type="upstream_error",
        code="all_providers_failed",
        headers={**(notes or {}), "x-switchyard-provider": last.route.provider, "x-switchyard-attempts": str(len(failures))},
    )
