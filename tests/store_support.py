"""Helpers the store tests share."""

from __future__ import annotations

from proxy.store import RequestRecord, Store


async def logged(store: Store, records: list[RequestRecord]) -> None:
    """Queue the records and wait until the writer has them on disk."""
    for rec in records:
        assert store.log(rec)
    assert await store.writer.flush()
