"""The learning replay's implicit-signal query on a big SQLite log, before and after migration 7.

At start-up (and every `routing.feedback.rebuild_s`) learning from feedback reads the records of the replay
window that may carry an implicit signal: `auto` requests that failed, or whose finish reason is a
truncation or a flagged refusal. Before migration 7 that query scanned every record of the window and
matched its JSON document with LIKE; migration 7 makes `finish_reason` a column (older `auto` records get
it from their document) and adds a partial index holding only those records, by time.

One log of `--records` realistic records (bench/log_bench.py's, 30% `auto`, with finish reasons) spread
over the 30-day window is written at schema version 6 and copied; the copy is migrated to 7 (timed: the
upgrade's cost) and queried with today's query, the original with the query as it was (bound LIKE
patterns). Interleaved rounds (ABBA), the median of per-round ratios; both must return the same rows.
Then the writer's cost: the same batches of new records inserted into each in turn, µs per record.

With `--postgres URL` (a database on a cluster where the bench may create two more), the same log goes
into PostgreSQL as well, and the query is timed there the same way.

Writes bench/results/learning_replay.json (learning_replay_quick.json with --quick, a CI smoke).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.log_bench import make_record  # noqa: E402
from proxy.store import schema  # noqa: E402
from proxy.store.base import INSERT_COLUMNS, record_row  # noqa: E402
from proxy.store.postgres import _LEARN_IMPLICIT as PG_LEARN_IMPLICIT  # noqa: E402
from proxy.store.sqlite import _LEARN_IMPLICIT, connect, migrate  # noqa: E402

BEFORE_VERSION = 6

RESULTS = Path(__file__).parent / "results"
WINDOW_MS = 30 * 86_400_000
REPLAY_MAX_EVENTS = 5_000  # routing.feedback.replay_max_events' default
# The query as main had it before migration 7: the finish-reason patterns bound as parameters.
PATTERNS = ('%"finish_reason":"length"%', '%"finish_reason":"content_filter"%', '%"finish_reason":"refusal"%')
BEFORE_SQL = ("SELECT ts, key_name, doc FROM requests WHERE ts >= ? AND model_requested = 'auto' AND "
              "(status IN ('error', 'partial') OR " + " OR ".join("doc LIKE ?" for _ in PATTERNS)
              + ") ORDER BY ts DESC LIMIT ?")
BEFORE_COLUMNS = INSERT_COLUMNS[:-1]  # the writer's columns before migration 7 added finish_reason
assert INSERT_COLUMNS[-1] == "finish_reason"


def insert_sql(columns: tuple[str, ...]) -> str:
    return f"INSERT OR IGNORE INTO requests ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"


def rows(rng: random.Random, n: int, newest_ms: int, span_ms: int) -> list[tuple[Any, ...]]:
    """n records over `span_ms` up to `newest_ms`; an ok answer stopped (98.5%), was truncated (1%) or filtered."""
    out = []
    for i in range(n):
        rec = make_record(rng, newest_ms - span_ms + (i * span_ms) // n)
        if rec.status == "ok":
            rec = replace(rec, finish_reason=rng.choices(["stop", "length", "content_filter"], [985, 10, 5])[0])
        out.append(record_row(rec))
    return out


def insert(conn: sqlite3.Connection, batch: list[tuple[Any, ...]], before: bool) -> None:
    """One transaction, as the log's writer inserts a batch (before migration 7: without finish_reason)."""
    conn.execute("BEGIN")
    if before:
        conn.executemany(insert_sql(BEFORE_COLUMNS), [row[:-1] for row in batch])
    else:
        conn.executemany(insert_sql(INSERT_COLUMNS), batch)
    conn.execute("COMMIT")


def migrate_to(conn: sqlite3.Connection, last: int) -> None:
    conn.execute(schema.CREATE_VERSIONS)
    for version in range(1, last + 1):
        for statement in schema.MIGRATIONS[version]["sqlite"]:
            conn.execute(statement)
        conn.execute("INSERT INTO schema_migrations VALUES (?, ?)", (version, int(time.time() * 1000)))


def build(path: Path, n: int, now_ms: int) -> float:
    """The log at schema version 6, as a gateway before migration 7 wrote it."""
    conn = connect(path)
    migrate_to(conn, BEFORE_VERSION)
    rng = random.Random(7)
    t0 = time.perf_counter()
    for start in range(0, n, 5_000):
        batch = rows(rng, min(5_000, n - start), now_ms - WINDOW_MS + (start + 5_000) * WINDOW_MS // n, 5_000 * WINDOW_MS // n)
        insert(conn, batch, before=True)
    conn.close()
    return time.perf_counter() - t0


def timed_query(conn: sqlite3.Connection, before: bool, since_ms: int) -> tuple[float, list[Any]]:
    t0 = time.perf_counter()
    if before:
        got = conn.execute(BEFORE_SQL, (since_ms, *PATTERNS, REPLAY_MAX_EVENTS)).fetchall()
    else:
        got = conn.execute(_LEARN_IMPLICIT, (since_ms, REPLAY_MAX_EVENTS)).fetchall()
    return (time.perf_counter() - t0) * 1000, got


PG_BEFORE_SQL = ("SELECT ts, key_name, doc FROM requests WHERE ts >= $1 AND model_requested = 'auto' AND "
                 "(status IN ('error', 'partial') OR " + " OR ".join(f"doc LIKE ${i}" for i in range(3, 3 + len(PATTERNS)))
                 + ") ORDER BY ts DESC LIMIT $2")


async def postgres_rounds(url: str, n: int, rounds: int, now_ms: int) -> dict[str, Any]:
    """The log in PostgreSQL at schema 6, a copy migrated to 7 (timed), the two queries ABBA."""
    import asyncpg

    since_ms = now_ms - WINDOW_MS
    admin = await asyncpg.connect(url)
    for name in ("replay_after", "replay_before"):
        await admin.execute(f"DROP DATABASE IF EXISTS {name}")
    await admin.execute("CREATE DATABASE replay_before")
    base = url.rsplit("/", 1)[0]
    conn = await asyncpg.connect(f"{base}/replay_before")
    await conn.execute(schema.CREATE_VERSIONS)
    for version in range(1, BEFORE_VERSION + 1):
        for statement in schema.MIGRATIONS[version]["postgres"]:
            await conn.execute(statement)
        await conn.execute("INSERT INTO schema_migrations VALUES ($1, 0)", version)
    marks = ", ".join(f"${i}" + ("::jsonb" if c == "tags" else "") for i, c in enumerate(BEFORE_COLUMNS, start=1))
    rng = random.Random(7)
    for start in range(0, n, 5_000):
        batch = rows(rng, min(5_000, n - start), now_ms - WINDOW_MS + (start + 5_000) * WINDOW_MS // n, 5_000 * WINDOW_MS // n)
        await conn.executemany(f"INSERT INTO requests ({', '.join(BEFORE_COLUMNS)}) VALUES ({marks})", [r[:-1] for r in batch])
    await conn.execute("ANALYZE requests")
    await conn.close()
    await admin.execute("CREATE DATABASE replay_after TEMPLATE replay_before")
    before, after = await asyncpg.connect(f"{base}/replay_before"), await asyncpg.connect(f"{base}/replay_after")
    t0 = time.perf_counter()
    async with after.transaction():
        for statement in schema.MIGRATIONS[7]["postgres"]:
            await after.execute(statement)
    await after.execute("ANALYZE requests")
    migrate_s = time.perf_counter() - t0
    plans = {"before": " / ".join(r[0] for r in await before.fetch("EXPLAIN " + PG_BEFORE_SQL, since_ms, REPLAY_MAX_EVENTS, *PATTERNS)),
             "after": " / ".join(r[0] for r in await after.fetch("EXPLAIN " + PG_LEARN_IMPLICIT, since_ms, REPLAY_MAX_EVENTS))}

    async def timed(is_before: bool) -> tuple[float, list[Any]]:
        t = time.perf_counter()
        if is_before:
            got = await before.fetch(PG_BEFORE_SQL, since_ms, REPLAY_MAX_EVENTS, *PATTERNS)
        else:
            got = await after.fetch(PG_LEARN_IMPLICIT, since_ms, REPLAY_MAX_EVENTS)
        return (time.perf_counter() - t) * 1000, [tuple(r) for r in got]

    await timed(True), await timed(False)  # warm the buffer cache
    before_ms, after_ms, ratios = [], [], []
    for r in range(rounds):
        times, results = {}, {}
        for is_before in ((True, False) if r % 2 == 0 else (False, True)):
            times[is_before], results[is_before] = await timed(is_before)
        assert results[True] == results[False], "the indexed query must return the same rows"
        before_ms.append(times[True])
        after_ms.append(times[False])
        ratios.append(times[True] / times[False])
    await before.close()
    await after.close()
    for name in ("replay_after", "replay_before"):
        await admin.execute(f"DROP DATABASE {name}")
    version = await admin.fetchval("SHOW server_version")
    await admin.close()
    out = {"server_version": version, "matching_records": len(results[False]), "migration_7_seconds": round(migrate_s, 2),
           "plans": plans, "query_ms": {"before_median": round(statistics.median(before_ms), 3),
                                        "after_median": round(statistics.median(after_ms), 3)},
           "before_over_after_median_ratio": round(statistics.median(ratios), 1)}
    print(f"PostgreSQL {version}: migration 7 {migrate_s:.1f} s; plan after: {plans['after'].split(' / ')[0]}")
    print(f"PostgreSQL replay query, {out['matching_records']:,} matching: before {out['query_ms']['before_median']:.1f} ms, "
          f"after {out['query_ms']['after_median']:.2f} ms; before/after {out['before_over_after_median_ratio']:.0f}x")
    return out


def plan(conn: sqlite3.Connection, sql: str, params: tuple[Any, ...]) -> str:
    return "; ".join(r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + sql, params))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--insert-batches", type=int, default=20, help="500-record batches inserted into each copy")
    parser.add_argument("--quick", action="store_true", help="a seconds-long smoke run")
    parser.add_argument("--postgres", metavar="URL", help="also time PostgreSQL (the bench creates two databases there)")
    args = parser.parse_args()
    if args.quick:
        args.records, args.rounds, args.insert_batches = 10_000, 3, 4
    now_ms = int(time.time() * 1000)
    since_ms = now_ms - WINDOW_MS
    with tempfile.TemporaryDirectory(prefix="switchyard-replaybench-") as tmp:
        after_path, before_path = Path(tmp, "after.db"), Path(tmp, "before.db")
        build_s = build(before_path, args.records, now_ms)
        shutil.copy(before_path, after_path)
        size_mb = before_path.stat().st_size / 1e6
        print(f"log: {args.records:,} records over 30 days in {build_s:.1f} s, {size_mb:,.0f} MB; SQLite {sqlite3.sqlite_version}")
        after, before = connect(after_path), connect(before_path)
        t0 = time.perf_counter()
        migrate(after)  # what a gateway does at its first start-up after the upgrade
        migrate_s = time.perf_counter() - t0
        print(f"migration 7 on this log (backfill the auto records' finish_reason, build the index): {migrate_s:.1f} s")
        plans = {"before": plan(before, BEFORE_SQL, (since_ms, *PATTERNS, REPLAY_MAX_EVENTS)),
                 "after": plan(after, _LEARN_IMPLICIT, (since_ms, REPLAY_MAX_EVENTS))}
        print(f"plan before: {plans['before']}\nplan after:  {plans['after']}")
        assert "requests_learning" in plans["after"], plans["after"]
        timed_query(after, False, since_ms), timed_query(before, True, since_ms)  # warm the page cache
        before_ms, after_ms, ratios = [], [], []
        for r in range(args.rounds):
            order = (True, False) if r % 2 == 0 else (False, True)  # ABBA
            times: dict[bool, float] = {}
            results: dict[bool, list[Any]] = {}
            for is_before in order:
                times[is_before], results[is_before] = timed_query(before if is_before else after, is_before, since_ms)
            assert results[True] == results[False], "the indexed query must return the same rows"
            before_ms.append(times[True])
            after_ms.append(times[False])
            ratios.append(times[True] / times[False])
        matched = len(results[False])
        speedup = statistics.median(ratios)
        print(f"replay query, {matched:,} matching records of {args.records:,}: before {statistics.median(before_ms):.1f} ms, "
              f"after {statistics.median(after_ms):.2f} ms (median of {args.rounds} rounds); before/after {speedup:.0f}x "
              f"(median of per-round ratios)")

        rng = random.Random(11)
        insert_us: dict[str, list[float]] = {"before": [], "after": []}
        for b in range(args.insert_batches):
            batch = rows(rng, 500, now_ms + (b + 1) * 60_000, 60_000)
            for name in (("before", "after") if b % 2 == 0 else ("after", "before")):
                conn = before if name == "before" else after
                t0 = time.perf_counter()
                insert(conn, batch, before=name == "before")
                insert_us[name].append((time.perf_counter() - t0) * 1e6 / len(batch))
        ins_before, ins_after = statistics.median(insert_us["before"]), statistics.median(insert_us["after"])
        print(f"insert: {ins_before:.1f} us/record without the index, {ins_after:.1f} us/record with it "
              f"(median of {args.insert_batches} interleaved 500-record batches)")
        after.close()
        before.close()

    report = {
        "python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count(),
        "sqlite": sqlite3.sqlite_version, "records": args.records, "file_mb": round(size_mb), "matching_records": matched,
        "replay_max_events": REPLAY_MAX_EVENTS, "rounds": args.rounds, "plans": plans,
        "query_ms": {"before_median": round(statistics.median(before_ms), 3), "after_median": round(statistics.median(after_ms), 3),
                     "before": [round(t, 3) for t in before_ms], "after": [round(t, 3) for t in after_ms]},
        "before_over_after_median_ratio": round(speedup, 1),
        "insert_us_per_record": {"before": round(ins_before, 2), "after": round(ins_after, 2)},
        "migration": max(schema.MIGRATIONS), "migration_7_seconds": round(migrate_s, 2),
    }
    if args.postgres:
        report["postgres"] = asyncio.run(postgres_rounds(args.postgres, args.records, args.rounds, now_ms))
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / ("learning_replay_quick.json" if args.quick else "learning_replay.json")
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
