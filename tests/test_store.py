"""The store against real databases: SQLite files in a temp dir and a throwaway PostgreSQL cluster."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from proxy.store import (
    AttemptRecord,
    Feedback,
    Page,
    RequestFilter,
    RequestRecord,
    RouteReceipt,
    Store,
    StoreUnavailable,
    Usage,
    backend_for,
)
from proxy.store.queries import BadQuery, decode_cursor, parse_group_by
from proxy.store.sqlite import percentile
from tests.pg_cluster import PostgresCluster
from tests.store_support import logged

NOW_MS = int(time.time() * 1000)


def record(n: int, **over: Any) -> RequestRecord:
    """The n-th of a varied set: models, providers, keys, statuses and tags cycle."""
    model = ["openai/gpt-4o", "anthropic/claude-sonnet-4", "google/gemini-2.5-flash"][n % 3]
    status = ["ok", "ok", "ok", "error", "partial", "cancelled"][n % 6]
    attempts = [AttemptRecord(model, "p-bad", "http_503", 503, "upstream said 503", 0.1, None, 5.0, 0.0)] if n % 4 == 0 else []
    attempts.append(AttemptRecord(model, ["p-a", "p-b"][n % 2], "ok" if status == "ok" else "stream_error",
                                  200, None, 6.0, 10.0 + n, 100.0 + n, 0.001))
    fields: dict[str, Any] = dict(
        id=str(uuid.UUID(int=n + 1)), ts_ms=NOW_MS - 1000 * (100 - n), api="chat.completions" if n % 2 else "messages",
        model_requested="auto" if n % 5 == 0 else model, status=status, key=["team-a", "team-b"][n % 2],
        tags={"feature": ["search", "chat"][n % 2]}, model=model, provider=attempts[-1].provider, stream=bool(n % 2),
        http_status=200 if status != "error" else 502, ttft_ms=10.0 + n, duration_ms=100.0 + n,
        usage=Usage(prompt_tokens=10 * n, completion_tokens=n, cached_tokens=n // 2, cost_usd=0.001),
        attempts=attempts,
        route=RouteReceipt("balanced", 0.4, "best score", [{"model": model, "score": 0.7}], {"code": 0.1})
        if n % 5 == 0 else None,
    )
    fields.update(over)
    return RequestRecord(**fields)



async def test_a_record_reads_back_as_written(store: Store) -> None:
    rec = record(0)
    await logged(store, [rec])
    got = await store.get_record(rec.id)
    assert got is not None
    assert got == {**rec.to_json(), "feedback": []}
    assert got["failed_attempts_cost_usd"] == pytest.approx(0.0)  # the failed attempt cost nothing here
    assert got["route"]["candidates"] == [{"model": "openai/gpt-4o", "score": 0.7}]
    assert await store.get_record(str(uuid.uuid4())) is None


async def test_a_queued_record_is_readable_at_once(store: Store) -> None:
    store.writer.interval_s = 5.0  # it would sit in the queue for 5 s without the flush on a miss
    rec = record(1)
    store.log(rec)
    got = await asyncio.wait_for(store.get_record(rec.id), 3.0)
    assert got is not None and got["id"] == rec.id


async def test_list_is_newest_first_and_pages_by_cursor(store: Store) -> None:
    recs = [record(n) for n in range(30)]
    await logged(store, recs)
    seen: list[str] = []
    cursor = None
    while True:
        page, cursor_out = await store.list_records(RequestFilter(), Page(limit=7, cursor=cursor))
        seen += [r["id"] for r in page]
        assert all("candidates" not in (r["route"] or {}) for r in page)
        if cursor_out is None:
            break
        cursor = decode_cursor(cursor_out)
    assert seen == [r.id for r in reversed(recs)]


@pytest.mark.parametrize(
    ("flt", "keep"),
    [
        (RequestFilter(model="openai/gpt-4o"), lambda r: r.model == "openai/gpt-4o"),
        (RequestFilter(status="error"), lambda r: r.status == "error"),
        (RequestFilter(key="team-b"), lambda r: r.key == "team-b"),
        (RequestFilter(provider="p-a"), lambda r: r.provider == "p-a"),
        (RequestFilter(api="messages"), lambda r: r.api == "messages"),
        (RequestFilter(tags=(("feature", "search"),)), lambda r: r.tags["feature"] == "search"),
        (RequestFilter(since_ms=NOW_MS - 80_000, until_ms=NOW_MS - 75_000),
         lambda r: NOW_MS - 80_000 <= r.ts_ms < NOW_MS - 75_000),
        (RequestFilter(model="openai/gpt-4o", status="ok", key="team-a"),
         lambda r: (r.model, r.status, r.key) == ("openai/gpt-4o", "ok", "team-a")),
    ],
)
async def test_list_filters(store: Store, flt: RequestFilter, keep: Any) -> None:
    recs = [record(n) for n in range(40)]
    await logged(store, recs)
    page, cursor = await store.list_records(flt, Page(limit=200))
    assert [r["id"] for r in page] == [r.id for r in reversed(recs) if keep(r)]
    assert cursor is None


async def test_usage_sums_match_the_records(store: Store) -> None:
    recs = [record(n) for n in range(36)]
    await logged(store, recs)
    rows = await store.usage(RequestFilter(), ["model", "tag:feature"])
    assert sum(r["requests"] for r in rows) == 36
    for row in rows:
        group = [r for r in recs if r.model == row["group"]["model"] and r.tags["feature"] == row["group"]["tag:feature"]]
        assert row["requests"] == len(group)
        assert row["errors"] == sum(r.status in ("error", "partial") for r in group)
        assert row["prompt_tokens"] == sum(r.usage.prompt_tokens for r in group)
        assert row["completion_tokens"] == sum(r.usage.completion_tokens for r in group)
        assert row["cost_usd"] == pytest.approx(sum(r.usage.cost_usd for r in group))
        assert row["failed_attempts_cost_usd"] == pytest.approx(sum(r.failed_attempts_cost_usd for r in group))
        durations = sorted(r.duration_ms for r in group)
        assert row["duration_ms_p50"] == pytest.approx(percentile(durations, 0.5))
        assert row["ttft_ms_p95"] == pytest.approx(percentile([r.ttft_ms or 0 for r in group], 0.95))


async def test_usage_by_hour_and_key_with_a_filter(store: Store) -> None:
    base = (NOW_MS // 3_600_000) * 3_600_000 - 2 * 3_600_000
    recs = [record(n, ts_ms=base + (n % 3) * 3_600_000 + n) for n in range(12)]
    await logged(store, recs)
    rows = await store.usage(RequestFilter(status="ok"), ["hour", "key"])
    assert sum(r["requests"] for r in rows) == sum(r.status == "ok" for r in recs)
    assert {r["group"]["hour"] for r in rows} <= {
        time.strftime("%Y-%m-%dT%H:00:00Z", time.gmtime((base + h * 3_600_000) / 1000)) for h in range(3)}


async def test_feedback_is_durable_and_attaches(store: Store) -> None:
    rec = record(3)
    await logged(store, [rec])
    fb = Feedback(rec.id, NOW_MS, "team-b", "helpful", score=0.8, comment="good")
    assert await store.add_feedback(fb)
    assert await store.add_feedback(Feedback(rec.id, NOW_MS, None, "accurate", thumbs="down"))
    got = await store.get_record(rec.id)
    assert got is not None
    assert [(f["metric"], f["score"], f["thumbs"]) for f in got["feedback"]] == [
        ("helpful", 0.8, None), ("accurate", None, "down")]
    assert not await store.add_feedback(Feedback(str(uuid.uuid4()), NOW_MS, None, "helpful", score=1.0))


async def test_expiry_deletes_old_records_and_their_feedback(store: Store) -> None:
    store.writer.retention_ms = 0  # expired by hand here, in small batches
    old = [record(n, ts_ms=NOW_MS - 40 * 86_400_000 + n) for n in range(5)]
    new = [record(n + 10) for n in range(5)]
    await logged(store, old + new)
    assert await store.add_feedback(Feedback(old[0].id, NOW_MS, None, "helpful", score=1.0))
    deleted = await store.backend.expire(NOW_MS - 30 * 86_400_000, batch=3)
    assert deleted == 3
    assert await store.backend.expire(NOW_MS - 30 * 86_400_000, batch=3) == 2
    page, _ = await store.list_records(RequestFilter(), Page(limit=200))
    assert [r["id"] for r in page] == [r.id for r in reversed(new)]


async def test_the_writer_expires_past_retention_between_batches(store: Store) -> None:
    old = [record(n, ts_ms=NOW_MS - 31 * 86_400_000 + n) for n in range(5)]
    new = [record(n + 10) for n in range(5)]
    await logged(store, old + new)
    deadline = time.monotonic() + 5
    while store.writer.expired < 5 and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    page, _ = await store.list_records(RequestFilter(), Page(limit=200))
    assert [r["id"] for r in page] == [r.id for r in reversed(new)]


async def test_a_full_queue_drops_and_counts(store: Store) -> None:
    store.writer.queue_max = 3
    store.writer.interval_s = 5.0
    results = [store.log(record(n)) for n in range(5)]
    assert results == [True, True, True, False, False]
    assert store.writer.dropped == 2
    assert store.status == "degraded"
    assert await store.writer.flush()
    assert store.writer.written == 3


async def test_migrations_apply_once(store: Store, tmp_path: Path) -> None:
    await store.backend.open()  # a second process starting on the same database
    await logged(store, [record(1)])
    assert await store.get_record(record(1).id) is not None


def test_group_by_and_cursor_are_checked() -> None:
    assert parse_group_by("provider,hour") == ["provider", "hour"]
    assert parse_group_by("tag:feature") == ["tag:feature"]
    for bad in ("", "model,provider,key", "colour", "tag:", "tag:a b", "model,model"):
        with pytest.raises(BadQuery) as err:
            parse_group_by(bad)
        assert err.value.param == "group_by"
    with pytest.raises(BadQuery):
        decode_cursor("nonsense")


async def test_sqlite_that_cannot_open_degrades_then_recovers(tmp_path: Path) -> None:
    blocked = tmp_path / "data"
    blocked.write_text("a file where the data directory should be")
    st = Store.create(backend_for(str(blocked), None), interval_s=0.02)
    await st.start()
    try:
        assert st.status == "degraded"
        assert st.log(record(1))
        await st.writer.flush()
        assert st.writer.dropped == 1 and st.writer.written == 0
        blocked.unlink()
        await asyncio.sleep(1.1)  # the writer retries opening once a second
        await logged(st, [record(2)])
        assert st.writer.written == 1
        assert st.writer.status == "degraded"  # the drop is recent
        assert await st.get_record(record(2).id) is not None
    finally:
        await st.close()


async def test_postgres_stopped_mid_load_then_restarted(postgres: PostgresCluster) -> None:
    st = Store.create(backend_for("", postgres.new_database()), interval_s=0.02)
    await st.start()
    try:
        await logged(st, [record(n) for n in range(20)])
        await asyncio.to_thread(postgres.stop)
        for n in range(20, 40):
            st.log(record(n))
            await asyncio.sleep(0.01)
        await st.writer.flush()
        assert st.writer.dropped > 0 and st.status == "degraded"
        await asyncio.to_thread(postgres.start)
        deadline = time.monotonic() + 20
        for n in range(100, 10_000):  # the pool reconnects on the next batch
            st.log(record(n))
            await st.writer.flush()
            if not st.writer._write_failing or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        assert not st.writer._write_failing
        assert st.writer.written + st.writer.dropped == st.writer._accepted
        page, _ = await st.list_records(RequestFilter(), Page(limit=200))
        assert len(page) == st.writer.written
    finally:
        await st.close()


async def test_close_writes_out_the_queue(tmp_path: Path) -> None:
    """What SIGTERM does: the cleanup context closes the store, which writes every queued record first."""
    st = Store.create(backend_for(str(tmp_path), None), interval_s=60.0, batch_rows=10_000)
    await st.start()
    for n in range(50):
        assert st.log(record(n))
    await st.close()
    assert st.writer.written == 50
    again = Store.create(backend_for(str(tmp_path), None))
    await again.start()
    try:
        page, _ = await again.list_records(RequestFilter(), Page(limit=200))
        assert len(page) == 50
    finally:
        await again.close()


async def test_a_read_only_database_degrades_then_recovers(tmp_path: Path) -> None:
    st = Store.create(backend_for(str(tmp_path), None), interval_s=0.02)
    await st.start()
    writer_conn = st.backend._w  # type: ignore[attr-defined]
    try:
        await st.backend._on(st.backend._writes, lambda: writer_conn.execute("PRAGMA query_only = 1"))  # type: ignore[attr-defined]
        st.log(record(1))
        await st.writer.flush()
        assert st.writer.dropped == 1 and st.status == "degraded"
        await st.backend._on(st.backend._writes, lambda: writer_conn.execute("PRAGMA query_only = 0"))  # type: ignore[attr-defined]
        await logged(st, [record(2)])
        assert st.writer.written == 1 and not st.writer._write_failing
        assert await st.get_record(record(2).id) is not None
    finally:
        await st.close()


async def test_feedback_right_after_an_answer_waits_for_the_batch_being_written(postgres: PostgresCluster) -> None:
    """The writer has taken the record out of its queue and its insert has not committed yet: the
    record is in neither place. Feedback on it must wait for that batch, not answer 'no such request'."""
    import asyncpg

    url = postgres.new_database()
    st = Store.create(backend_for("", url), interval_s=0.02)
    await st.start()
    blocker = await asyncpg.connect(url)
    try:
        hold = blocker.transaction()
        await hold.start()
        await blocker.execute("LOCK TABLE requests IN SHARE MODE")  # the writer's INSERT waits behind it
        rec = record(1)
        assert st.log(rec)
        deadline = time.monotonic() + 5
        while st.writer.depth and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert st.writer.depth == 0 and st.writer.unwritten == 1 and st.writer.written == 0  # in flight

        async def release() -> None:
            await asyncio.sleep(0.3)
            await hold.rollback()

        releasing = asyncio.create_task(release())
        assert await st.add_feedback(Feedback(rec.id, NOW_MS, None, "helpful", thumbs="up"))
        await releasing
        assert st.writer.unwritten == 0 and st.writer.written == 1
    finally:
        await blocker.close()
        await st.close()


@pytest.mark.parametrize("round_", range(5))
async def test_closing_sqlite_while_reads_run_never_pulls_a_connection_from_under_them(tmp_path: Path, round_: int) -> None:
    """Shutdown closes each connection on its own thread, after what that thread is running. Closing
    the reader from the writer's thread while reads went on (a key sync, a console query) crashed the
    process: a read could check its connection, then find it freed. Reads queued before the close all
    answer; reads asked for once it has begun are told the store is closed."""
    backend = backend_for(str(tmp_path), None)
    await backend.open()

    async def read(i: int) -> str:
        try:
            return "read" if await backend.get_key(f"key_{i}") is None else "found"
        except StoreUnavailable:
            return "closed"

    before = [asyncio.ensure_future(read(i)) for i in range(300)]
    await asyncio.sleep(0)  # each is on the reader's queue
    closing = asyncio.ensure_future(backend.close())
    await asyncio.sleep(0)  # the close has begun
    after = [asyncio.ensure_future(read(i)) for i in range(300, 400)]
    await closing
    assert await asyncio.gather(*before) == ["read"] * 300
    assert await asyncio.gather(*after) == ["closed"] * 100
