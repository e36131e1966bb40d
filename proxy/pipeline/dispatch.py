"""What a whole answer and a stream share: plan the candidates, one attempt per candidate (with the
route's timeouts and, for providers with several keys, a key from the ring), the fallback loop or the
hedge race over them, and the outcome finished if it all fails.

`dispatch` is a plain function that returns the loop's coroutine unawaited, and the failure guard is
a `with` block: neither adds a coroutine frame that every resume inside an attempt would pass through.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, Generic, NamedTuple, TypeVar

from proxy.call import ChatCall
from proxy.catalog import AdapterTarget, Route
from proxy.errors import GatewayError
from proxy.outcome import AutoRoute, Outcome, RouteCandidate
from proxy.pipeline.accounting import estimate_usage
from proxy.pipeline.cached import CACHE_HEADER
from proxy.pipeline.fallback import Won, run_with_fallback
from proxy.pipeline.resources import ChatResources
from proxy.routing.candidates import CandidatePlan, plan_candidates
from proxy.routing.hedging import HedgePlan
from proxy.routing.model_routing import AutoDecision
from proxy.upstream.timeouts import AttemptTimeouts, attempt_timeouts

T = TypeVar("T")
ROUTE_HEADER = "x-switchyard-route"
# One attempt's transport: (route, its timeouts, the ring's key or None for the route's own) -> result
Send = Callable[[Route, AttemptTimeouts, AdapterTarget | None], Awaitable[T]]


class Dispatched(NamedTuple, Generic[T]):
    won: Awaitable[Won[T]]  # the fallback loop, to await
    notes: dict[str, str]  # gateway metadata for the answer's headers (x-switchyard-*)


def dispatch(call: ChatCall, res: ChatResources, outcome: Outcome, received_at: float, send: Send[T],
             cache_missed: bool = False, attempt: Callable[[Route], Awaitable[T]] | None = None) -> Dispatched[T]:
    """Plan the candidates and start the fallback loop over them, one `send` per attempt (or `attempt`,
    a wrapper of `attempts(...)` for a caller that needs one). Await `.won` inside `FinishOnFailure`."""
    candidates, notes = plan(call, res, outcome)
    if cache_missed:
        notes[CACHE_HEADER] = outcome.cache = "miss"
    return Dispatched(run_with_fallback(
        candidates.candidates, attempt or attempts(call, res, received_at, send), res.scorer, res.drain,
        res.max_attempts, outcome, notes, res.hedging, hedge_plan(call, res, candidates), res.probe_gate), notes)


def attempts(call: ChatCall, res: ChatResources, received_at: float, send: Send[T]) -> Callable[[Route], Awaitable[T]]:
    """The attempt for a route: its timeouts (the request's overrides applied; `received_at`, in
    event-loop time, anchors the total deadline) and, when its provider has a key ring, a key from it."""
    body, overrides, keys = call.body, call.timeouts, res.upstream_keys

    # a plain function returning the attempt's coroutine: one frame fewer on every resume
    def attempt(route: Route) -> Awaitable[T]:
        t = attempt_timeouts(route.timeouts, overrides, received_at)
        if keys is None or route.provider not in keys.rings:
            return send(route, t, None)
        return keys.call(route, body, lambda target: send(route, t, target))

    return attempt


class FinishOnFailure:
    """`with FinishOnFailure(outcome):` around what may end a request without an answer (planning,
    the fallback loop): whatever escapes finishes the outcome (`fail`), then goes on up."""

    __slots__ = ("outcome",)

    def __init__(self, outcome: Outcome) -> None:
        self.outcome = outcome

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if exc is not None:
            fail(self.outcome, exc)


def fail(outcome: Outcome, exc: BaseException) -> None:
    """Finish the outcome of a request that ends without an answer."""
    if isinstance(exc, GatewayError):
        outcome.finish("error", exc.status, exc.message, exc.code)
    elif isinstance(exc, asyncio.CancelledError):
        outcome.finish("cancelled", 499, "the client went away")
    else:
        outcome.finish("error", 500, "internal error", "internal_error")


def plan(call: ChatCall, res: ChatResources, outcome: Outcome) -> tuple[CandidatePlan, dict[str, str]]:
    candidates = plan_candidates(call, res.catalog, res.scorer, res.model_router)
    notes: dict[str, str] = {}
    if candidates.decision is not None:
        notes[ROUTE_HEADER] = candidates.decision.reason
        outcome.route = auto_route(candidates.decision)
    return candidates, notes


def hedge_plan(call: ChatCall, res: ChatResources, candidates: CandidatePlan) -> HedgePlan | None:
    if res.hedging is None or not candidates.candidates:
        return None
    return res.hedging.plan(candidates.candidates[0].model, call.hedge)


def price_hedge_losers(outcome: Outcome, body: dict[str, Any], res: ChatResources) -> None:
    """A hedge's loser was cancelled before its first token: its cost is the prompt's, estimated."""
    if outcome.hedge is None:
        return
    prompt_tokens: int | None = None
    for record in outcome.attempts:
        if record.outcome != "hedge_lost":
            continue
        if prompt_tokens is None:
            prompt_tokens = int(estimate_usage(body, 0)["prompt_tokens"])
        route = res.catalog.models[record.model].routes.get(record.provider)
        record.cost_usd = route.cost_usd(prompt_tokens, 0) if route is not None else None
        record.cost_estimated = True


def learned(adjustment: Any) -> dict[str, Any] | None:
    """A candidate's learned adjustment, kept in the receipt only when feedback has moved its model."""
    return adjustment if isinstance(adjustment, dict) and adjustment.get("evidence") else None


def auto_route(decision: AutoDecision) -> AutoRoute:
    details = decision.details
    candidates = [RouteCandidate(str(c["model"]), str(c["provider"]), float(c["predicted_quality"]),
                                 float(c["estimated_cost_usd"]), float(c["estimated_latency_ms"]), float(c["score"]),
                                 learned(c.get("learned_adjustment")))
                  for c in details.get("candidates", ())]
    features = details.get("features", {})
    return AutoRoute(str(details.get("preference")), float(features.get("difficulty", 0.0)), decision.reason,
                     candidates, features)
