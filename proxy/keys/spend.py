"""Key spend on its way to the store: coalesced per key, written by one task, never dropped.

Spend is the budget's durable truth (issue 12's awaited path, not the lossy log queue). Writing it
with one UPDATE per request would put a database transaction behind every answer; instead each
settlement adds to a pending sum per (key, period), and one writer task commits the sums, one UPDATE
per key, `interval_s` after the first of them (as the request log's batches do, so a SIGKILL loses at
most one window). Every write is a hop to the store's thread, which on a busy single-core gateway
costs the event loop a context switch or two; one write a key per window keeps that off the
per-request cost. A write that fails (the database away) keeps its sums pending and is tried again;
shutdown writes out what is pending at once. In-process limits never wait for the store: they count
each settlement themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from proxy.store.base import LogBackend, StoreUnavailable

log = logging.getLogger("switchyard")
RETRY_S = 1.0
INTERVAL_S = 0.1


class SpendWriter:
    def __init__(self, interval_s: float = INTERVAL_S) -> None:
        self.interval_s = interval_s
        self.backend: LogBackend | None = None
        self.pending: dict[tuple[str, int], int] = {}
        self.writes = 0
        self.failures = 0
        self._task: asyncio.Task[None] | None = None
        self._hurry = asyncio.Event()  # set at shutdown: write what is pending without waiting

    def add(self, key_id: str, period_id: int, nusd: int) -> None:
        if nusd == 0 or self.backend is None:
            return
        self.pending[(key_id, period_id)] = self.pending.get((key_id, period_id), 0) + nusd
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._write())

    async def _write(self) -> None:
        assert self.backend is not None
        try:
            while self.pending:
                with contextlib.suppress(TimeoutError):  # let this window's settlements gather
                    await asyncio.wait_for(self._hurry.wait(), self.interval_s)
                batch, self.pending = self.pending, {}
                try:
                    for (key_id, period_id), nusd in list(batch.items()):
                        await self.backend.add_spend(key_id, period_id, nusd, int(time.time() * 1000))
                        del batch[(key_id, period_id)]
                        self.writes += 1
                except StoreUnavailable as exc:
                    self.failures += 1
                    for item, nusd in batch.items():  # not written: back in the queue, tried again
                        self.pending[item] = self.pending.get(item, 0) + nusd
                    log.warning("keys: spend not written to the store yet (%s); retrying", exc)
                    await asyncio.sleep(RETRY_S)
        finally:
            self._task = None

    async def close(self, timeout: float = 5.0) -> None:
        """Write out what is pending (shutdown)."""
        self._hurry.set()
        if self._task is None and self.pending:
            self._task = asyncio.get_running_loop().create_task(self._write())
        if self._task is not None:
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(self._task), timeout)
