"""The chat pipeline: a ChatCall and the resources it needs in, an internal answer out. No HTTP here.

`complete` returns a whole OpenAI-shaped `chat.completion`; `open_stream` returns a ChatStream whose
first content has arrived, and `relay` then hands its chunks to the front end's renderer as they
come. Both plan candidates (routing), run the fallback loop over attempts (upstream) and fill the
request's Outcome, which they finish when the answer ends.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from proxy._scorer import Scorer
from proxy.call import ChatCall
from proxy.catalog import AdapterTarget, Route
from proxy.errors import GatewayError, UpstreamError, internal_error
from proxy.outcome import AttemptOutcome, Outcome
from proxy.pipeline.accounting import StreamTally, answer_text, finish_reason_of, shape_completion
from proxy.pipeline.cached import (
    CacheUse,
    ReplayStream,
    cache_use,
    consult,
    fill_completion,
    fill_stream,
    replay,
)
from proxy.pipeline.dispatch import FinishOnFailure, attempts, dispatch, fail, price_hedge_losers
from proxy.pipeline.fanout import fan_out, single_choice
from proxy.pipeline.resources import ChatResources, OnFinish
from proxy.redact import redact, redacted_traceback
from proxy.routing.model_fit import N_WIRES, choice_count
from proxy.store.bodies import captured_bodies
from proxy.upstream.attempt import JsonAttempt, OpenedStream, attempt_json, open_stream
from proxy.upstream.stream import pump_until_deadline
from proxy.upstream.timeouts import AttemptTimeouts, attempt_timeouts

__all__ = ["ChatResources", "ChatStream", "Completion", "OnFinish", "StreamRenderer", "complete", "describe", "fail",
           "gateway_notes", "new_outcome", "open_chat_stream", "relay"]

log = logging.getLogger("switchyard")

Write = Callable[[bytes], Awaitable[None]]
# A front end's hook for an attempt whose upstream answered 200: the notes its answer would carry
OnOpen = Callable[[dict[str, str]], Awaitable[None]]
# Failures of the gateway itself, not of the provider that was streaming.
GATEWAY_CODES = frozenset({"gateway_shutting_down", "internal_error"})


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


def gateway_notes(route: Route, attempts: int, notes: dict[str, str]) -> dict[str, str]:
    notes["x-switchyard-provider"] = route.provider
    notes["x-switchyard-attempts"] = str(attempts)
    notes["x-switchyard-model"] = route.model
    return notes


async def complete(call: ChatCall, res: ChatResources, outcome: Outcome, received_at: float) -> Completion:
    """A whole answer. `received_at` (event-loop time) anchors the request's total deadline."""
    use = cache_use(call, res.cache)
    hit = await consult(use, res.cache, res.catalog, outcome) if use is not None else None
    if hit is not None:
        answer, route, notes = hit
        outcome.ttft_ms = round(outcome.elapsed_ms(), 3)
        outcome.finish("ok", 200)
        return Completion(answer.as_completion(), route, notes)
    body, upstreams, drain = call.body, res.upstreams, res.drain
    headers_within_s = call.timeouts.first_token_s  # the request's own first-token limit, if it set one

    def send(route: Route, t: AttemptTimeouts, target: AdapterTarget | None) -> Awaitable[JsonAttempt]:
        return attempt_json(upstreams.session_for(route.base_url), route, body, t, drain, headers_within_s, target)

    attempt = None
    n = choice_count(body)
    if n > 1:  # for an API without `n` (Anthropic, Gemini): n single-choice attempts in parallel, merged
        keyed, one = attempts(call, res, received_at, send), single_choice(body)

        def attempt(route: Route) -> Awaitable[JsonAttempt]:
            if route.wire in N_WIRES:
                return keyed(route)
            t = attempt_timeouts(route.timeouts, call.timeouts, received_at)
            session = upstreams.session_for(route.base_url)
            return fan_out(n, lambda: attempt_json(session, route, one, t, drain, headers_within_s))

    with FinishOnFailure(outcome):
        run = dispatch(call, res, outcome, received_at, send, use is not None, attempt)
        won = await run.won
    result, record, attempts_made = won.result, won.record, won.attempts
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
    return Completion(data, route, gateway_notes(route, attempts_made, run.notes))


async def open_chat_stream(call: ChatCall, res: ChatResources, outcome: Outcome, received_at: float,
                           on_open: OnOpen | None = None) -> ChatStream | ReplayStream:
    """A stream whose first content has arrived (nothing is sent to the client before that, so a
    failure until then falls back invisibly), or a cached answer to replay. Hand it to `relay`.
    `on_open` is awaited whenever an attempt's upstream has answered 200 and has yet to send content,
    with the notes that attempt's answer would carry: the front end prepares its answer then, while
    the upstream thinks, not on the first token's way (the stream's `notes` say who won in the end)."""
    use = cache_use(call, res.cache)
    hit = await consult(use, res.cache, res.catalog, outcome) if use is not None else None
    if hit is not None:
        return ReplayStream(*hit)
    body, upstreams, drain = call.body, res.upstreams, res.drain

    def send(route: Route, t: AttemptTimeouts, target: AdapterTarget | None) -> Awaitable[OpenedStream]:
        opened = None if on_open is None else (
            lambda: on_open(gateway_notes(route, len(outcome.attempts), dict(run.notes))))
        return open_stream(upstreams.session_for(route.base_url), route, body, t, drain, target, opened)

    with FinishOnFailure(outcome):
        run = dispatch(call, res, outcome, received_at, send, use is not None)
        won = await run.won
    opened, record, attempts_made = won.result, won.record, won.attempts
    price_hedge_losers(outcome, body, res)
    route = opened.route
    outcome.model, outcome.provider = route.model, route.provider
    record.ttft_ms, record.status = round(opened.first_token_ms, 3), 200
    return ChatStream(opened, route, gateway_notes(route, attempts_made, run.notes),
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
