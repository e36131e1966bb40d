"""The stream pump: an opened upstream stream's bytes, parsed and translated, handed on as chunks.

`emit` is the caller's: a plain function taking the chunks of one upstream read and returning the
awaitable write of their client framing (so the pump adds no coroutine frame of its own per chunk).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from proxy.errors import UpstreamError
from proxy.streaming import SSEEvent
from proxy.upstream.attempt import OpenedStream, transport_error
from proxy.upstream.drain import Drain

Emit = Callable[[list[dict[str, Any]]], Awaitable[None]]


def shutdown_error() -> UpstreamError:
    return UpstreamError(503, "The gateway is shutting down; the answer above is incomplete. Retry the request.",
                         type="api_error", code="gateway_shutting_down", retriable=False)


async def pump_until_deadline(opened: OpenedStream, emit: Emit, drain: Drain) -> None:
    """`pump`, bounded by the request's total deadline and, during shutdown, the grace deadline."""
    timer = drain.arm(opened.deadline)
    try:
        await pump(opened, emit)
    except asyncio.CancelledError as exc:
        if not timer.ended(exc):
            raise
        if drain.capped(timer):
            raise shutdown_error() from None
        raise transport_error(opened.route, TimeoutError(), "total", opened.limits) from None
    finally:
        drain.disarm(timer)


async def pump(opened: OpenedStream, emit: Emit) -> None:
    """Upstream bytes to chunks, one emit per upstream read, until the upstream is done."""
    translator, parser = opened.translator, opened.parser
    while not translator.done:
        try:
            raw: bytes | None = await opened.reader.__anext__()
        except StopAsyncIteration:
            raw = None
        except (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError, OSError) as exc:
            raise transport_error(opened.route, exc, None, opened.limits) from None
        if raw is None:
            chunks = [c for ev in parser.close() if isinstance(ev, SSEEvent) for c in translator.feed(ev)]
            chunks += translator.finish()
        else:
            chunks = [c for ev in parser.feed(raw) if isinstance(ev, SSEEvent) for c in translator.feed(ev)]
        if chunks:
            await emit(chunks)
        if raw is None:
            return
