"""The process-local response store: owners, expiry, and its bounds on count and bytes."""

from __future__ import annotations

import asyncio
import time

from proxy.stored_responses import MemoryResponseStore, StoredResponse


def stored(response_id: str, owner: str | None = "key-a", text: str = "hi", ttl_s: float = 60.0) -> StoredResponse:
    return StoredResponse(id=response_id, owner=owner, created_at=int(time.time()), expires_at=time.time() + ttl_s,
                          response={"id": response_id}, conversation=[{"role": "user", "content": text}], input_items=[])


def test_owner_expiry_and_delete() -> None:
    async def run() -> None:
        store = MemoryResponseStore()
        await store.save(stored("resp_1"))
        await store.save(stored("resp_old", ttl_s=-1))
        assert (await store.load("resp_1", "key-a")) is not None
        assert await store.load("resp_1", "key-b") is None and await store.load("resp_1", None) is None
        assert await store.load("resp_old", "key-a") is None
        assert not await store.delete("resp_1", "key-b")
        assert await store.delete("resp_1", "key-a") and await store.load("resp_1", "key-a") is None
        assert store.bytes == 0

    asyncio.run(run())


def test_bounded_by_count_and_bytes() -> None:
    async def run() -> None:
        store = MemoryResponseStore(max_items=3, max_bytes=10_000)
        for i in range(5):
            await store.save(stored(f"resp_{i}"))
        assert list(store.items) == ["resp_2", "resp_3", "resp_4"]
        await store.save(stored("resp_big", text="x" * 9_900))  # over the byte bound with the others: the oldest go
        assert list(store.items) in (["resp_4", "resp_big"], ["resp_big"]) and store.bytes <= 10_000
        await store.save(stored("resp_small"))
        await store.save(stored("resp_small"))  # saved again: counted once
        assert list(store.items)[-1] == "resp_small" and store.bytes == sum(size for _, size in store.items.values())

    asyncio.run(run())
