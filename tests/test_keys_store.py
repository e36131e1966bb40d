"""Virtual keys in the store, on SQLite and on PostgreSQL: the same rows, durable writes, and spend
that starts over when the budget period moves on."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from proxy.store import Store
from proxy.store.keys import KeyRecord


def a_key(n: int, **over: object) -> KeyRecord:
    rec = KeyRecord(id=f"key_{n}", name=f"team-{n}", secret_hash=f"{n:064x}", created_at=1000 + n, updated_at=1000 + n,
                    budget_nusd=50_000_000, budget_period="day", rpm=20, models=("anthropic/*",), tags={"t": "x"})
    return replace(rec, **over)  # type: ignore[arg-type]


async def test_keys_read_back_as_written(store: Store) -> None:
    db = store.backend
    await db.insert_key(a_key(1))
    await db.insert_key(a_key(2, expires_at=5_000, budget_nusd=None, budget_period=None, models=()))
    assert await db.get_key("key_1") == a_key(1)
    assert await db.get_key("key_2") == a_key(2, expires_at=5_000, budget_nusd=None, budget_period=None, models=())
    assert await db.get_key("key_3") is None
    assert [k.id for k in await db.keys_changed_since(0)] == ["key_1", "key_2"]
    assert [k.id for k in await db.keys_changed_since(1002)] == ["key_2"]


async def test_save_changes_editable_fields_and_revokes(store: Store) -> None:
    db = store.backend
    await db.insert_key(a_key(1))
    changed = a_key(1).edited({"rpm": None, "tpm": 900, "models": ("x/*",), "secret_hash": "nope"}, 2000)
    assert await db.save_key(replace(changed, revoked=True))
    got = await db.get_key("key_1")
    assert got is not None and got.rpm is None and got.tpm == 900 and got.models == ("x/*",) and got.revoked
    assert got.secret_hash == a_key(1).secret_hash and got.updated_at == 2000
    assert not await db.save_key(a_key(9))


async def test_spend_adds_atomically_and_restarts_each_period(store: Store) -> None:
    db = store.backend
    await db.insert_key(a_key(1))
    await asyncio.gather(*(db.add_spend("key_1", 86_400, 1_000, 3000 + i) for i in range(20)))
    got = await db.get_key("key_1")
    assert got is not None and (got.spend_nusd, got.spend_period) == (20_000, 86_400)
    await db.add_spend("key_1", 2 * 86_400, 7, 4000)  # the next day: the count starts over
    got = await db.get_key("key_1")
    assert got is not None and (got.spend_nusd, got.spend_period, got.updated_at) == (7, 2 * 86_400, 4000)


async def test_a_keys_cache_setting_reads_back_and_can_be_changed_or_cleared(store: Store) -> None:
    from proxy.store.keys import KeyCache

    db = store.backend
    await db.insert_key(a_key(1, cache=KeyCache(True, 600.0)))
    await db.insert_key(a_key(2, cache=KeyCache(False)))
    assert (await db.get_key("key_1")) == a_key(1, cache=KeyCache(True, 600.0))
    assert (await db.get_key("key_2")).cache == KeyCache(False, None)  # type: ignore[union-attr]
    assert (await db.get_key("key_1")).cache is not None  # type: ignore[union-attr]
    assert await db.save_key(a_key(1).edited({"cache": None}, 2000))
    assert (await db.get_key("key_1")).cache is None  # type: ignore[union-attr]
    assert (await db.get_key("key_3")) is None
