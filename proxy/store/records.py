"""The request log's record: one per request, written after its answer ends.

Plain slotted dataclasses, built on the request path and serialised once by the writer; `to_json()` is
the shape `GET /v1/requests/{id}` returns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

Status = Literal["ok", "error", "cancelled", "partial"]
Api = Literal["chat.completions", "messages", "responses", "embeddings"]
STATUSES: tuple[str, ...] = ("ok", "error", "cancelled", "partial")
APIS: tuple[str, ...] = ("chat.completions", "messages", "responses", "embeddings")
# `errors` in usage counts these: a cancelled request is the client's choice, not a failure.
ERROR_STATUSES: tuple[str, ...] = ("error", "partial")


@dataclass(slots=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    cache_write_tokens: int = 0
    cost_usd: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cached_tokens": self.cached_tokens,
            "reasoning_tokens": self.reasoning_tokens,
            "cache_write_tokens": self.cache_write_tokens,
            "cost_usd": self.cost_usd,
        }


@dataclass(slots=True)
class AttemptRecord:
    """One upstream attempt. `outcome`: ok, http_<code>, timeout, connect_error, stream_error, cancelled,
    hedge_lost (a hedge's loser: its cost is an estimate, `cost_estimated`)."""

    model: str
    provider: str
    outcome: str
    status: int | None = None
    error: str | None = None
    started_ms: float = 0.0  # since the request arrived
    ttft_ms: float | None = None
    duration_ms: float = 0.0
    cost_usd: float = 0.0
    cost_estimated: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model, "provider": self.provider, "outcome": self.outcome, "status": self.status,
            "error": self.error, "started_ms": self.started_ms, "ttft_ms": self.ttft_ms,
            "duration_ms": self.duration_ms, "cost_usd": self.cost_usd, "cost_estimated": self.cost_estimated,
        }


@dataclass(slots=True)
class RouteReceipt:
    """Why `auto` chose what it chose. `features` are the prompt's routing features, never its text,
    so learning from feedback later needs no stored bodies."""

    preference: str
    difficulty: float | None = None
    reason: str = ""
    candidates: list[dict[str, Any]] = field(default_factory=list)
    features: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "preference": self.preference, "difficulty": self.difficulty, "reason": self.reason,
            "candidates": self.candidates, "features": self.features,
        }


@dataclass(slots=True)
class RequestRecord:
    id: str
    ts_ms: int  # when the request arrived, Unix milliseconds
    api: str
    model_requested: str
    status: str
    key: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    client_request_id: str | None = None
    model: str | None = None
    provider: str | None = None
    stream: bool = False
    http_status: int = 200
    error: str | None = None
    finish_reason: str | None = None
    ttft_ms: float | None = None
    duration_ms: float = 0.0
    usage: Usage = field(default_factory=Usage)
    attempts: list[AttemptRecord] = field(default_factory=list)
    route: RouteReceipt | None = None
    bodies: dict[str, Any] | None = None  # only with log.bodies: true, redacted and capped
    hedge: str | None = None  # won | lost | skipped_budget, when hedging was involved
    cache: str | None = None  # hit | miss, when the answer cache was consulted
    cost_saved_usd: float = 0.0  # a cache hit: what the answer cost when it was first made
    error_code: str | None = None  # the error's code (upstream_timeout, all_providers_failed, ...)

    @property
    def failed_attempts_cost_usd(self) -> float:
        """What attempts that did not produce the answer cost (a partial stream that fell back, a hedge)."""
        return round(sum(a.cost_usd for a in self.attempts if a.outcome != "ok"), 10)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "created_at": iso_ms(self.ts_ms),
            "api": self.api,
            "key": self.key,
            "tags": self.tags,
            "client_request_id": self.client_request_id,
            "model_requested": self.model_requested,
            "model": self.model,
            "provider": self.provider,
            "stream": self.stream,
            "status": self.status,
            "http_status": self.http_status,
            "error": self.error,
            "finish_reason": self.finish_reason,
            "ttft_ms": self.ttft_ms,
            "duration_ms": self.duration_ms,
            "usage": self.usage.to_json(),
            "failed_attempts_cost_usd": self.failed_attempts_cost_usd,
            "attempts": [a.to_json() for a in self.attempts],
            "route": self.route.to_json() if self.route else None,
            "bodies": self.bodies,
            "hedge": self.hedge,
            "cache": self.cache,
            "cost_saved_usd": self.cost_saved_usd,
            "error_code": self.error_code,
        }


@dataclass(frozen=True, slots=True)
class Feedback:
    request_id: str
    ts_ms: int
    key: str | None
    metric: str
    score: float | None = None
    thumbs: str | None = None  # "up" | "down"
    comment: str | None = None
    # whose routing it teaches: None, the rated request's key (or the deployment with keys off);
    # "deployment" (an admin's only), everyone's
    scope: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "created_at": iso_ms(self.ts_ms), "key": self.key, "metric": self.metric,
            "score": self.score, "thumbs": self.thumbs, "comment": self.comment, "scope": self.scope,
        }


def record_json(stored: dict[str, Any]) -> dict[str, Any]:
    """A record as stored (orjson's encoding of the dataclass, the cheapest to write) -> `to_json()`'s shape."""
    attempts = stored["attempts"]
    return {
        "id": stored["id"],
        "created_at": iso_ms(stored["ts_ms"]),
        **{name: stored[name] for name in _PLAIN_FIELDS},
        "usage": stored["usage"],
        "failed_attempts_cost_usd": round(sum(a["cost_usd"] for a in attempts if a["outcome"] != "ok"), 10),
        "attempts": attempts,
        "route": stored["route"],
        "bodies": stored["bodies"],
        # added after the first records were written: absent from those
        "hedge": stored.get("hedge"),
        "cache": stored.get("cache"),
        "cost_saved_usd": stored.get("cost_saved_usd", 0.0),
        "error_code": stored.get("error_code"),
    }


_PLAIN_FIELDS = ("api", "key", "tags", "client_request_id", "model_requested", "model", "provider", "stream", "status",
                 "http_status", "error", "finish_reason", "ttft_ms", "duration_ms")


def iso_ms(ts_ms: int) -> str:
    """RFC 3339 in UTC with milliseconds: 2026-12-02T01:02:03.456Z."""
    return datetime.fromtimestamp(ts_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
