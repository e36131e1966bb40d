"""The fallback loop: try candidates in order until one answers; each client gets one response.

Retriable failures (connection errors, timeouts, 429, 5xx, overload) move on to the next candidate;
anything else fails fast. Every attempt's outcome goes to the scorer, success included (by the
caller, once the answer has been fully delivered, so stream timings are real).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from proxy.catalog import Route
from proxy.errors import GatewayError
from proxy.gateway import Gateway
from proxy.providers.base import UpstreamError
from proxy.redact import redact

T = TypeVar("T")

# Upstream answers that are the caller's fault say nothing about the provider's health.
NEUTRAL_STATUSES = frozenset({400, 404, 413, 422})


@dataclass(frozen=True, slots=True)
class FailedAttempt:
    route: Route
    error: UpstreamError

    def describe(self) -> str:
        return f"{self.route.model} via {self.route.provider}: HTTP {self.error.status} {self.error.message}"


async def run_with_fallback(
    gw: Gateway, candidates: list[Route], attempt: Callable[[Route], Awaitable[T]]
) -> tuple[T, int]:
    """Returns the first successful attempt's result and the number of attempts made."""
    failures: list[FailedAttempt] = []
    tries = candidates[: gw.settings.routing.max_attempts]
    scorer = gw.scorer
    for route in tries:
        scorer.begin(route.model, route.provider)
        try:
            result = await attempt(route)
        except UpstreamError as exc:
            exc.message = redact(exc.message, [route.api_key])
            record_failure(gw, route, exc)
            failures.append(FailedAttempt(route, exc))
            if not exc.retriable or len(tries) == 1:
                raise upstream_to_client(exc, route, len(failures)) from None
            continue
        except asyncio.CancelledError:
            scorer.record(route.model, route.provider, "cancelled")
            raise
        except BaseException:
            scorer.record(route.model, route.provider, "error")
            raise
        return result, len(failures) + 1
    raise exhausted(failures)


def record_failure(gw: Gateway, route: Route, exc: UpstreamError) -> None:
    if exc.status in NEUTRAL_STATUSES:
        gw.scorer.record(route.model, route.provider, "cancelled")
        return
    retry_after_ms = exc.retry_after_s * 1000.0 if exc.retry_after_s is not None else None
    gw.scorer.record(route.model, route.provider, "error", retry_after_ms=retry_after_ms)


def upstream_to_client(exc: UpstreamError, route: Route, attempts: int) -> GatewayError:
    headers = {"x-switchyard-provider": route.provider, "x-switchyard-attempts": str(attempts)}
    if exc.retry_after_s is not None:
        headers["retry-after"] = str(int(exc.retry_after_s + 0.999))
    return GatewayError(
        exc.status,
        f"Provider '{route.provider}' ({route.model}): {exc.message}",
        type=exc.type,
        param=exc.param,
        code=exc.code,
        headers=headers,
    )


def exhausted(failures: list[FailedAttempt]) -> GatewayError:
    last = failures[-1]
    statuses = {f.error.status for f in failures}
    status = 429 if statuses == {429} else 504 if statuses == {504} else 502 if last.error.status < 500 else last.error.status
    detail = "; ".join(f.describe() for f in failures)
    return GatewayError(
        status,
        f"All {len(failures)} candidate(s) failed: {detail}",
        type="upstream_error",
        code="all_providers_failed",
        headers={"x-switchyard-provider": last.route.provider, "x-switchyard-attempts": str(len(failures))},
    )
