"""The store: the request log now, keys and stored responses later. One schema, two back ends.

`Store` joins a back end (SQLite by default, PostgreSQL when `store.url` says so) with the log's
batching writer. Two write paths: `log()` is best-effort (queued, batched, dropped under pressure);
`add_feedback()` (and later key spend, stored responses) is awaited and durable when it returns.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from proxy.store.base import LearningEvents, LogBackend, StoreUnavailable
from proxy.store.queries import BadQuery, Page, RequestFilter
from proxy.store.records import AttemptRecord, Feedback, RequestRecord, RouteReceipt, Usage
from proxy.store.writer import LogWriter

__all__ = [
    "AttemptRecord", "BadQuery", "Feedback", "LearningEvents", "LogBackend", "Page", "RequestFilter", "RequestRecord",
    "RouteReceipt", "Store", "StoreUnavailable", "Usage", "backend_for",
]


def backend_for(data_dir: str, url: str | None) -> LogBackend:
    if url and url.startswith(("postgresql://", "postgres://")):
        from proxy.store.postgres import PostgresBackend

        return PostgresBackend(url)
    from proxy.store.sqlite import SQLiteBackend

    return SQLiteBackend(data_dir)


class Store:
    def __init__(self, backend: LogBackend, writer: LogWriter, log_enabled: bool = True) -> None:
        self.backend = backend
        self.writer = writer
        self.log_enabled = log_enabled

    @classmethod
    def create(
        cls,
        backend: LogBackend,
        *,
        log_enabled: bool = True,
        queue_max: int = 10_000,
        batch_rows: int = 500,
        interval_s: float = 0.2,
        retention_days: float = 30.0,
        on_dropped: Callable[[int], None] | None = None,
    ) -> Store:
        writer = LogWriter(backend, queue_max=queue_max, batch_rows=batch_rows, interval_s=interval_s,
                           retention_days=retention_days, on_dropped=on_dropped)
        return cls(backend, writer, log_enabled)

    async def start(self) -> None:
        """Open and migrate; a database that is down only degrades the log (the writer retries)."""
        await self.writer.open()

    async def close(self, timeout: float = 10.0) -> None:
        await self.writer.close(timeout)
        try:
            await self.backend.close()
        except StoreUnavailable:
            pass

    @property
    def status(self) -> str:
        return self.writer.status

    def log(self, record: RequestRecord) -> bool:
        """Best effort, never waits: False when the record was dropped (counted)."""
        return self.writer.submit(record) if self.log_enabled else False

    async def get_record(self, request_id: str) -> dict[str, Any] | None:
        rec = await self.backend.get_record(request_id)
        if rec is None and await self._flushed():
            rec = await self.backend.get_record(request_id)
        return rec

    async def record_owner(self, request_id: str) -> tuple[bool, str | None]:
        found = await self.backend.record_owner(request_id)
        if not found[0] and await self._flushed():
            found = await self.backend.record_owner(request_id)
        return found

    async def _flushed(self) -> bool:
        """A record asked for right after its answer may still be queued, or in the batch being written:
        wait for both first (the queue alone can be empty while that batch is still on its way)."""
        if not self.writer.unwritten:
            return False
        return await self.writer.flush(timeout=2.0)

    async def list_records(self, flt: RequestFilter, page: Page) -> tuple[list[dict[str, Any]], str | None]:
        await self._flushed()
        return await self.backend.list_records(flt, page)

    async def usage(self, flt: RequestFilter, dims: list[str]) -> list[dict[str, Any]]:
        await self._flushed()
        return await self.backend.usage(flt, dims)

    async def learning_events(self, since_ms: int, limit: int) -> LearningEvents:
        """What routing learns from (see LogBackend.learning_events), with the log's queue written out first."""
        await self._flushed()
        return await self.backend.learning_events(since_ms, limit)

    async def add_feedback(self, feedback: Feedback) -> bool:
        """Durable and awaited; False when no record has that id."""
        if await self.backend.add_feedback(feedback):
            return True
        return await self._flushed() and await self.backend.add_feedback(feedback)
