"""What learning from feedback reads from the store (`learning_events`), on SQLite and a real PostgreSQL: feedback
on `auto` requests with its scope, records that may carry an implicit signal, the window and the cap; and the
replay from those rows rebuilding the same corrections as live learning."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest

from proxy.catalog import build_catalog
from proxy.config import FeedbackLearningConfig, load_settings
from proxy.learning import FeedbackLearning, implied
from proxy.routing.model_routing import ModelRouter
from proxy.store import Feedback, RequestRecord, RouteReceipt, Store, backend_for
from tests.store_support import logged

NOW_MS = int(time.time() * 1000)




@pytest.fixture(scope="module")
def router() -> ModelRouter:
    settings = load_settings(None, environ={}, overrides={"simulate": "never"})
    return ModelRouter(build_catalog(settings, {}, {}))


def auto_record(router: ModelRouter, n: int, text: str, **over: Any) -> RequestRecord:
    z = router.router.score(text)["z"]
    features = {"z": z, "latent_version": router.latent_version, "max_tokens": None}
    fields: dict[str, Any] = dict(
        id=str(uuid.UUID(int=n + 1)), ts_ms=NOW_MS - 60_000 + n, api="chat.completions", model_requested="auto",
        status="ok", key="team-a", model="openai/gpt-4o", provider="openai", finish_reason="stop",
        route=RouteReceipt("balanced", 0.4, "best score", [], features))
    fields.update(over)
    return RequestRecord(**fields)



async def test_learning_events_are_auto_feedback_and_implicit_signals(store: Store, router: ModelRouter) -> None:
    recs = [
        auto_record(router, 0, "Solve 3x + 1 = 10."),  # rated below
        auto_record(router, 1, "Write a haiku.", status="error", http_status=502, error_code="all_providers_failed"),
        auto_record(router, 2, "Write an essay.", finish_reason="length"),
        auto_record(router, 3, "Say hi."),  # plain success: nothing
        auto_record(router, 4, "Named model.", model_requested="openai/gpt-4o", status="error"),  # not auto
        auto_record(router, 5, "Long ago.", ts_ms=NOW_MS - 40 * 86_400_000, status="error"),  # outside the window
    ]
    await logged(store, recs)
    assert await store.add_feedback(Feedback(recs[0].id, NOW_MS, "team-a", "helpful", thumbs="down"))
    assert await store.add_feedback(Feedback(recs[0].id, NOW_MS + 1, "ops", "helpful", score=0.25, scope="deployment"))
    assert await store.add_feedback(Feedback(recs[3].id, NOW_MS + 2, "team-a", "helpful", thumbs="up"))
    assert await store.add_feedback(Feedback(recs[4].id, NOW_MS + 3, "team-a", "helpful", thumbs="up"))  # not auto
    since = NOW_MS - 30 * 86_400_000
    rated, implicit = await store.learning_events(since, 100)
    got = sorted((ts, scope, score, thumbs, key, orjson.loads(doc)["id"]) for ts, scope, score, thumbs, key, doc in rated)
    assert got == [(NOW_MS, None, None, "down", "team-a", recs[0].id),
                   (NOW_MS + 1, "deployment", 0.25, None, "team-a", recs[0].id),
                   (NOW_MS + 2, None, None, "up", "team-a", recs[3].id)]
    assert sorted(orjson.loads(doc)["id"] for _, _, doc in implicit) == sorted([recs[1].id, recs[2].id])
    # the cap keeps the newest of each kind
    rated, implicit = await store.learning_events(since, 1)
    assert [r[0] for r in rated] == [NOW_MS + 2] and len(implicit) == 1
    assert (await store.get_record(recs[0].id) or {})["feedback"][1]["scope"] == "deployment"


async def test_replay_rebuilds_what_live_learning_learned(store: Store, router: ModelRouter) -> None:
    cfg = FeedbackLearningConfig(rebuild_s=0)
    live = FeedbackLearning(router, store, cfg)
    await live.start()
    recs = [auto_record(router, i, text, key=key) for i, (text, key) in enumerate(
        [("Solve 3x + 1 = 10.", "team-a"), ("Factor x^2 - 1.", "team-a"), ("Write a poem.", "team-b")])]
    recs.append(auto_record(router, 3, "Write a long story.", finish_reason="length", key="team-b"))
    await logged(store, recs)
    truncated = implied(orjson.loads(orjson.dumps(recs[3])), router)  # as the on_finish hook saw it, first
    assert truncated is not None and truncated.signal == "truncated"
    live.learn(truncated)
    for i, rec in enumerate(recs[:3]):
        fb = Feedback(rec.id, NOW_MS + i, rec.key, "helpful", thumbs="down" if i < 2 else "up")
        assert await store.add_feedback(fb)
        await live.on_feedback(fb, await store.get_record(rec.id))
    before = sorted(live.learner.corrections())
    assert {(s, m) for s, m, *_ in before} == {("key:team-a", "openai/gpt-4o"), ("key:team-b", "openai/gpt-4o")}

    replayed = FeedbackLearning(router, store, cfg)
    assert await replayed.rebuild() == 4
    after = sorted(replayed.learner.corrections())
    for (s1, m1, da1, db1, n1), (s2, m2, da2, db2, n2) in zip(before, after, strict=True):
        assert (s1, m1, n1) == (s2, m2, n2)
        # the same events in the same order (decay over the milliseconds between them aside)
        assert max(abs(x - y) for x, y in zip(da1, da2, strict=True)) < 1e-3 and abs(db1 - db2) < 1e-3
    await live.close()


def test_nothing_assumes_k_16() -> None:
    """The same predictor cut to k = 4 (the first four latent directions and the difficulty column): the
    learner reads k from the weights, learns, and the router applies the correction."""
    from proxy.routing.feedback_learner import FeedbackLearner, Observation
    from proxy.routing.model_routing import load_weights

    full = load_weights()
    k, cols = 4, int(full["k"]) + 1
    rows = len(full["w"]) // cols
    w = [full["w"][r * cols + c] for r in range(rows) for c in [*range(k), cols - 1]]
    cut = {**full, "k": k, "w": w,
           "models": {n: {**m, "a": m["a"][:k]} for n, m in full["models"].items()},
           "prior": [{**p, "a": p["a"][:k]} for p in full["prior"]]}
    settings = load_settings(None, environ={}, overrides={"simulate": "never"})
    small = ModelRouter(build_catalog(settings, {}, {}), weights=cut)
    assert small.k == 4 and len(small.latent_centre) == 4
    learner = FeedbackLearner(small, half_life_s=3600.0)
    z = tuple(small.router.score("Solve 3x + 1 = 10.")["z"])
    assert len(z) == 5
    assert learner.learn(Observation("key:a", "openai/gpt-4o", z, 0.0, 1.0, time.time(), "feedback"))
    assert not learner.learn(Observation("key:a", "openai/gpt-4o", z + (0.0,), 0.0, 1.0, time.time(), "feedback"))
    offers = [("openai/gpt-4o", "openai", 2.5, 10.0, 400.0, 80.0, True),
              ("openai/gpt-4o-mini", "openai", 0.15, 0.6, 400.0, 80.0, True)]
    decision = small.router.route("Solve 3x + 1 = 10.", offers, tradeoff=1.0, scopes=["deployment", "key:a"])
    [(model, delta, evidence)] = decision["learned"]
    assert model == "openai/gpt-4o" and delta < 0 and evidence == 1


@pytest.mark.parametrize("dialect", ["sqlite", "postgres"])
async def test_the_implicit_signal_query_reads_the_learning_index(dialect: str, tmp_path: Path,
                                                                  request: pytest.FixtureRequest) -> None:
    """Migration 7's partial index is what the replay reads (not a scan of the window's every document):
    each planner proves the query's filter implies the index's (PostgreSQL's told to avoid a sequential
    scan, which it would pick on a table this small)."""
    from proxy.store import postgres, sqlite

    if dialect == "sqlite":
        st = Store.create(backend_for(str(tmp_path), None), interval_s=0.05)
        await st.start()
        await st.close()
        conn = sqlite.connect(tmp_path / "switchyard.db")
        plan = " ".join(r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + sqlite._LEARN_IMPLICIT, (0, 10)))
        conn.close()
    else:
        import asyncpg

        url = request.getfixturevalue("postgres").new_database()
        st = Store.create(backend_for(str(tmp_path), url), interval_s=0.05)
        await st.start()
        await st.close()
        conn = await asyncpg.connect(url)
        try:
            await conn.execute("SET enable_seqscan = off")
            plan = " ".join(r[0] for r in await conn.fetch("EXPLAIN " + postgres._LEARN_IMPLICIT, 0, 10))
        finally:
            await conn.close()
    assert "requests_learning" in plan, plan


@pytest.mark.parametrize("dialect", ["sqlite", "postgres"])
async def test_migration_7_backfills_finish_reason_of_older_auto_records(dialect: str, tmp_path: Path,
                                                                         request: pytest.FixtureRequest,
                                                                         router: ModelRouter) -> None:
    """A log written before migration 7 (finish_reason only in each record's document): after the upgrade
    the replay still finds its truncations and refusals, through the new column and index."""
    from proxy.store import schema
    from proxy.store.base import INSERT_COLUMNS, record_row

    recs = [auto_record(router, 0, "Write an essay.", finish_reason="length"),
            auto_record(router, 1, "Say hi."),
            auto_record(router, 2, "Something else.", finish_reason="content_filter")]
    old_columns = [c for c in INSERT_COLUMNS if c != "finish_reason"]
    old_rows = [record_row(r)[:len(old_columns)] for r in recs]
    url = request.getfixturevalue("postgres").new_database() if dialect == "postgres" else None
    versions = [v for v in sorted(schema.MIGRATIONS) if v < 7]
    if dialect == "sqlite":
        from proxy.store.sqlite import connect

        conn = connect(tmp_path / "switchyard.db")
        conn.execute(schema.CREATE_VERSIONS)
        for v in versions:
            for statement in schema.MIGRATIONS[v]["sqlite"]:
                conn.execute(statement)
            conn.execute("INSERT INTO schema_migrations VALUES (?, 0)", (v,))
        conn.executemany(f"INSERT INTO requests ({', '.join(old_columns)}) VALUES ({', '.join('?' * len(old_columns))})",
                         old_rows)
        conn.close()
    else:
        import asyncpg

        pg = await asyncpg.connect(url)
        try:
            await pg.execute(schema.CREATE_VERSIONS)
            for v in versions:
                for statement in schema.MIGRATIONS[v]["postgres"]:
                    await pg.execute(statement)
                await pg.execute("INSERT INTO schema_migrations VALUES ($1, 0)", v)
            marks = ", ".join(f"${i}" + ("::jsonb" if c == "tags" else "") for i, c in enumerate(old_columns, start=1))
            await pg.executemany(f"INSERT INTO requests ({', '.join(old_columns)}) VALUES ({marks})", old_rows)
        finally:
            await pg.close()
    st = Store.create(backend_for(str(tmp_path), url), interval_s=0.05)
    await st.start()
    try:
        _, implicit = await st.learning_events(NOW_MS - 86_400_000, 100)
        assert sorted(orjson.loads(doc)["id"] for _, _, doc in implicit) == sorted([recs[0].id, recs[2].id])
        await logged(st, [auto_record(router, 3, "A new one.", finish_reason="refusal")])  # written with the column
        _, implicit = await st.learning_events(NOW_MS - 86_400_000, 100)
        assert len(implicit) == 3
    finally:
        await st.close()
