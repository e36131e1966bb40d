"""The shared deadline timer (proxy.upstream.deadlines) and the drain on top of it, on a real event loop."""

from __future__ import annotations

import asyncio

import pytest

from proxy.upstream.deadlines import Deadlines
from proxy.upstream.drain import Drain


async def wait_under(deadlines: Deadlines | Drain, after_s: float, sleep_s: float) -> tuple[str, float]:
    """Sleep `sleep_s` under a deadline `after_s` from now: ("timeout" | "done", seconds taken)."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    timer = deadlines.arm(started + after_s)
    try:
        await asyncio.sleep(sleep_s)
    except asyncio.CancelledError as exc:
        if not timer.ended(exc):
            raise
        return "timeout", loop.time() - started
    finally:
        deadlines.disarm(timer)
    return "done", loop.time() - started


async def test_each_deadline_fires_at_its_own_time_whatever_the_order_they_were_armed_in() -> None:
    deadlines = Deadlines()
    results = await asyncio.gather(wait_under(deadlines, 0.30, 5), wait_under(deadlines, 0.10, 5),
                                   wait_under(deadlines, 0.20, 0.05), wait_under(deadlines, 0.05, 5))
    assert [r[0] for r in results] == ["timeout", "timeout", "done", "timeout"]
    for (_, took), expected in zip(results, (0.30, 0.10, 0.05, 0.05), strict=True):
        assert expected - 0.01 <= took < expected + 0.1
    assert len(deadlines) == 0


async def test_work_that_ends_in_time_is_never_cancelled_by_a_stale_timer() -> None:
    deadlines = Deadlines()
    assert await wait_under(deadlines, 0.05, 0.01) == ("done", pytest.approx(0.01, abs=0.02))
    # the timer still fires for the first deadline; it must cancel nothing and rearm for this one
    status, took = await wait_under(deadlines, 0.20, 0.12)
    assert status == "done" and took < 0.2


async def test_a_moved_deadline_fires_at_its_new_time() -> None:
    deadlines = Deadlines()
    loop = asyncio.get_running_loop()
    started = loop.time()
    timer = deadlines.arm(started + 0.05)
    deadlines.move(timer, started + 0.15)
    with pytest.raises(asyncio.CancelledError) as caught:
        await asyncio.sleep(1)
    assert timer.ended(caught.value) and loop.time() - started >= 0.14
    deadlines.move(timer, started)  # no longer armed: moving it schedules nothing


async def test_a_real_cancellation_is_not_claimed_by_a_deadline_that_passed_at_the_same_time() -> None:
    deadlines = Deadlines()
    claimed: list[bool] = []

    async def work() -> None:
        timer = deadlines.arm(asyncio.get_running_loop().time() - 1)  # due at the loop's next turn
        try:
            await asyncio.sleep(1)
        except asyncio.CancelledError as exc:
            claimed.append(timer.ended(exc))
            raise
        finally:
            deadlines.disarm(timer)

    task = asyncio.ensure_future(work())
    await asyncio.sleep(0)  # it arms and waits
    task.cancel()  # the client leaves in the same turn as the deadline passes
    with pytest.raises(asyncio.CancelledError):
        await task
    assert claimed == [False]


async def test_drain_caps_armed_deadlines_and_tells_its_own_from_the_work_s() -> None:
    drain = Drain()
    loop = asyncio.get_running_loop()
    own = drain.arm(loop.time() + 0.05)
    assert not drain.capped(own)
    drain.disarm(own)

    async def long_work() -> tuple[bool, bool]:
        timer = drain.arm(loop.time() + 60)
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError as exc:
            return timer.ended(exc), drain.capped(timer)
        finally:
            drain.disarm(timer)
        return False, False

    task = asyncio.ensure_future(long_work())
    await asyncio.sleep(0.01)
    started = loop.time()
    drain.begin(0.1)
    assert await task == (True, True)
    assert 0.08 <= loop.time() - started < 0.5
    late = drain.arm(loop.time() + 60)  # armed during the shutdown: at the grace deadline at the latest
    assert drain.capped(late) and late.when == drain.deadline
    drain.disarm(late)

