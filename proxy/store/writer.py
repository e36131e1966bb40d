"""The log's one writer: records queue in memory and go to the database in batches, off the request path.

The request path calls `submit()`, which appends to a bounded deque and never waits: a full queue
drops the record and counts it. The writer task takes a batch when `batch_rows` are waiting or
`interval_s` after the first of them arrived, whichever is first, so a SIGKILL loses at most one
window. A database that is down, full or read-only costs the batch (dropped, counted, "degraded"),
never an answer; the next batch tries again, reopening the back end if it never opened.

Expiry runs on the same task, one small chunk between batches, so it never holds the write lock for
long and the file does not grow: deleted pages are reused by the next inserts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable

from proxy.store.base import LogBackend, StoreUnavailable, record_row
from proxy.store.records import RequestRecord

log = logging.getLogger("switchyard.store")

DEGRADED_AFTER_DROP_S = 30.0  # a full queue keeps /health "degraded" this long after the last drop
REOPEN_EVERY_S = 1.0
EXPIRY_CHUNK = 2_000  # rows per expiry transaction: a few ms of write lock
EXPIRY_CHECK_S = 600.0


class LogWriter:
    def __init__(
        self,
        backend: LogBackend,
        *,
        queue_max: int = 10_000,
        batch_rows: int = 500,
        interval_s: float = 0.2,
        retention_days: float = 30.0,
        on_dropped: Callable[[int], None] | None = None,
    ) -> None:
        self.backend = backend
        self.queue_max = queue_max
        self.batch_rows = batch_rows
        self.interval_s = interval_s
        self.retention_ms = int(retention_days * 86_400_000)
        self.on_dropped = on_dropped
        self.written = 0
        self.dropped = 0
        self.expired = 0
        self._queue: deque[RequestRecord] = deque()
        self._opened = False
        self._write_failing = False
        self._last_drop = -1e9
        self._last_reopen = -1e9
        self._next_expiry = 0.0
        self._accepted = 0
        self._processed = 0
        self._closing = False
        self._has_items = asyncio.Event()
        self._batch_ready = asyncio.Event()
        self._progress = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # -- the request path ----------------------------------------------------------------------
    def submit(self, record: RequestRecord) -> bool:
        """Queue a record; False (and counted) when the queue is full or the writer is closed."""
        queue = self._queue
        if len(queue) >= self.queue_max or self._closing:
            self._drop(1)
            return False
        queue.append(record)
        self._accepted += 1
        if len(queue) == 1:
            self._has_items.set()
        if len(queue) >= self.batch_rows:
            self._batch_ready.set()
        return True

    @property
    def depth(self) -> int:
        return len(self._queue)

    @property
    def unwritten(self) -> int:
        """Records accepted and not yet written (or dropped): the queue and the batch being written."""
        return self._accepted - self._processed

    @property
    def status(self) -> str:
        """"ok", or "degraded" while writes fail or soon after the queue overflowed."""
        recent_drop = time.monotonic() - self._last_drop < DEGRADED_AFTER_DROP_S
        return "degraded" if self._write_failing or not self._opened or recent_drop else "ok"

    def _drop(self, n: int) -> None:
        self.dropped += n
        self._last_drop = time.monotonic()
        if self.on_dropped is not None:
            self.on_dropped(n)

    # -- lifecycle -------------------------------------------------------------------------------
    async def open(self) -> None:
        """Open and migrate, then start writing; a database that is down only degrades the log."""
        try:
            await self.backend.open()
            self._opened = True
        except StoreUnavailable as exc:
            log.error("store unavailable at start-up (%s): serving anyway; the log is degraded until it returns", exc)
        self.start()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="switchyard-log-writer")

    async def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every record accepted before this call is written (or dropped); False on timeout."""
        target = self._accepted
        self._batch_ready.set()
        deadline = time.monotonic() + timeout
        while self._processed < target:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._task is None or self._task.done():
                return False
            progress = self._progress
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(progress.wait(), remaining)
        return True

    async def close(self, timeout: float = 10.0) -> None:
        """SIGTERM: write out what is queued (within `timeout`), then stop."""
        flushed = await self.flush(timeout)
        self._closing = True
        if not flushed and self._queue:
            log.warning("request log: %d records not written at shutdown", len(self._queue))
            self._drop(len(self._queue))
            self._queue.clear()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    # -- the writer task -------------------------------------------------------------------------
    async def _run(self) -> None:
        while True:
            if not self._queue:
                self._has_items.clear()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._has_items.wait(), self._until_expiry())
            if self._queue and len(self._queue) < self.batch_rows and not self._batch_ready.is_set():
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._batch_ready.wait(), self.interval_s)
            while self._queue:
                await self._write_batch()
            self._batch_ready.clear()
            if self._until_expiry() == 0:
                await self._expire_chunk()

    async def _write_batch(self) -> None:
        queue = self._queue
        batch = [queue.popleft() for _ in range(min(self.batch_rows, len(queue)))]
        try:
            await self._ensure_open()
            await self.backend.insert_records([record_row(r) for r in batch])
        except StoreUnavailable as exc:
            self._drop(len(batch))
            if not self._write_failing:
                log.warning("request log degraded: %s; records are dropped and counted until it returns", exc)
            self._write_failing = True
        except Exception:
            self._drop(len(batch))
            log.exception("request log: a batch of %d records could not be written", len(batch))
        else:
            self.written += len(batch)
            if self._write_failing:
                log.warning("request log: the database is back; writing again (%d dropped so far)", self.dropped)
            self._write_failing = False
        self._processed += len(batch)
        progress, self._progress = self._progress, asyncio.Event()
        progress.set()

    async def _ensure_open(self) -> None:
        if self._opened:
            return
        if time.monotonic() - self._last_reopen < REOPEN_EVERY_S:
            raise StoreUnavailable("the store is not open yet")
        self._last_reopen = time.monotonic()
        await self.backend.open()
        self._opened = True

    def _until_expiry(self) -> float:
        if self.retention_ms <= 0:
            return 3600.0
        return max(0.0, self._next_expiry - time.monotonic())

    async def _expire_chunk(self) -> None:
        """One small delete; due again at once while whole chunks come back, else in EXPIRY_CHECK_S."""
        before = int(time.time() * 1000) - self.retention_ms
        try:
            await self._ensure_open()
            n = await self.backend.expire(before, EXPIRY_CHUNK)
        except StoreUnavailable:
            n = 0
        self.expired += n
        if n < EXPIRY_CHUNK:
            self._next_expiry = time.monotonic() + EXPIRY_CHECK_S
