"""The chat pipeline: a ChatCall and the resources it needs in, an internal answer out. No HTTP here.

`complete` returns a whole OpenAI-shaped `chat.completion`; `open_stream` returns a ChatStream whose
first content has arrived, and `relay` then hands its chunks to the front end's renderer as they
come. Both plan candidates (routing), run the fallback loop over attempts (upstream) and fill the
request's Outcome, which they finish when the answer ends.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from proxy._scorer import Scorer
from proxy.call import ChatCall
from proxy.catalog import Catalog, Route
from proxy.errors import GatewayError, UpstreamError, internal_error
from proxy.outcome import AttemptOutcome, AutoRoute, Outcome, RouteCandidate
from proxy.pipeline.accounting import (
    StreamTally,
    answer_text,
    estimate_usage,
    finish_reason_of,
    shape_completion,
)
from proxy.pipeline.cached import (
    CACHE_HEADER,
    AnswerCache,
    CacheUse,
    ReplayStream,
    account_hit,
    cache_use,
    fill_completion,
    fill_stream,
    lookup,
    replay,
)
from proxy.pipeline.fallback import ProbeGate, run_with_fallback
from proxy.pipeline.fanout import fan_out, single_choice
from proxy.redact import redact, redacted_traceback
from proxy.routing.candidates import CandidatePlan, plan_candidates
from proxy.routing.hedging import HedgePlan, Hedging
from proxy.routing.model_fit import N_WIRES, choice_count
from proxy.routing.model_routing import AutoDecision, ModelRouter
from proxy.store.bodies import captured_bodies
from proxy.upstream.attempt import JsonAttempt, OpenedStream, attempt_json, open_stream
from proxy.upstream.drain import Drain
from proxy.upstream.keys import UpstreamKeys
from proxy.upstream.pool import UpstreamPool
from proxy.upstream.stream import pump_until_deadline
from proxy.upstream.timeouts import attempt_timeouts

log = logging.getLogger("switchyard")

OnFinish = Callable[[Outcome], None]
Write = Callable[[bytes], Awaitable[None]]
ROUTE_HEADER = "x-switchyard-route"
# Failures of the gateway itself, not of the provider that was streaming.
GATEWAY_CODES = frozenset({"gateway_shutting_down", "internal_error"})


@dataclass(frozen=True, slots=True)
class ChatResources:
    """What the pipeline needs, built once per process (see proxy.app)."""

    catalog: Catalog
    scorer: Scorer
    model_router: ModelRouter | None
    upstreams: UpstreamPool
    drain: Drain
    max_attempts: int
    on_finish: Sequence[OnFinish] = ()
    upstream_keys: UpstreamKeys | None = None  # providers with several API keys, used in turn
    probe_gate: ProbeGate | None = None  # replicas sharing provider health: who probes a half-open one
    bodies_max_bytes: int = 0  # log.bodies: keep messages and answers (redacted, capped) on the outcome; 0: never
    hedging: Hedging | None = None
    cache: AnswerCache | None = None


class StreamRenderer(Protocol):
    """A front end's framing of a stream. Chunks come with the catalogue model name and usage (with
    cost) already set; the renderer only writes them in its wire format."""

    def encode(self, chunks: list[dict[str, Any]]) -> bytes: ...

    def closing(self, usage: dict[str, Any], first: dict[str, Any] | None) -> bytes:
        """After the last upstream chunk: whatever ends a complete stream."""
        ...

    def failure(self, error: GatewayError, message: str) -> bytes:
        """The last event of a stream that broke after content was sent."""
        ...


@dataclass(slots=True)
class Completion:
    data: dict[str, Any]  # OpenAI `chat.completion`, model and usage (with cost) set
    route: Route
    notes: dict[str, str]  # gateway metadata for the response headers (x-switchyard-*)


@dataclass(slots=True)
class ChatStream:
    opened: OpenedStream
    route: Route
    notes: dict[str, str]
    tally: StreamTally
    attempt: AttemptOutcome
    bodies_max_bytes: int = 0
    cache_use: CacheUse | None = None
    captured: list[bytes] | None = None  # the relayed batches, serialised, when the answer is to be cached


def new_outcome(request_id: str, api: str, res: ChatResources, simulated: bool = False) -> Outcome:
    """A request's outcome, begun at arrival (before its body is read, so a 400 is an outcome too)."""
    return Outcome(request_id, api, simulated=simulated, hooks=res.on_finish)


def describe(outcome: Outcome, call: ChatCall) -> None:
    """What the checked call says about the request, for the outcome."""
    outcome.client_request_id = call.client_request_id
    outcome.model_requested = call.model
    outcome.stream = call.stream
    outcome.tags = call.tags  # read-only already


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
    prompt_tokens: int | None = None
    for record in outcome.attempts:
        if record.outcome != "hedge_lost":
            continue
        if prompt_tokens is None:
            prompt_tokens = int(estimate_usage(body, 0)["prompt_tokens"])
        route = res.catalog.models[record.model].routes.get(record.provider)
        record.cost_usd = route.cost_usd(prompt_tokens, 0) if route is not None else None
        record.cost_estimated = True


def gateway_notes(route: Route, attempts: int, notes: dict[str, str]) -> dict[str, str]:
    notes["x-switchyard-provider"] = route.provider
    notes["x-switchyard-attempts"] = str(attempts)
    notes["x-switchyard-model"] = route.model
    return notes


async def complete(call: ChatCall, res: ChatResources, outcome: Outcome, received_at: float) -> Completion:
    """A whole answer. `received_at` (event-loop time) anchors the request's total deadline."""
    use = cache_use(call, res.cache)
    if use is not None and res.cache is not None:
        hit = await lookup(res.cache, use, res.catalog)
        if hit is not None:
            answer, route = hit
            notes: dict[str, str] = {}
            account_hit(outcome, answer, notes)
            outcome.ttft_ms = round(outcome.elapsed_ms(), 3)
            outcome.finish("ok", 200)
            return Completion(answer.as_completion(), route, notes)
    try:
        candidates, notes = plan(call, res, outcome)
        if use is not None:
            notes[CACHE_HEADER] = outcome.cache = "miss"
        body, overrides, upstreams, drain = call.body, call.timeouts, res.upstreams, res.drain
        keys = res.upstream_keys

        n = choice_count(body)
        headers_within_s = overrides.first_token_s  # the request's own first-token limit, if it set one

        # a plain function returning the attempt's coroutine: one frame fewer on every resume
        def attempt(route: Route) -> Awaitable[JsonAttempt]:
            t = attempt_timeouts(route.timeouts, overrides, received_at)
            session = upstreams.session_for(route.base_url)
            if n > 1 and route.wire not in N_WIRES:  # no `n` in this API: n attempts in parallel, merged
                one = single_choice(body)
                return fan_out(n, lambda: attempt_json(session, route, one, t, drain, headers_within_s))
            if keys is None or route.provider not in keys.rings:
                return attempt_json(session, route, body, t, drain, headers_within_s)
            return keys.call(route, body,
                             lambda target: attempt_json(session, route, body, t, drain, headers_within_s, target))

        won = await run_with_fallback(candidates.candidates, attempt, res.scorer, drain, res.max_attempts,
                                      outcome, notes, res.hedging, hedge_plan(call, res, candidates), res.probe_gate)
    except BaseException as exc:
        fail(outcome, exc)
        raise
    result, record, attempts = won.result, won.record, won.attempts
    if outcome.hedge is not None:
        price_hedge_losers(outcome, body, res)
    route = result.route
    res.scorer.record(route.model, route.provider, "ok", first_token_ms=result.elapsed_ms)
    data = shape_completion(result.response, route, body)
    usage = data["usage"]
    record.ttft_ms = record.duration_ms = round(result.elapsed_ms, 3)
    record.status, record.cost_usd = 200, usage.get("cost_usd")
    outcome.model, outcome.provider, outcome.usage = route.model, route.provider, usage
    outcome.finish_reason = finish_reason_of(data)
    if res.bodies_max_bytes:
        outcome.bodies = captured_bodies(body.get("messages"), answer_text(data.get("choices") or []),
                                         res.bodies_max_bytes, [route.api_key])
    outcome.ttft_ms = round(outcome.elapsed_ms(), 3)
    if use is not None and res.cache is not None:
        await fill_completion(res.cache, use, data, route, outcome.finish_reason)
    outcome.finish("ok", 200)
    return Completion(data, route, gateway_notes(route, attempts, notes))


async def open_chat_stream(call: ChatCall, res: ChatResources, outcome: Outcome,
                           received_at: float) -> ChatStream | ReplayStream:
    """A stream whose first content has arrived (nothing is sent to the client before that, so a
    failure until then falls back invisibly), or a cached answer to replay. Hand it to `relay`."""
    use = cache_use(call, res.cache)
    if use is not None and res.cache is not None:
        hit = await lookup(res.cache, use, res.catalog)
        if hit is not None:
            answer, route = hit
            notes: dict[str, str] = {}
            account_hit(outcome, answer, notes)
            return ReplayStream(answer, route, notes)
    try:
        candidates, notes = plan(call, res, outcome)
        if use is not None:
            notes[CACHE_HEADER] = outcome.cache = "miss"
        body, overrides, upstreams, drain = call.body, call.timeouts, res.upstreams, res.drain
        keys = res.upstream_keys

        def attempt(route: Route) -> Awaitable[OpenedStream]:
            t = attempt_timeouts(route.timeouts, overrides, received_at)
            session = upstreams.session_for(route.base_url)
            if keys is None or route.provider not in keys.rings:
                return open_stream(session, route, body, t, drain)
            return keys.call(route, body, lambda target: open_stream(session, route, body, t, drain, target))

        won = await run_with_fallback(candidates.candidates, attempt, res.scorer, drain, res.max_attempts,
                                      outcome, notes, res.hedging, hedge_plan(call, res, candidates), res.probe_gate)
    except BaseException as exc:
        fail(outcome, exc)
        raise
    opened, record, attempts = won.result, won.record, won.attempts
    if outcome.hedge is not None:
        price_hedge_losers(outcome, body, res)
    route = opened.route
    outcome.model, outcome.provider = route.model, route.provider
    record.ttft_ms, record.status = round(opened.first_token_ms, 3), 200
    return ChatStream(opened, route, gateway_notes(route, attempts, notes),
                      StreamTally(route, body, keep_text=res.bodies_max_bytes > 0), record, res.bodies_max_bytes,
                      use, [] if use is not None else None)


async def relay(stream: ChatStream | ReplayStream, renderer: StreamRenderer, start: Callable[[], Awaitable[Any]],
                write: Write, res: ChatResources, outcome: Outcome) -> None:
    """`start` the answer (its status and headers), send the held opening chunks, then the rest as
    they arrive; a failure ends in the renderer's error event. The stream's result goes to the scorer
    and the outcome once: ok, partial (the provider broke the stream, or the gateway shut down), or
    cancelled (the client left). A complete answer fills the cache if the request uses it."""
    if isinstance(stream, ReplayStream):
        await replay(stream, renderer, start, write, outcome)
        return
    opened, route, tally, captured = stream.opened, stream.route, stream.tally, stream.captured

    def emit(chunks: list[dict[str, Any]]) -> Awaitable[None]:
        tally.feed(chunks)
        if captured is not None:  # before the renderer, which may drop fields the client did not ask for
            captured.append(orjson.dumps(chunks))
        return write(renderer.encode(chunks))

    scored, status = "cancelled", "cancelled"
    failure: GatewayError | None = None
    started = False
    try:
        await start()
        started = True
        await emit(opened.held)
        outcome.ttft_ms = round(outcome.elapsed_ms(), 3)
        await pump_until_deadline(opened, emit, res.drain)
        await write(renderer.closing(tally.final_usage(), tally.first))
        scored, status = "ok", "ok"
        if stream.cache_use is not None and captured is not None and res.cache is not None:
            await fill_stream(res.cache, stream.cache_use, captured, route, tally.final_usage(), tally.finish_reason)
    except UpstreamError as exc:
        scored = "cancelled" if exc.code == "gateway_shutting_down" or exc.caused_by_client else "error"
        status, failure = "partial", exc
        if started:
            await write_quietly(write, renderer.failure(exc, failure_message(exc, route)))
    except ConnectionError:
        pass  # the client went away: recorded as cancelled, the upstream closed below
    except Exception as exc:  # a bug must still end the stream visibly, and be logged once
        log.error("stream relay failed for %s via %s: %s", route.model, route.provider,
                  redacted_traceback(exc, [route.api_key]))
        internal = internal_error("Internal gateway error while relaying the stream.")
        internal.__cause__ = exc
        status, failure = "partial", internal
        if started:
            await write_quietly(write, renderer.failure(internal, internal.message))
    finally:
        opened.close()
        record_stream(res.scorer, stream, scored)
        end_stream(outcome, stream, status, failure)


async def write_quietly(write: Write, data: bytes) -> None:
    """The last words of a broken stream; a client that left meanwhile hears nothing, as it asked."""
    try:
        await write(data)
    except ConnectionError:
        pass


def failure_message(exc: GatewayError, route: Route) -> str:
    message = redact(exc.message, [route.api_key])
    if exc.code in GATEWAY_CODES:
        return message
    return f"Provider '{route.provider}' failed mid-stream: {message} The answer above is incomplete."


def record_stream(scorer: Scorer, stream: ChatStream, scored: str) -> None:
    opened, route = stream.opened, stream.route
    if scored != "ok":
        scorer.record(route.model, route.provider, scored)
        return
    elapsed = time.perf_counter() - opened.first_token_at
    tally = stream.tally
    completion = (tally.usage or {}).get("completion_tokens") or max(1, tally.completion_chars // 4)
    tokens_per_s = completion / elapsed if elapsed > 0.001 else None
    scorer.record(route.model, route.provider, "ok", first_token_ms=opened.first_token_ms, tokens_per_s=tokens_per_s)


def end_stream(outcome: Outcome, stream: ChatStream, status: str, failure: GatewayError | None) -> None:
    tally, record = stream.tally, stream.attempt
    usage = tally.final_usage()
    record.duration_ms = round((time.perf_counter() - stream.opened.started) * 1000.0, 3)
    record.cost_usd = usage.get("cost_usd")
    if status == "cancelled":
        record.outcome = "cancelled"
    elif failure is not None and failure.code != "internal_error":
        record.outcome, record.error = "stream_error", failure.message
    outcome.usage, outcome.finish_reason = usage, tally.finish_reason
    if tally.text is not None:
        outcome.bodies = captured_bodies(tally.body.get("messages"), "".join(tally.text), stream.bodies_max_bytes,
                                         [stream.route.api_key])
    if failure is not None:
        outcome.finish("partial", 200, failure.message, failure.code)
    else:
        outcome.finish("ok" if status == "ok" else "cancelled", 200)


def fail(outcome: Outcome, exc: BaseException) -> None:
    """Finish the outcome of a request that ends without an answer."""
    if isinstance(exc, GatewayError):
        outcome.finish("error", exc.status, exc.message, exc.code)
    elif isinstance(exc, asyncio.CancelledError):
        outcome.finish("cancelled", 499, "the client went away")
    else:
        outcome.finish("error", 500, "internal error", "internal_error")


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
