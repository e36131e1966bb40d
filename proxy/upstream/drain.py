"""Graceful shutdown: once the server stops accepting, in-flight answers get until a deadline.

aiohttp stops listening, runs on_shutdown (which calls `begin`), then waits for handlers. Every
relay and attempt registers its timeout here, so at the grace deadline each one wakes with a
TimeoutError and ends cleanly (a stream with a final error event and [DONE]) instead of being cut.
"""

from __future__ import annotations

import asyncio
import logging
from types import TracebackType

log = logging.getLogger("switchyard")


class Drain:
    __slots__ = ("deadline", "_timeouts")

    def __init__(self) -> None:
        self.deadline: float | None = None
        self._timeouts: set[asyncio.Timeout] = set()

    def expired(self) -> bool:
        return self.deadline is not None and asyncio.get_running_loop().time() >= self.deadline

    def bounded(self, timeout: asyncio.Timeout) -> Bounded:
        """Within this block, `timeout` fires at the grace deadline at the latest."""
        return Bounded(self, timeout)

    def watch(self, timeout: asyncio.Timeout) -> None:
        """`bounded` without the block, for the hot path: until `unwatch`, `timeout` fires at the
        grace deadline at the latest."""
        self._timeouts.add(timeout)
        if self.deadline is not None:
            self._cap(timeout, self.deadline)

    def unwatch(self, timeout: asyncio.Timeout) -> None:
        self._timeouts.discard(timeout)

    def capped(self, timeout: asyncio.Timeout) -> bool:
        """Whether `timeout` now fires at the grace deadline rather than its own (so when it has fired,
        the shutdown ended the work, not the work's own limit)."""
        when = timeout.when()
        return self.deadline is not None and when is not None and when >= self.deadline

    def begin(self, grace_s: float) -> None:
        self.deadline = asyncio.get_running_loop().time() + grace_s
        if self._timeouts:
            log.info("shutting down: %d answer(s) in flight get %.1fs to finish", len(self._timeouts), grace_s)
        for timeout in list(self._timeouts):
            self._cap(timeout, self.deadline)

    @staticmethod
    def _cap(timeout: asyncio.Timeout, deadline: float) -> None:
        if timeout.expired():
            return
        when = timeout.when()
        if when is None or when > deadline:
            timeout.reschedule(deadline)


class Bounded:
    """`Drain.bounded` as a plain context manager around `watch`/`unwatch`: it runs on every relayed
    stream, so no generator."""

    __slots__ = ("drain", "timeout")

    def __init__(self, drain: Drain, timeout: asyncio.Timeout) -> None:
        self.drain = drain
        self.timeout = timeout

    def __enter__(self) -> None:
        self.drain.watch(self.timeout)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.drain.unwatch(self.timeout)
