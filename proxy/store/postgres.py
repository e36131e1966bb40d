"""PostgreSQL for replicas (`store.url: postgresql://...`): several gateways write one database.

asyncpg's pool reconnects by itself once the server is back; every failure it raises (refused,
reset, timed out, read-only, disk full) becomes StoreUnavailable so callers see one kind of outage.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import asyncpg

from proxy.store import schema
from proxy.store.base import (
    FEEDBACK_COLUMNS,
    INSERT_COLUMNS,
    LearningEvents,
    StoreUnavailable,
    feedback_json,
    feedback_row,
    receipt,
)
from proxy.store.keys import SELECT as SELECT_KEYS
from proxy.store.keys import KeyRecord, insert_sql, spend_sql, update_params, update_sql
from proxy.store.queries import Page, PostgresDialect, RequestFilter, list_sql, usage_rows, usage_sql
from proxy.store.records import Feedback
from proxy.store.sqlite import EXPIRED_PER_SAVE, page_of

_MARKS = ", ".join(f"${i}" + ("::jsonb" if col == "tags" else "") for i, col in enumerate(INSERT_COLUMNS, start=1))
_INSERT = f"INSERT INTO requests ({', '.join(INSERT_COLUMNS)}) VALUES ({_MARKS}) ON CONFLICT (id) DO NOTHING"
_INSERT_FEEDBACK = (f"INSERT INTO feedback ({', '.join(FEEDBACK_COLUMNS)}) "
                    f"VALUES ({', '.join(f'${i}' for i in range(1, len(FEEDBACK_COLUMNS) + 1))})")
_SELECT_FEEDBACK = f"SELECT {', '.join(FEEDBACK_COLUMNS)} FROM feedback WHERE request_id = $1 ORDER BY id"
_UPSERT_RESPONSE = ("INSERT INTO responses (id, key_name, created_ms, expires_ms, doc) VALUES ($1, $2, $3, $4, $5) "
                    "ON CONFLICT (id) DO UPDATE SET key_name = excluded.key_name, created_ms = excluded.created_ms, "
                    "expires_ms = excluded.expires_ms, doc = excluded.doc")
_EXPIRE_RESPONSES = ("DELETE FROM responses WHERE id IN (SELECT id FROM responses WHERE expires_ms <= $1 "
                     "ORDER BY expires_ms LIMIT $2 FOR UPDATE SKIP LOCKED)")
_LEARN_FEEDBACK, _LEARN_IMPLICIT = schema.learning_sql("postgres")
_MIGRATION_LOCK = 0x5357_4C4F47  # any constant: replicas starting together migrate one at a time
# Short enough that an outage shows as a dropped batch within a second or two, not a stuck writer.
CONNECT_TIMEOUT_S = 2.0
COMMAND_TIMEOUT_S = 5.0
OUTAGES = (OSError, asyncio.TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)


class PostgresBackend:
    dialect = "postgres"

    def __init__(self, url: str, pool_size: int = 4) -> None:
        self._url = url
        self._pool_size = pool_size
        self._sql = PostgresDialect()
        self._pool: asyncpg.Pool | None = None

    def _where(self) -> str:
        """The server, never the credentials (the URL may carry a password)."""
        rest = self._url.split("@", 1)[-1]
        return "postgresql://" + rest.split("?", 1)[0].split("://", 1)[-1]

    async def open(self) -> None:
        try:
            pool = await asyncpg.create_pool(
                # min_size 0: no background reconnect loop logging a traceback a second while the server
                # is away; the next batch's acquire connects instead
                self._url, min_size=0, max_size=self._pool_size, timeout=CONNECT_TIMEOUT_S,
                command_timeout=COMMAND_TIMEOUT_S,
            )
            async with pool.acquire() as conn, conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
                await conn.execute(schema.CREATE_VERSIONS)
                applied = {r[0] for r in await conn.fetch("SELECT version FROM schema_migrations")}
                for version in schema.pending(applied):
                    for statement in schema.MIGRATIONS[version]["postgres"]:
                        await conn.execute(statement)
                    await conn.execute("INSERT INTO schema_migrations VALUES ($1, $2)", version, int(time.time() * 1000))
        except OUTAGES as exc:
            raise StoreUnavailable(f"{self._where()}: {type(exc).__name__}: {exc}") from None
        self._pool = pool

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()

    def _ready(self) -> asyncpg.Pool:
        if self._pool is None:
            raise StoreUnavailable(f"{self._where()}: not connected")
        return self._pool

    async def insert_records(self, rows: list[tuple[Any, ...]]) -> None:
        try:
            async with self._ready().acquire() as conn, conn.transaction():
                await conn.executemany(_INSERT, rows)
        except OUTAGES as exc:
            raise StoreUnavailable(f"{self._where()}: {type(exc).__name__}: {exc}") from None

    async def _fetch(self, text: str, *params: Any) -> list[Any]:
        try:
            async with self._ready().acquire() as conn:
                return list(await conn.fetch(text, *params))
        except OUTAGES as exc:
            raise StoreUnavailable(f"{self._where()}: {type(exc).__name__}: {exc}") from None

    async def get_record(self, request_id: str) -> dict[str, Any] | None:
        rows = await self._fetch("SELECT doc FROM requests WHERE id = $1", request_id)
        if not rows:
            return None
        rec = receipt(rows[0][0])
        rec["feedback"] = [feedback_json(tuple(r)) for r in await self._fetch(_SELECT_FEEDBACK, request_id)]
        return rec

    async def record_owner(self, request_id: str) -> tuple[bool, str | None]:
        rows = await self._fetch("SELECT key_name FROM requests WHERE id = $1", request_id)
        return (False, None) if not rows else (True, rows[0][0])

    async def learning_events(self, since_ms: int, limit: int) -> LearningEvents:
        rated = await self._fetch(_LEARN_FEEDBACK, since_ms, limit)
        implicit = await self._fetch(_LEARN_IMPLICIT, since_ms, limit)
        return [tuple(r) for r in rated], [tuple(r) for r in implicit]  # type: ignore[misc]

    async def list_records(self, flt: RequestFilter, page: Page) -> tuple[list[dict[str, Any]], str | None]:
        sql = list_sql(flt, page, self._sql)
        rows = await self._fetch(sql.text, *sql.params)
        return page_of([tuple(r) for r in rows], page.limit)

    async def usage(self, flt: RequestFilter, dims: list[str]) -> list[dict[str, Any]]:
        sql = usage_sql(flt, dims, self._sql)
        rows = await self._fetch(sql.text, *sql.params)
        return usage_rows(dims, [tuple(r) for r in rows])

    async def add_feedback(self, feedback: Feedback) -> bool:
        try:
            async with self._ready().acquire() as conn, conn.transaction():
                # the row lock keeps expiry from deleting the record between the check and the insert
                if await conn.fetchval("SELECT 1 FROM requests WHERE id = $1 FOR SHARE", feedback.request_id) is None:
                    return False
                await conn.execute(_INSERT_FEEDBACK, *feedback_row(feedback))
                return True
        except OUTAGES as exc:
            raise StoreUnavailable(f"{self._where()}: {type(exc).__name__}: {exc}") from None

    async def expire(self, before_ms: int, batch: int) -> int:
        try:
            async with self._ready().acquire() as conn, conn.transaction():
                ids = [r[0] for r in await conn.fetch(
                    "SELECT id FROM requests WHERE ts < $1 ORDER BY ts LIMIT $2 FOR UPDATE SKIP LOCKED", before_ms, batch)]
                if ids:
                    await conn.execute("DELETE FROM feedback WHERE request_id = ANY($1::text[])", ids)
                    await conn.execute("DELETE FROM requests WHERE id = ANY($1::text[])", ids)
                return len(ids)
        except OUTAGES as exc:
            raise StoreUnavailable(f"{self._where()}: {type(exc).__name__}: {exc}") from None

    # -- virtual keys (durable: committed when these return) ----------------------------------------
    async def _execute(self, text: str, *params: Any) -> str:
        try:
            async with self._ready().acquire() as conn:
                return str(await conn.execute(text, *params))
        except OUTAGES as exc:
            raise StoreUnavailable(f"{self._where()}: {type(exc).__name__}: {exc}") from None

    async def insert_key(self, rec: KeyRecord) -> None:
        await self._execute(insert_sql("postgres"), *rec.row())

    async def save_key(self, rec: KeyRecord) -> bool:
        return not (await self._execute(update_sql("postgres"), *update_params(rec))).endswith(" 0")

    async def add_spend(self, key_id: str, period_id: int, nusd: int, now_ms: int) -> None:
        await self._execute(spend_sql("postgres"), period_id, nusd, now_ms, key_id)

    async def get_key(self, key_id: str) -> KeyRecord | None:
        rows = await self._fetch(SELECT_KEYS + " WHERE id = $1", key_id)
        return KeyRecord.from_row(rows[0]) if rows else None

    async def keys_changed_since(self, since_ms: int) -> list[KeyRecord]:
        rows = await self._fetch(SELECT_KEYS + " WHERE updated_at >= $1 ORDER BY updated_at, id", since_ms)
        return [KeyRecord.from_row(r) for r in rows]

    async def save_response(self, row: tuple[str, str | None, int, int, str], now_ms: int) -> None:
        try:
            async with self._ready().acquire() as conn, conn.transaction():
                await conn.execute(_EXPIRE_RESPONSES, now_ms, EXPIRED_PER_SAVE)
                await conn.execute(_UPSERT_RESPONSE, *row)
        except OUTAGES as exc:
            raise StoreUnavailable(f"{self._where()}: {type(exc).__name__}: {exc}") from None

    async def load_response(self, response_id: str, now_ms: int) -> tuple[str | None, int, str] | None:
        try:
            row = await self._ready().fetchrow(
                "SELECT key_name, expires_ms, doc FROM responses WHERE id = $1 AND expires_ms > $2", response_id, now_ms)
        except OUTAGES as exc:
            raise StoreUnavailable(f"{self._where()}: {type(exc).__name__}: {exc}") from None
        return None if row is None else (row[0], row[1], row[2])

    async def delete_response(self, response_id: str, key_name: str | None) -> bool:
        try:
            status = await self._ready().execute(
                "DELETE FROM responses WHERE id = $1 AND key_name IS NOT DISTINCT FROM $2", response_id, key_name)
        except OUTAGES as exc:
            raise StoreUnavailable(f"{self._where()}: {type(exc).__name__}: {exc}") from None
        return status.rsplit(" ", 1)[-1] != "0"
