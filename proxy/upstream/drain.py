"""Graceful shutdown: once the server stops accepting, in-flight answers get until a deadline.

aiohttp stops listening, runs on_shutdown (which calls `begin`), then waits for handlers. Every
relay and attempt arms its deadline here (one shared timer, see `proxy.upstream.deadlines`), so at
the grace deadline each one wakes as if its own limit had passed and ends cleanly (a stream with a
final error event and [DONE]) instead of being cut; `capped` tells the two apart.
"""

from __future__ import annotations

import asyncio
import logging

from proxy.upstream.deadlines import Deadline, Deadlines

log = logging.getLogger("switchyard")


class Drain:
    __slots__ = ("deadline", "_deadlines")

    def __init__(self) -> None:
        self.deadline: float | None = None
        self._deadlines = Deadlines()

    def expired(self) -> bool:
        return self.deadline is not None and asyncio.get_running_loop().time() >= self.deadline

    def arm(self, when: float) -> Deadline:
        """A deadline for the current task's work, at the grace deadline at the latest; `disarm` it on exit."""
        if self.deadline is not None and when > self.deadline:
            when = self.deadline
        return self._deadlines.arm(when)

    def move(self, deadline: Deadline, when: float) -> None:
        """The armed `deadline` at `when` instead (at the grace deadline at the latest)."""
        if self.deadline is not None and when > self.deadline:
            when = self.deadline
        self._deadlines.move(deadline, when)

    def disarm(self, deadline: Deadline) -> None:
        self._deadlines.disarm(deadline)

    def capped(self, deadline: Deadline) -> bool:
        """Whether `deadline` now falls at the grace deadline rather than at its own (so when it has
        passed, the shutdown ended the work, not the work's own limit)."""
        return self.deadline is not None and deadline.when >= self.deadline

    def begin(self, grace_s: float) -> None:
        self.deadline = asyncio.get_running_loop().time() + grace_s
        if self._deadlines:
            log.info("shutting down: %d answer(s) in flight get %.1fs to finish", len(self._deadlines), grace_s)
        self._deadlines.cap(self.deadline)
