"""One attempt against one (model, provider) route: send the request, classify what comes back.

Every failure leaves here as an UpstreamError, so the fallback loop only has to ask `retriable`.
A streaming attempt returns once the first real content has arrived; what came before it (role-only
chunk, message_start, keep-alive comments) is held, so a failure before that point stays invisible.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from proxy.catalog import AdapterTarget, Route
from proxy.errors import UpstreamError
from proxy.providers.base import StreamTranslator
from proxy.streaming import SSEEvent, SSEParser
from proxy.upstream.deadlines import Deadline
from proxy.upstream.drain import Drain
from proxy.upstream.timeouts import AttemptTimeouts, client_timeout

TIMEOUT_TEXT = {
    "connect": "no connection within the connect timeout",
    "first_token": "no content within the first-token timeout",
    "idle": "no data within the idle timeout",
    "total": "the request's total timeout ran out",
}


def client_set_lower(route: Route, t: AttemptTimeouts | None, phase: str) -> bool:
    """Whether the limit that ran out in `phase` is one the client set below the provider's default:
    then the client cut the attempt short, and the provider's health is not at stake."""
    if t is None:
        return False
    field = f"{phase}_s"
    return bool(getattr(t, field) < getattr(route.timeouts, field))


def transport_error(route: Route, exc: BaseException, phase: str | None = None, t: AttemptTimeouts | None = None) -> UpstreamError:
    """A connection failure or timeout as a retriable UpstreamError; `phase` names the timeout and `t`
    holds the attempt's limits (to tell a client's own deadline from the provider's)."""
    if isinstance(exc, asyncio.TimeoutError | TimeoutError):
        if phase is None:
            phase = "connect" if isinstance(exc, aiohttp.ConnectionTimeoutError) else "idle" if isinstance(
                exc, aiohttp.SocketTimeoutError) else "total"
        error = UpstreamError(504, f"Provider '{route.provider}' timed out: {TIMEOUT_TEXT[phase]}.", type="timeout_error",
                              code="upstream_timeout", retriable=True)
        error.caused_by_client = client_set_lower(route, t, phase)
        return error
    name = type(exc).__name__
    return UpstreamError(502, f"Provider '{route.provider}' connection failed ({name}).", code="upstream_connection_error", retriable=True)


@dataclass(slots=True)
class JsonAttempt:
    route: Route
    response: dict[str, Any]
    elapsed_ms: float


async def attempt_json(
    session: aiohttp.ClientSession, route: Route, body: dict[str, Any], t: AttemptTimeouts, drain: Drain | None = None,
    headers_within_s: float | None = None, target: AdapterTarget | None = None,
) -> JsonAttempt:
    """One non-streaming attempt. Its one deadline (armed with `drain`'s shared timer) is the request's
    total deadline (a non-streaming answer arrives in one piece after the whole generation, so nothing
    shorter bounds it); the drain moves it to the grace deadline on shutdown: a TimeoutError leaves
    here only then, for the fallback loop to turn into a 503.

    `headers_within_s`, the request's own first-token limit, bounds the wait for the response headers
    instead (most providers send them with the finished answer): on expiry the next candidate is
    tried. Without it, the provider's default first-token limit (meant for streams) does not apply.
    `target`: the adapter target with the API key a provider's key ring picked (default: the route's)."""
    request = route.adapter.build_request(body, target or route.target, stream=False)
    started = time.perf_counter()
    deadline = t.attempt_deadline()
    if drain is None:
        drain = Drain()
    first = min(asyncio.get_running_loop().time() + headers_within_s, deadline) if headers_within_s else deadline
    answered = False
    timer = drain.arm(first)
    try:
        # awaited, not `async with`: one coroutine frame fewer for every resume inside aiohttp
        resp = await session.post(request.url, data=request.body, headers=request.headers,
                                  timeout=client_timeout(t.connect_s))
        answered = True
        if first != deadline:
            drain.move(timer, deadline)  # the headers are in: the total limit bounds the body
        try:
            payload = await resp.read()
        finally:
            resp.release()
    except (aiohttp.ClientError, OSError, asyncio.CancelledError) as exc:  # OSError holds TimeoutError
        raise attempt_failure(exc, timer, drain, route, t, deadline, before_first=not answered) from None
    finally:
        drain.disarm(timer)
    status = resp.status
    if status >= 400:
        raise route.adapter.parse_error(status, payload, resp.headers)
    return JsonAttempt(route, route.adapter.parse_response(payload), (time.perf_counter() - started) * 1000.0)


def has_content(chunk: dict[str, Any]) -> bool:
    """A chunk the client must see: text, a tool call, reasoning, a refusal or a finish reason."""
    for choice in chunk.get("choices") or ():
        if choice.get("finish_reason"):
            return True
        delta = choice.get("delta") or {}
        if delta.get("content") or delta.get("tool_calls") or delta.get("reasoning_content") or delta.get("refusal"):
            return True
    return False


@dataclass(slots=True)
class OpenedStream:
    """An upstream stream that has produced its first content; the relay takes it from here."""

    route: Route
    response: aiohttp.ClientResponse
    parser: SSEParser
    translator: StreamTranslator
    held: list[dict[str, Any]]
    started: float
    first_token_at: float
    reader: AsyncIterator[bytes]
    deadline: float  # event-loop time by which the relay must have finished (the total timeout)
    limits: AttemptTimeouts | None = None  # the attempt's limits, the client's overrides applied
    closed: bool = field(default=False)

    @property
    def first_token_ms(self) -> float:
        return (self.first_token_at - self.started) * 1000.0

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.response.close()


async def open_stream(
    session: aiohttp.ClientSession, route: Route, body: dict[str, Any], t: AttemptTimeouts, drain: Drain | None = None,
    target: AdapterTarget | None = None, on_open: Callable[[], Awaitable[None]] | None = None,
) -> OpenedStream:
    """One streaming attempt, up to its first content. Its one deadline is the first-token deadline
    (capped by the total), armed with `drain` like attempt_json's; aiohttp bounds connect and each
    read (the idle gap). `on_open` is awaited when the upstream has answered 200, while it has yet to
    send content: work the answer needs anyway is done then, off the first token's way."""
    request = route.adapter.build_request(body, target or route.target, stream=True)
    started = time.perf_counter()
    deadline = t.attempt_deadline()
    if drain is None:
        drain = Drain()
    resp: aiohttp.ClientResponse | None = None
    in_stream = False  # an error after the 200: the provider's stream said it, not its status line
    # The first-token deadline runs to the first real content; keep-alives do not reset it.
    timer = drain.arm(t.first_token_deadline(deadline))
    try:
        resp = await session.post(request.url, data=request.body, headers=request.headers, timeout=client_timeout(t.connect_s, t.idle_s))
        if resp.status >= 400:
            payload = await resp.read()
            raise route.adapter.parse_error(resp.status, payload, resp.headers)
        if on_open is not None:
            await on_open()
        parser = SSEParser()
        translator = route.adapter.stream_translator()
        reader = resp.content.iter_any().__aiter__()
        held: list[dict[str, Any]] = []
        in_stream = True
        while True:
            try:
                raw = await reader.__anext__()
            except StopAsyncIteration:
                events = parser.close()
                for event in events:
                    if isinstance(event, SSEEvent):
                        held.extend(translator.feed(event))
                held.extend(translator.finish())
                if any(has_content(c) for c in held):
                    break
                raise UpstreamError(502, f"Provider '{route.provider}' ended the stream with no content.", code="empty_stream", retriable=True) from None
            for event in parser.feed(raw):
                if isinstance(event, SSEEvent):
                    held.extend(translator.feed(event))
            if any(has_content(c) for c in held):
                break
    except UpstreamError as exc:
        close_response(resp)
        exc.in_stream = in_stream
        raise
    except (aiohttp.ClientError, OSError, asyncio.CancelledError) as exc:  # OSError holds TimeoutError
        close_response(resp)
        raise attempt_failure(exc, timer, drain, route, t, deadline, before_first=True) from None
    except BaseException:
        close_response(resp)
        raise
    finally:
        drain.disarm(timer)
    return OpenedStream(route, resp, parser, translator, held, started, time.perf_counter(), reader, deadline, t)


def close_response(resp: aiohttp.ClientResponse | None) -> None:
    if resp is not None:
        resp.close()


def attempt_failure(exc: BaseException, timer: Deadline, drain: Drain, route: Route, t: AttemptTimeouts, deadline: float,
                    before_first: bool) -> BaseException:
    """What a failed attempt raises: its own deadline as a timeout UpstreamError (first-token or total),
    the shutdown's grace deadline as a TimeoutError (the fallback loop answers 503), a transport error
    as a retriable UpstreamError; a real cancellation (the client left) stays one."""
    if timer.ended(exc):
        if drain.capped(timer):
            return TimeoutError()
        late = asyncio.get_running_loop().time() >= deadline
        return transport_error(route, TimeoutError(), "first_token" if before_first and not late else "total", t)
    if isinstance(exc, asyncio.CancelledError):
        return exc
    return transport_error(route, exc, None, t)
