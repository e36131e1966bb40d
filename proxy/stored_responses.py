"""Stored Responses API conversations: what `previous_response_id` and `GET/DELETE /v1/responses/{id}`
read, behind one small interface so the request log's database can keep them (durably, shared by
replicas) and this process-local store can stand in where there is none.

A stored response keeps the Response object as returned and the conversation as internal messages
(every earlier turn, this turn's input, and its answer, instructions excepted as OpenAI does), so the
next turn can be answered by any provider. Each belongs to the key that created it: another key
reads it as unknown, a 404, never a 403 that would confirm it exists.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class StoredResponse:
    id: str
    owner: str | None  # the gateway key's name; None on a gateway without keys
    created_at: int
    expires_at: float
    response: dict[str, Any]
    conversation: list[dict[str, Any]]


class ResponseStore(Protocol):
    async def save(self, stored: StoredResponse) -> None:
        """Durable when it returns: the next turn may arrive at once, at another replica."""

    async def load(self, response_id: str, owner: str | None) -> StoredResponse | None:
        """None for an unknown, expired or deleted id, or one another key owns."""

    async def delete(self, response_id: str, owner: str | None) -> bool:
        """True when the caller's response existed and is gone."""


class MemoryResponseStore:
    """This process only, newest `max_items` kept: for a single replica without the request log's
    database. Replicas need the database-backed store to see each other's conversations."""

    def __init__(self, max_items: int = 10_000) -> None:
        self.max_items = max_items
        self.items: OrderedDict[str, StoredResponse] = OrderedDict()

    async def save(self, stored: StoredResponse) -> None:
        self.items[stored.id] = stored
        self.items.move_to_end(stored.id)
        while len(self.items) > self.max_items:
            self.items.popitem(last=False)

    async def load(self, response_id: str, owner: str | None) -> StoredResponse | None:
        stored = self.items.get(response_id)
        if stored is None or stored.owner != owner:
            return None
        if stored.expires_at <= time.time():
            del self.items[response_id]
            return None
        return stored

    async def delete(self, response_id: str, owner: str | None) -> bool:
        if await self.load(response_id, owner) is None:
            return False
        del self.items[response_id]
        return True
