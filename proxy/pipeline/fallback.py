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
from typing import TypeVar

from proxy._scorer import Scorer
from proxy.catalog import Route
from proxy.errors import GatewayError, UpstreamError
from proxy.outcome import AttemptOutcome, Outcome
from proxy.redact import redact
from proxy.upstream.drain import Drain

T = TypeVar("T")

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


async def run_with_fallback(
    candidates: list[Route],
    attempt: Callable[[Route], Awaitable[T]],
    scorer: Scorer,
    drain: Drain,
    max_attempts: int,
    outcome: Outcome,
    notes: dict[str, str],
) -> tuple[T, int]:
    """Returns the first successful attempt's result and the number of attempts made.

    Each attempt runs its own single timer, registered with the drain (see upstream/attempt.py); a
    TimeoutError that leaves one means the shutdown's grace deadline ended it. `attempt` may be a
    plain function returning an awaitable, which keeps one coroutine frame out of every resume.

    Ejected providers (circuit open) are tried only after every available one; when all candidates
    are ejected the least-bad is tried anyway and `notes` (response headers) gets a degraded header.
    Each try is added to `outcome.attempts`; the successful one is completed by the caller.
    """
    failures: list[FailedAttempt] = []
    tries, all_ejected = order_by_availability(scorer, candidates)
    tries = tries[:max_attempts]
    if all_ejected:
        notes[DEGRADED_HEADER] = ALL_EJECTED
    for route in tries:
        if drain.expired():
            raise shutting_down(notes)
        scorer.begin(route.model, route.provider)
        record = outcome.begin_attempt(route.model, route.provider)
        started = time.perf_counter()
        try:
            result = await attempt(route)
        except UpstreamError as exc:
            exc.message = redact(exc.message, [route.api_key])
            record_failure(scorer, route, exc)
            end_attempt(record, started, attempt_result(exc), exc.status, exc.message)
            failures.append(FailedAttempt(route, exc))
            if not exc.retriable or len(tries) == 1:
                raise upstream_to_client(exc, route, len(failures), notes) from None
            continue
        except TimeoutError:  # only the drain's deadline gets here; attempts map their own limits
            scorer.record(route.model, route.provider, "cancelled")
            end_attempt(record, started, "cancelled", 503, "the gateway shut down")
            raise shutting_down(notes) from None
        except asyncio.CancelledError:
            scorer.record(route.model, route.provider, "cancelled")
            end_attempt(record, started, "cancelled", None, "the client went away")
            raise
        except GatewayError as exc:  # the request's fault (found late), not the provider's
            scorer.record(route.model, route.provider, "cancelled")
            end_attempt(record, started, f"http_{exc.status}", exc.status, exc.message)
            raise
        except BaseException as exc:  # the gateway's own bug (a translation that failed): not the provider's doing
            scorer.record(route.model, route.provider, "cancelled")
            end_attempt(record, started, "http_500", 500, type(exc).__name__)
            raise
        return result, len(failures) + 1
    raise exhausted(failures, notes)


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
