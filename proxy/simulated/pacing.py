"""What every mock upstream does around its own wire format: draw the request's faults, wait for the
first token (sending the format's keep-alives meanwhile), and pace the content chunks with the
mid-stream faults. Each mock passes only its own frames (its error body, its keep-alive, its error
event), so each stays faithful to its API.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from proxy.simulated.knobs import FaultPlan, sleep_ms
from proxy.simulated.server import MockContext, hang_forever

QUICK_FAILURE_MS = 5.0  # a provider refuses a request it will not serve quickly, not after its usual first-token wait


async def draw_faults(ctx: MockContext, failure: Callable[[int], web.StreamResponse],
                      pause_ms: float = QUICK_FAILURE_MS) -> tuple[FaultPlan, web.StreamResponse | None]:
    """This request's plan, and the failure to answer instead when the knobs drew one (None: go ahead).
    A hang never returns."""
    plan = ctx.plan()
    if plan.hang:
        await hang_forever()
    if plan.status is None:
        return plan, None
    ctx.counters.errors += 1
    await sleep_ms(min(ctx.knobs.ttft_ms, pause_ms))
    return plan, failure(plan.status)


async def wait_first_token(resp: web.StreamResponse, ctx: MockContext, ttft_ms: float, keepalive: bytes) -> None:
    """The wait before the first token, with a keep-alive frame every `keepalive_every_ms` when set."""
    every = ctx.knobs.keepalive_every_ms
    waited = 0.0
    if every > 0:
        while waited + every < ttft_ms:
            await sleep_ms(every)
            waited += every
            await resp.write(keepalive)
    await sleep_ms(ttft_ms - waited)


async def before_content(ctx: MockContext, request: web.Request, resp: web.StreamResponse, sent: int,
                         error_event: bytes) -> bool:
    """Before content chunk number `sent`: the knobs' mid-stream faults (a dropped connection, or the
    format's error event), then the pace between chunks. False: the stream ends here."""
    knobs = ctx.knobs
    if knobs.drop_after_chunks is not None and sent >= knobs.drop_after_chunks:
        ctx.counters.errors += 1
        if request.transport is not None:
            request.transport.abort()
        return False
    if knobs.stream_error_after_chunks is not None and sent >= knobs.stream_error_after_chunks:
        ctx.counters.errors += 1
        await resp.write(error_event)
        return False
    if sent > 0:
        await sleep_ms(knobs.chunk_gap_s * 1000.0)
    return True
