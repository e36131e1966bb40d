"""Stored Responses API conversations: what `previous_response_id` and `GET/DELETE /v1/responses/{id}`
read, behind one small interface.

`DatabaseResponseStore` keeps them in the request log's database: durable, and shared by replicas
through PostgreSQL.

A stored response keeps the Response object as returned, this turn's input items as the client sent
them, and the conversation as internal messages (every earlier turn, this turn's input, and its
answer, instructions excepted as OpenAI does), so the next turn can be answered by any provider. Each belongs to the key that created it: another key
reads it as unknown, a 404, never a 403 that would confirm it exists.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from proxy.store.base import LogBackend


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


class DatabaseResponseStore:
    """Stored responses in the request log's database, on its durable write path: `save` returns once
    the row is committed, so the next turn finds it at any replica. Expired rows are never read, and
    are deleted a few at a time as new ones are saved."""

    def __init__(self, backend: LogBackend) -> None:
        self.backend = backend

    async def save(self, stored: StoredResponse) -> None:
        doc = orjson.dumps({"response": stored.response, "conversation": stored.conversation, "input_items": stored.input_items})
        row = (stored.id, stored.owner, stored.created_at * 1000, int(stored.expires_at * 1000), doc.decode())
        await self.backend.save_response(row, now_ms())

    async def load(self, response_id: str, owner: str | None) -> StoredResponse | None:
        found = await self.backend.load_response(response_id, now_ms())
        if found is None or found[0] != owner:
            return None
        doc = orjson.loads(found[2])
        return StoredResponse(id=response_id, owner=owner, created_at=int(doc["response"].get("created_at") or 0),
                              expires_at=found[1] / 1000, response=doc["response"], conversation=doc["conversation"],
                              input_items=doc.get("input_items") or [])

    async def delete(self, response_id: str, owner: str | None) -> bool:
        return await self.backend.delete_response(response_id, owner)


def now_ms() -> int:
    return int(time.time() * 1000)
