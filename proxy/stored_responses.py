"""Stored Responses API conversations: what `previous_response_id` and `GET/DELETE /v1/responses/{id}`
read, behind one small interface so the request log's database can keep them (durably, shared by
replicas) and this process-local store can stand in where there is none.

A stored response keeps the Response object as returned, this turn's input items as the client sent
them, and the conversation as internal messages (every earlier turn, this turn's input, and its
answer, instructions excepted as OpenAI does), so the next turn can be answered by any provider. Each belongs to the key that created it: another key
reads it as unknown, a 404, never a 403 that would confirm it exists.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Protocol

import orjson


@dataclass(frozen=True, slots=True)
class StoredResponse:
    id: str
    owner: str | None  # the gateway key's name; None on a gateway without keys
    created_at: int
    expires_at: float
    response: dict[str, Any]
    conversation: list[dict[str, Any]]
    input_items: list[dict[str, Any]]  # this turn's input as GET /v1/responses/{id}/input_items lists it


class ResponseStore(Protocol):
    async def save(self, stored: StoredResponse) -> None:
        """Durable when it returns: the next turn may arrive at once, at another replica."""

    async def load(self, response_id: str, owner: str | None) -> StoredResponse | None:
        """None for an unknown, expired or deleted id, or one another key owns."""

    async def delete(self, response_id: str, owner: str | None) -> bool:
        """True when the caller's response existed and is gone."""


class MemoryResponseStore:
    """This process only, the newest kept within `max_items` and `max_bytes` (a conversation carries
    every earlier turn, images included): for a single replica without the request log's database.
    Replicas need the database-backed store to see each other's conversations."""

    def __init__(self, max_items: int = 10_000, max_bytes: int = 256 << 20) -> None:
        self.max_items = max_items
        self.max_bytes = max_bytes
        self.items: OrderedDict[str, tuple[StoredResponse, int]] = OrderedDict()
        self.bytes = 0

    async def save(self, stored: StoredResponse) -> None:
        size = sum(len(orjson.dumps(part)) for part in (stored.conversation, stored.response, stored.input_items))
        self.drop(stored.id)
        self.items[stored.id] = (stored, size)
        self.bytes += size
        while self.items and (len(self.items) > self.max_items or self.bytes > self.max_bytes):
            self.drop(next(iter(self.items)))

    def drop(self, response_id: str) -> None:
        entry = self.items.pop(response_id, None)
        if entry is not None:
            self.bytes -= entry[1]

    async def load(self, response_id: str, owner: str | None) -> StoredResponse | None:
        entry = self.items.get(response_id)
        if entry is None or entry[0].owner != owner:
            return None
        if entry[0].expires_at <= time.time():
            self.drop(response_id)
            return None
        return entry[0]

    async def delete(self, response_id: str, owner: str | None) -> bool:
        if await self.load(response_id, owner) is None:
            return False
        self.drop(response_id)
        return True
