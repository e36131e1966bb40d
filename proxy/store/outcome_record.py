"""A finished Outcome (the pipeline's account of one request) as the request log's record."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from proxy.outcome import AttemptOutcome, Outcome, RouteCandidate
from proxy.store.records import AttemptRecord, RequestRecord, RouteReceipt, Usage

# the front ends' names for their APIs -> the log's `api` values
API_NAMES = {"openai_chat": "chat.completions", "anthropic_messages": "messages", "openai_responses": "responses",
             "openai_embeddings": "embeddings"}


def usage_of(usage: dict[str, Any] | None) -> Usage:
    """OpenAI-shaped usage (prompt_tokens counts cached ones) with cost, as the log's Usage."""
    if not usage:
        return Usage()
    prompt_details = usage.get("prompt_tokens_details") or {}
    completion_details = usage.get("completion_tokens_details") or {}
    return Usage(
        prompt_tokens=int(usage.get("prompt_tokens") or 0),
        completion_tokens=int(usage.get("completion_tokens") or 0),
        cached_tokens=int(prompt_details.get("cached_tokens") or usage.get("cache_read_input_tokens") or 0),
        reasoning_tokens=int(completion_details.get("reasoning_tokens") or 0),
        cache_write_tokens=int(usage.get("cache_creation_input_tokens") or 0),
        cost_usd=float(usage.get("cost_usd") or 0.0),
    )


def attempt_of(a: AttemptOutcome) -> AttemptRecord:
    return AttemptRecord(a.model, a.provider, a.outcome, a.status, a.error, a.started_ms, a.ttft_ms,
                         a.duration_ms or 0.0, a.cost_usd or 0.0, a.cost_estimated)


def candidate_of(c: RouteCandidate) -> dict[str, Any]:
    """A ranked candidate as the receipt keeps it; `learned_adjustment` only when feedback had moved its model."""
    out = asdict(c)
    if out["learned_adjustment"] is None:
        del out["learned_adjustment"]
    return out


def record_of(o: Outcome) -> RequestRecord:
    route = None
    if o.route is not None:
        r = o.route
        route = RouteReceipt(r.preference, r.difficulty, r.reason, [candidate_of(c) for c in r.candidates], r.features)
    return RequestRecord(
        id=o.request_id, ts_ms=int(o.started_at * 1000), api=API_NAMES.get(o.api, o.api),
        model_requested=o.model_requested or "", status=o.status or "error", key=o.key, tags=dict(o.tags),
        client_request_id=o.client_request_id, model=o.model, provider=o.provider, stream=o.stream,
        http_status=o.http_status or 0, error=o.error, finish_reason=o.finish_reason, ttft_ms=o.ttft_ms,
        duration_ms=o.duration_ms or 0.0, usage=usage_of(o.usage), attempts=[attempt_of(a) for a in o.attempts],
        route=route, bodies=o.bodies, hedge=o.hedge, cache=o.cache, cost_saved_usd=o.cost_saved_usd or 0.0,
        error_code=o.error_code,
    )
