"""A request's outcome: what happened to one request, filled in as it runs and finished exactly once.

The pipeline and the front ends fill it; when the answer ends (success, error, the client leaving,
a stream cut short) `finish` stamps it and calls every `on_finish` hook once, in order. The request
log and the metrics subscribe there, so the pipeline never imports them. Hooks run on the event loop
inside the request's task: they must be quick and must not block (queue the work, don't do it).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

log = logging.getLogger("switchyard")

Status = Literal["ok", "error", "cancelled", "partial"]
# ok | http_<code> | timeout | connect_error | stream_error | cancelled | hedge_lost
AttemptResult = str


@dataclass(slots=True)
class AttemptOutcome:
    """One try of one (model, provider) route. Times in ms from the request's arrival (started_ms) or
    from the attempt's start (ttft_ms, duration_ms)."""

    model: str
    provider: str
    started_ms: float
    outcome: AttemptResult = "ok"
    status: int | None = None  # HTTP status the provider answered (or the gateway mapped a failure to)
    error: str | None = None
    ttft_ms: float | None = None
    duration_ms: float | None = None
    cost_usd: float | None = None
    cost_estimated: bool = False  # cost_usd is an estimate (a hedge's loser: prompt + output received)


@dataclass(slots=True)
class RouteCandidate:
    model: str
    provider: str
    predicted_quality: float
    estimated_cost_usd: float
    estimated_latency_ms: float
    score: float
    learned_adjustment: dict[str, Any] | None = None  # {"delta", "evidence"} when feedback moved this model


@dataclass(slots=True)
class AutoRoute:
    """How `model: "auto"` chose: the canonical preference, the prompt's difficulty, the ranked candidates."""

    preference: str
    difficulty: float
    reason: str
    candidates: list[RouteCandidate]
    features: dict[str, Any]


@dataclass(slots=True)
class Outcome:
    request_id: str
    api: str  # "openai_chat", "anthropic_messages", ...
    started_at: float = field(default_factory=time.time)  # Unix seconds, for the log
    started: float = field(default_factory=time.perf_counter)  # for durations
    client_request_id: str | None = None
    key: str | None = None  # the caller's gateway key name (never the key); None when keys are off
    model_requested: str | None = None
    stream: bool = False
    tags: Mapping[str, str] = field(default_factory=dict)
    model: str | None = None  # chosen catalogue model
    provider: str | None = None  # chosen provider
    status: Status | None = None  # set by finish
    http_status: int | None = None
    error: str | None = None
    error_code: str | None = None
    finish_reason: str | None = None
    ttft_ms: float | None = None  # arrival to the first content byte sent (stream), or to the whole answer
    duration_ms: float | None = None
    usage: dict[str, Any] | None = None  # prompt/completion/total tokens and cost_usd
    simulated: bool = False
    attempts: list[AttemptOutcome] = field(default_factory=list)
    bodies: dict[str, Any] | None = None  # log.bodies: messages and answer, redacted and capped
    route: AutoRoute | None = None
    hedge: str | None = None  # won | lost (a hedge was started) | skipped_budget (one was wanted); else None
    cache: str | None = None  # hit | miss when the exact-match cache was consulted
    cost_saved_usd: float | None = None  # a cache hit: what the answer cost when it was first made
    hooks: Sequence[Callable[[Outcome], None]] = ()

    @property
    def finished(self) -> bool:
        return self.status is not None

    @property
    def cost_usd(self) -> float | None:
        return None if self.usage is None else self.usage.get("cost_usd")

    def record(self) -> dict[str, Any]:
        """The outcome as plain JSON-ready data (for the request log): everything but the hooks and the
        perf-counter origin."""
        out = {name: getattr(self, name) for name in RECORD_FIELDS}
        out["tags"] = dict(self.tags)
        out["cost_usd"] = self.cost_usd
        out["attempts"] = [asdict(a) for a in self.attempts]
        out["route"] = asdict(self.route) if self.route is not None else None
        return out

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000.0

    def begin_attempt(self, model: str, provider: str) -> AttemptOutcome:
        attempt = AttemptOutcome(model, provider, round(self.elapsed_ms(), 3))
        self.attempts.append(attempt)
        return attempt

    def finish(self, status: Status, http_status: int, error: str | None = None, error_code: str | None = None) -> None:
        """Stamp the end and run the hooks; later calls do nothing (the first end is the true one)."""
        if self.status is not None:
            return
        self.status = status
        self.http_status = http_status
        self.error = error
        self.error_code = error_code
        self.duration_ms = round(self.elapsed_ms(), 3)
        for hook in self.hooks:
            try:
                hook(self)
            except Exception:  # a subscriber's bug must not turn a served answer into a failure
                log.exception("on_finish hook %r failed for request %s", hook, self.request_id)


RECORD_FIELDS = tuple(f.name for f in fields(Outcome) if f.name not in ("hooks", "started", "attempts", "route", "tags"))
