"""What every store back end does, and the one mapping from a record to a row that both share."""

from __future__ import annotations

from typing import Any, Protocol

import orjson

from proxy.store.keys import KeyRecord
from proxy.store.queries import Page, RequestFilter
from proxy.store.records import Feedback, RequestRecord, record_json

INSERT_COLUMNS = (
    "id", "ts", "api", "key_name", "model_requested", "model", "provider", "status", "http_status", "ttft_ms",
    "duration_ms", "prompt_tokens", "completion_tokens", "cached_tokens", "reasoning_tokens", "cost_usd",
    "failed_attempts_cost_usd", "attempts", "tags", "doc", "cost_saved_usd", "finish_reason",
)
FEEDBACK_COLUMNS = ("request_id", "ts", "key_name", "metric", "score", "thumbs", "comment", "scope")


# (feedback rows, implicit-signal rows): see LogBackend.learning_events
LearningEvents = tuple[list[tuple[int, str | None, float | None, str | None, str | None, str]],
                       list[tuple[int, str | None, str]]]


class StoreUnavailable(Exception):
    """The database cannot be reached or written right now (down, full, read-only)."""


class LogBackend(Protocol):
    dialect: str

    async def open(self) -> None:
        """Connect and apply pending migrations; raises StoreUnavailable when the database is down."""

    async def close(self) -> None: ...

    async def insert_records(self, rows: list[tuple[Any, ...]]) -> None:
        """One transaction; a row whose id is already stored is skipped (a retried batch)."""

    async def get_record(self, request_id: str) -> dict[str, Any] | None:
        """The stored document with its feedback, or None."""

    async def list_records(self, flt: RequestFilter, page: Page) -> tuple[list[dict[str, Any]], str | None]: ...

    async def usage(self, flt: RequestFilter, dims: list[str]) -> list[dict[str, Any]]: ...

    async def add_feedback(self, feedback: Feedback) -> bool:
        """Durable: committed when this returns. False when no record has that id."""

    async def record_owner(self, request_id: str) -> tuple[bool, str | None]:
        """(exists, key name) of a stored record."""

    async def learning_events(self, since_ms: int, limit: int) -> LearningEvents:
        """What routing learns from, newest `limit` of each kind since `since_ms`, for `auto` requests only:
        feedback rows (ts, scope, score, thumbs, the request's key, its doc) and records that may carry an
        implicit signal (ts, key, doc: failed, or finished for length or a content filter)."""

    async def expire(self, before_ms: int, batch: int) -> int:
        """Delete up to `batch` of the oldest records older than `before_ms` (and their feedback)."""

    async def insert_key(self, rec: KeyRecord) -> None:
        """Durable; a second key with the same secret digest raises StoreUnavailable (never happens:
        secrets are 256 random bits)."""

    async def save_key(self, rec: KeyRecord) -> bool:
        """Durable: the editable columns, updated_at and revoked. False when no key has that id."""

    async def add_spend(self, key_id: str, period_id: int, nusd: int, now_ms: int) -> None:
        """Durable and atomic: add to the period's spend (a new period starts from this amount)."""

    async def get_key(self, key_id: str) -> KeyRecord | None: ...

    async def keys_changed_since(self, since_ms: int) -> list[KeyRecord]:
        """Keys whose updated_at >= since_ms, oldest change first (0: every key)."""

    async def save_response(self, row: tuple[str, str | None, int, int, str], now_ms: int) -> None:
        """Durable: committed when this returns (id, key_name, created_ms, expires_ms, doc); a few
        responses expired before `now_ms` are deleted in the same transaction."""

    async def load_response(self, response_id: str, now_ms: int) -> tuple[str | None, int, str] | None:
        """(key_name, expires_ms, doc) of a stored response that has not expired, or None."""

    async def delete_response(self, response_id: str, key_name: str | None) -> bool:
        """True when the key's response existed and is gone."""


def record_row(rec: RequestRecord) -> tuple[Any, ...]:
    usage = rec.usage
    return (
        rec.id, rec.ts_ms, rec.api, rec.key, rec.model_requested, rec.model, rec.provider, rec.status,
        rec.http_status, rec.ttft_ms, rec.duration_ms, usage.prompt_tokens, usage.completion_tokens,
        usage.cached_tokens, usage.reasoning_tokens, usage.cost_usd, rec.failed_attempts_cost_usd,
        len(rec.attempts), orjson.dumps(rec.tags).decode(), orjson.dumps(rec).decode(), rec.cost_saved_usd,
        rec.finish_reason,
    )


def feedback_row(fb: Feedback) -> tuple[Any, ...]:
    return (fb.request_id, fb.ts_ms, fb.key, fb.metric, fb.score, fb.thumbs, fb.comment, fb.scope)


def feedback_json(row: tuple[Any, ...]) -> dict[str, Any]:
    return Feedback(*row).to_json()


def receipt(doc: str | bytes) -> dict[str, Any]:
    """A stored document as `GET /v1/requests/{id}` shows it."""
    return record_json(orjson.loads(doc))


def listed(doc: str | bytes) -> dict[str, Any]:
    """A record as lists show it: without the route's candidates (the receipt keeps them)."""
    rec = receipt(doc)
    route = rec.get("route")
    if route:
        route.pop("candidates", None)
    rec.pop("bodies", None)
    return rec
