"""The embedded default: SQLite in WAL mode at `<store.data_dir>/switchyard.db`.

sqlite3 blocks, so each connection lives on its own single thread: one for writes (batches, feedback,
expiry, so they never contend with each other inside this process) and one for reads, which WAL lets
run beside a write. Workers of one server share the file; `busy_timeout` queues their writes.
"""

from __future__ import annotations

import asyncio
import math
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from proxy.store import schema
from proxy.store.base import (
    FEEDBACK_COLUMNS,
    INSERT_COLUMNS,
    LearningEvents,
    StoreUnavailable,
    feedback_json,
    feedback_row,
    listed,
    receipt,
)
from proxy.store.keys import SELECT as SELECT_KEYS
from proxy.store.keys import KeyRecord, insert_sql, spend_sql, update_params, update_sql
from proxy.store.queries import (
    Page,
    RequestFilter,
    SqlDialect,
    encode_cursor,
    list_sql,
    usage_rows,
    usage_sql,
)
from proxy.store.records import Feedback

T = TypeVar("T")
DB_NAME = "switchyard.db"
_INSERT = (f"INSERT OR IGNORE INTO requests ({', '.join(INSERT_COLUMNS)}) "
           f"VALUES ({', '.join('?' * len(INSERT_COLUMNS))})")
_INSERT_FEEDBACK = (f"INSERT INTO feedback ({', '.join(FEEDBACK_COLUMNS)}) "
                    f"VALUES ({', '.join('?' * len(FEEDBACK_COLUMNS))})")
_SELECT_FEEDBACK = f"SELECT {', '.join(FEEDBACK_COLUMNS)} FROM feedback WHERE request_id = ? ORDER BY id"


class Percentile:
    """percentile(x, p): linear interpolation between closest ranks, as PostgreSQL's percentile_cont."""

    def __init__(self) -> None:
        self.values: list[float] = []
        self.p = 0.5

    def step(self, value: float | None, p: float) -> None:
        if value is not None:
            self.values.append(value)
        self.p = p

    def finalize(self) -> float | None:
        return percentile(self.values, self.p)


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    values.sort()
    rank = p * (len(values) - 1)
    low, high = math.floor(rank), math.ceil(rank)
    return values[low] + (values[high] - values[low]) * (rank - low)


def connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=5.0)
    # auto_vacuum only takes effect on a new file: expiry frees pages for reuse, and
    # `incremental_vacuum` hands a surplus back to the file system without a full VACUUM.
    conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
    conn.execute("PRAGMA journal_mode = WAL")
    # NORMAL in WAL mode: a crash of the process loses nothing committed; a power cut may lose the last
    # transactions, which the log tolerates (it is best-effort by design; feedback commits are fsynced
    # at the next checkpoint).
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA busy_timeout = 5000")
    conn.create_aggregate("percentile", 2, Percentile)  # type: ignore[arg-type]
    return conn


_UPSERT_RESPONSE = ("INSERT INTO responses (id, key_name, created_ms, expires_ms, doc) VALUES (?, ?, ?, ?, ?) "
                    "ON CONFLICT (id) DO UPDATE SET key_name = excluded.key_name, created_ms = excluded.created_ms, "
                    "expires_ms = excluded.expires_ms, doc = excluded.doc")
_EXPIRE_RESPONSES = "DELETE FROM responses WHERE id IN (SELECT id FROM responses WHERE expires_ms <= ? ORDER BY expires_ms LIMIT ?)"
# Expired responses go a few at a time as new ones are saved: the table stays bounded by the write rate.
EXPIRED_PER_SAVE = 16


_LEARN_FEEDBACK, _LEARN_IMPLICIT = schema.learning_sql("sqlite")


class SQLiteBackend:
    dialect = "sqlite"

    def __init__(self, data_dir: str | Path) -> None:
        self.path = Path(data_dir).expanduser() / DB_NAME
        self._sql = SqlDialect()
        self._writes = ThreadPoolExecutor(1, thread_name_prefix="switchyard-store-w")
        self._reads = ThreadPoolExecutor(1, thread_name_prefix="switchyard-store-r")
        self._w: sqlite3.Connection | None = None
        self._r: sqlite3.Connection | None = None
        self._closing = False  # once set, no new work is queued on the connections' threads

    async def _on(self, pool: ThreadPoolExecutor, fn: Callable[[], T]) -> T:
        if self._closing:
            raise StoreUnavailable(f"sqlite {self.path}: closed")
        try:
            return await asyncio.get_running_loop().run_in_executor(pool, fn)
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"sqlite {self.path}: {exc}") from exc

    async def open(self) -> None:
        def opened() -> tuple[sqlite3.Connection, sqlite3.Connection]:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            writer = connect(self.path)
            migrate(writer)
            return writer, connect(self.path)

        try:
            self._w, self._r = await self._on(self._writes, opened)
        except OSError as exc:
            raise StoreUnavailable(f"sqlite {self.path}: {exc}") from exc

    async def close(self) -> None:
        """Refuse new work, then close each connection on its own thread, after whatever that thread is
        running with it (closing the reader from the writer's thread while reads went on crashed the
        process: a read could find its connection freed under it)."""
        self._closing = True
        loop = asyncio.get_running_loop()
        for pool, conn in ((self._reads, self._r), (self._writes, self._w)):
            if conn is not None:
                await loop.run_in_executor(pool, conn.close)
        self._r = self._w = None
        self._writes.shutdown(wait=True)
        self._reads.shutdown(wait=True)

    def _writer(self) -> sqlite3.Connection:
        if self._w is None:
            raise StoreUnavailable(f"sqlite {self.path}: not open")
        return self._w

    def _reader(self) -> sqlite3.Connection:
        if self._r is None:
            raise StoreUnavailable(f"sqlite {self.path}: not open")
        return self._r

    async def insert_records(self, rows: list[tuple[Any, ...]]) -> None:
        def insert() -> None:
            conn = self._writer()
            # IMMEDIATE takes the write lock up front, where busy_timeout waits for another worker's
            # batch; a deferred transaction upgrading mid-way could fail at once with SQLITE_BUSY
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(_INSERT, rows)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

        await self._on(self._writes, insert)

    async def get_record(self, request_id: str) -> dict[str, Any] | None:
        def get() -> dict[str, Any] | None:
            conn = self._reader()
            row = conn.execute("SELECT doc FROM requests WHERE id = ?", (request_id,)).fetchone()
            if row is None:
                return None
            rec = receipt(row[0])
            rec["feedback"] = [feedback_json(f) for f in conn.execute(_SELECT_FEEDBACK, (request_id,))]
            return rec

        return await self._on(self._reads, get)

    async def record_owner(self, request_id: str) -> tuple[bool, str | None]:
        def owner() -> tuple[bool, str | None]:
            row = self._reader().execute("SELECT key_name FROM requests WHERE id = ?", (request_id,)).fetchone()
            return (False, None) if row is None else (True, row[0])

        return await self._on(self._reads, owner)

    async def learning_events(self, since_ms: int, limit: int) -> LearningEvents:
        def fetch() -> LearningEvents:
            conn = self._reader()
            rated = conn.execute(_LEARN_FEEDBACK, (since_ms, limit)).fetchall()
            implicit = conn.execute(_LEARN_IMPLICIT, (since_ms, limit)).fetchall()
            return rated, implicit

        return await self._on(self._reads, fetch)

    async def list_records(self, flt: RequestFilter, page: Page) -> tuple[list[dict[str, Any]], str | None]:
        sql = list_sql(flt, page, self._sql)

        def fetch() -> list[tuple[Any, ...]]:
            return self._reader().execute(sql.text, sql.params).fetchall()

        rows = await self._on(self._reads, fetch)
        return page_of(rows, page.limit)

    async def usage(self, flt: RequestFilter, dims: list[str]) -> list[dict[str, Any]]:
        sql = usage_sql(flt, dims, self._sql)

        def fetch() -> list[tuple[Any, ...]]:
            return self._reader().execute(sql.text, sql.params).fetchall()

        return usage_rows(dims, await self._on(self._reads, fetch))

    async def add_feedback(self, feedback: Feedback) -> bool:
        def add() -> bool:
            conn = self._writer()
            conn.execute("BEGIN IMMEDIATE")
            try:
                if conn.execute("SELECT 1 FROM requests WHERE id = ?", (feedback.request_id,)).fetchone() is None:
                    conn.execute("ROLLBACK")
                    return False
                conn.execute(_INSERT_FEEDBACK, feedback_row(feedback))
                conn.execute("COMMIT")
                return True
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

        return await self._on(self._writes, add)

    async def expire(self, before_ms: int, batch: int) -> int:
        def delete() -> int:
            conn = self._writer()
            conn.execute("BEGIN IMMEDIATE")
            try:
                ids = [r[0] for r in conn.execute(
                    "SELECT id FROM requests WHERE ts < ? ORDER BY ts LIMIT ?", (before_ms, batch))]
                if ids:
                    marks = ", ".join("?" * len(ids))
                    conn.execute(f"DELETE FROM feedback WHERE request_id IN ({marks})", ids)
                    conn.execute(f"DELETE FROM requests WHERE id IN ({marks})", ids)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            if ids:
                conn.execute("PRAGMA incremental_vacuum(256)")
            return len(ids)

        return await self._on(self._writes, delete)

    # -- virtual keys (durable: committed when these return) ----------------------------------------
    async def insert_key(self, rec: KeyRecord) -> None:
        await self._on(self._writes, lambda: self._writer().execute(insert_sql("sqlite"), rec.row()) and None)

    async def save_key(self, rec: KeyRecord) -> bool:
        def save() -> bool:
            return self._writer().execute(update_sql("sqlite"), update_params(rec)).rowcount > 0

        return await self._on(self._writes, save)

    async def add_spend(self, key_id: str, period_id: int, nusd: int, now_ms: int) -> None:
        await self._on(self._writes, lambda: self._writer().execute(
            spend_sql("sqlite"), (period_id, nusd, now_ms, key_id)) and None)

    async def get_key(self, key_id: str) -> KeyRecord | None:
        def get() -> KeyRecord | None:
            row = self._reader().execute(SELECT_KEYS + " WHERE id = ?", (key_id,)).fetchone()
            return None if row is None else KeyRecord.from_row(row)

        return await self._on(self._reads, get)

    async def keys_changed_since(self, since_ms: int) -> list[KeyRecord]:
        """Every key changed at or after `since_ms` (0: every key), oldest change first."""
        def fetch() -> list[KeyRecord]:
            rows = self._reader().execute(SELECT_KEYS + " WHERE updated_at >= ? ORDER BY updated_at, id", (since_ms,))
            return [KeyRecord.from_row(r) for r in rows]

        return await self._on(self._reads, fetch)


    async def save_response(self, row: tuple[str, str | None, int, int, str], now_ms: int) -> None:
        def save() -> None:
            conn = self._writer()
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute(_EXPIRE_RESPONSES, (now_ms, EXPIRED_PER_SAVE))
                conn.execute(_UPSERT_RESPONSE, row)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

        await self._on(self._writes, save)

    async def load_response(self, response_id: str, now_ms: int) -> tuple[str | None, int, str] | None:
        def load() -> tuple[str | None, int, str] | None:
            row = self._reader().execute(
                "SELECT key_name, expires_ms, doc FROM responses WHERE id = ? AND expires_ms > ?", (response_id, now_ms)).fetchone()
            return None if row is None else (row[0], row[1], row[2])

        return await self._on(self._reads, load)

    async def delete_response(self, response_id: str, key_name: str | None) -> bool:
        def delete() -> bool:
            conn = self._writer()
            with conn:
                cur = conn.execute("DELETE FROM responses WHERE id = ? AND key_name IS ?", (response_id, key_name))
            return cur.rowcount > 0

        return await self._on(self._writes, delete)


def page_of(rows: list[Any], limit: int) -> tuple[list[dict[str, Any]], str | None]:
    """Rows of (ts, id, doc), one more than `limit` when another page follows."""
    more = len(rows) > limit
    rows = rows[:limit]
    cursor = encode_cursor(rows[-1][0], rows[-1][1]) if more and rows else None
    return [listed(r[2]) for r in rows], cursor


def migrate(conn: sqlite3.Connection) -> None:
    """Apply pending migrations under one write lock, so workers starting together apply each once."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(schema.CREATE_VERSIONS)
        applied = {r[0] for r in conn.execute("SELECT version FROM schema_migrations")}
        for version in schema.pending(applied):
            for statement in schema.MIGRATIONS[version]["sqlite"]:
                conn.execute(statement)
            conn.execute("INSERT INTO schema_migrations VALUES (?, ?)", (version, int(time.time() * 1000)))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
