"""Stored Responses API conversations in the request log's database (SQLite and a throwaway
PostgreSQL): durable when saved, owned by their key, expired by their deadline, and shared by two
gateways on one PostgreSQL database (another replica answers the next turn)."""

from __future__ import annotations

import time
from pathlib import Path

from proxy.store import Store, backend_for
from proxy.store.responses import DatabaseResponseStore, StoredResponse


def stored(response_id: str, owner: str | None = "key-a", ttl_s: float = 3600.0, text: str = "hi") -> StoredResponse:
    return StoredResponse(id=response_id, owner=owner, created_at=int(time.time()), expires_at=time.time() + ttl_s,
                          response={"id": response_id, "created_at": int(time.time()), "output_text": text},
                          conversation=[{"role": "user", "content": text}, {"role": "assistant", "content": "ok"}],
                          input_items=[{"id": "msg_1", "type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}])


async def test_saved_reads_back_for_its_owner_only(store: Store) -> None:
    responses = DatabaseResponseStore(store.backend)
    await responses.save(stored("resp_1"))
    got = await responses.load("resp_1", "key-a")
    assert got is not None and got.response["output_text"] == "hi" and got.conversation[1]["content"] == "ok"
    assert got.input_items[0]["id"] == "msg_1" and got.expires_at > time.time()
    assert await responses.load("resp_1", "key-b") is None and await responses.load("resp_1", None) is None
    assert await responses.load("resp_nope", "key-a") is None


async def test_a_gateway_without_keys_owns_as_none(store: Store) -> None:
    responses = DatabaseResponseStore(store.backend)
    await responses.save(stored("resp_open", owner=None))
    assert await responses.load("resp_open", None) is not None and await responses.load("resp_open", "key-a") is None
    assert not await responses.delete("resp_open", "key-a") and await responses.delete("resp_open", None)


async def test_delete_is_the_owners(store: Store) -> None:
    responses = DatabaseResponseStore(store.backend)
    await responses.save(stored("resp_2"))
    assert not await responses.delete("resp_2", "key-b")
    assert await responses.delete("resp_2", "key-a") and await responses.load("resp_2", "key-a") is None
    assert not await responses.delete("resp_2", "key-a")


async def test_expired_are_never_read_and_are_cleared_by_later_saves(store: Store) -> None:
    responses = DatabaseResponseStore(store.backend)
    for i in range(5):
        await responses.save(stored(f"resp_old_{i}", ttl_s=-1))
    assert await responses.load("resp_old_0", "key-a") is None
    await responses.save(stored("resp_new"))
    for i in range(5):  # the new save deleted them: re-saving one with a live deadline finds no conflict
        assert await store.backend.delete_response(f"resp_old_{i}", "key-a") is False


async def test_saving_again_replaces(store: Store) -> None:
    responses = DatabaseResponseStore(store.backend)
    await responses.save(stored("resp_3", text="first"))
    await responses.save(stored("resp_3", text="second"))
    got = await responses.load("resp_3", "key-a")
    assert got is not None and got.response["output_text"] == "second"


async def test_two_gateways_share_conversations_through_postgres(postgres: object, tmp_path: Path) -> None:
    url = postgres.new_database()  # type: ignore[attr-defined]
    first, second = (Store.create(backend_for(str(tmp_path / name), url)) for name in ("a", "b"))
    await first.start()
    await second.start()
    try:
        await DatabaseResponseStore(first.backend).save(stored("resp_shared"))
        got = await DatabaseResponseStore(second.backend).load("resp_shared", "key-a")
        assert got is not None and got.conversation[0]["content"] == "hi"
    finally:
        await first.close()
        await second.close()
