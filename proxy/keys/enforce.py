"""Enforcement for virtual keys: admit a request under its key's limits and budget, then settle it.

Before dispatch, `admit` reserves the estimated cost (prompt tokens, plus output tokens capped by the
smaller of `max_tokens` and the key's recent p95 output) and counts the request in the RPM and TPM
windows and the key's parallel slots, all in one step of the shared state. When the answer ends
(success, failure or the client leaving) `settle` replaces the estimate by the true tokens and cost,
failed attempts included: first in the live state, then durably in the store (the budget's truth).

Errors are the gateway's plain GatewayError with the rate-limit headers of the caller's API
attached by the front end (`ratelimit_headers`): 429 over RPM, TPM or max_parallel (with
Retry-After), 429 `insufficient_quota` over budget, 503 when Redis is down in `closed` mode.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from proxy.errors import GatewayError
from proxy.keys.registry import KeyRegistry
from proxy.keys.spend import SpendWriter
from proxy.state import rules
from proxy.state.backend import Decision, Demand, Settlement, StateUnavailable
from proxy.state.shared import SharedState
from proxy.store.keys import KeyRecord

log = logging.getLogger("switchyard")

CHARS_PER_TOKEN = 4  # a prompt's token estimate before the upstream counts it
OUTPUT_SAMPLES = 200  # a key's recent output lengths kept for its p95
P95_EVERY = 10  # once the window is full, the p95 is recomputed every this many answers


@dataclass(slots=True)
class Admission:
    """One admitted request under a key: what settle needs, and what the headers say."""

    key: KeyRecord
    ticket: str
    backend: str
    period_id: int
    limits: rules.KeyLimits  # the limits as enforced on this replica (a share when divided)
    decision: Decision
    settled: bool = False


def estimate_prompt_tokens(messages: Iterable[Mapping[str, Any]]) -> int:
    """Characters / 4 over every text part, plus a few tokens of framing per message."""
    chars = 0
    count = 0
    for message in messages:
        count += 1
        content = message.get("content")
        if isinstance(content, str):
            chars += len(content)
        elif isinstance(content, list):
            for part in content:
                if isinstance(part, Mapping) and isinstance(part.get("text"), str):
                    chars += len(part["text"])
    return chars // CHARS_PER_TOKEN + 4 * count


def duration_text(seconds: float) -> str:
    """OpenAI's reset format: `20ms`, `1s`, `6m0s`."""
    if seconds < 1:
        return f"{max(int(seconds * 1000), 1)}ms"
    whole = math.ceil(seconds)
    return f"{whole // 60}m{whole % 60}s" if whole >= 60 else f"{whole}s"


class Enforcer:
    def __init__(self, registry: KeyRegistry, state: SharedState, window_s: float = 60.0, lease_s: float = 630.0) -> None:
        self.registry = registry
        self.state = state
        self.window_s = window_s
        self.lease_s = lease_s
        self.spend = SpendWriter()  # its back end is set when the store opens
        self.on_refused: Callable[[str], None] = lambda reason: None  # the refusals metric, when wired
        self.outputs: dict[str, deque[int]] = {}
        self._answers = 0
        self._p95: dict[str, int | None] = {}  # recomputed every P95_EVERY samples, not per request
        self._periods: dict[str | None, tuple[int, float]] = {}  # period -> (its id, when it ends)
        self._pending: set[asyncio.Task[None]] = set()

    def p95_output(self, key_id: str) -> int | None:
        return self._p95.get(key_id)

    def record_output(self, key_id: str, completion_tokens: int) -> None:
        samples = self.outputs.get(key_id)
        if samples is None:
            samples = self.outputs[key_id] = deque(maxlen=OUTPUT_SAMPLES)
        samples.append(completion_tokens)
        self._answers += 1
        if len(samples) < OUTPUT_SAMPLES or self._answers % P95_EVERY == 0:
            self._p95[key_id] = rules.p95(samples)

    def period_id(self, period: rules.Period | None) -> int:
        """The current budget period's id, cached until the period ends (a UTC boundary)."""
        now = time.time()
        cached = self._periods.get(period)
        if cached is not None and now < cached[1]:
            return cached[0]
        at = datetime.fromtimestamp(now, UTC)
        end = rules.period_end(period, at)
        pid = rules.period_id(period, at)
        self._periods[period] = (pid, end.timestamp() if end is not None else float("inf"))
        return pid

    async def admit(
        self, key: KeyRecord, *, prompt_tokens: int, max_tokens: int | None, prices: tuple[float, float],
        ticket: str | None = None, api: str = "openai",
    ) -> Admission | None:
        """None for a key without limits (nothing to count); raises a 429/503 GatewayError to refuse.
        `prices`: USD per 1M input and output tokens of the dearest route the request may take;
        `api`: "openai" or "anthropic", whose rate-limit headers a refusal carries."""
        limits = self.registry.limits.get(key.id) or rules.KeyLimits()
        if not limits.any:
            return None
        output = rules.output_tokens_to_reserve(max_tokens, self.p95_output(key.id))
        cost = rules.usd_to_nano((prompt_tokens * prices[0] + output * prices[1]) / 1e6)
        period_id = self.period_id(limits.budget_period)
        seed = key.spend_nusd if key.spend_period == period_id else 0
        demand = Demand(key.id, ticket or uuid.uuid4().hex, limits, prompt_tokens + output, cost, period_id, seed,
                        self.lease_s, self.window_s)
        try:
            decision, backend = await self.state.admit(demand)
        except StateUnavailable:
            self.on_refused("limits_unavailable")
            raise GatewayError(
                503, "Rate limits are shared through Redis, which is unreachable, and state.on_redis_down is "
                     "'closed': requests from keys with limits are refused until it returns. Retry shortly.",
                code="limits_unavailable", type="api_error", headers={"Retry-After": "1"}) from None
        adm = Admission(key, demand.ticket, backend, period_id, limits.shared(self.state.divisor)
                        if backend == "local" else limits, decision)
        if not decision.admitted:
            self.on_refused(decision.refused_by or "unknown")
            raise refusal(adm, api)
        return adm

    def settle_soon(self, adm: Admission, prompt_tokens: int, completion_tokens: int, cost_usd: float) -> None:
        """From an on_finish hook (which must not wait): settle on a task of its own."""
        task = asyncio.get_running_loop().create_task(self.settle(adm, prompt_tokens, completion_tokens, cost_usd))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def settle(self, adm: Admission, prompt_tokens: int, completion_tokens: int, cost_usd: float) -> None:
        if adm.settled:
            return
        adm.settled = True
        cost = rules.usd_to_nano(cost_usd)
        if completion_tokens > 0:
            self.record_output(adm.key.id, completion_tokens)
        await self.state.settle(Settlement(adm.key.id, adm.ticket, prompt_tokens + completion_tokens, cost,
                                           adm.period_id), adm.backend)
        self.spend.add(adm.key.id, adm.period_id, cost)

    async def drain(self) -> None:
        """Wait for settlements in flight, then write out the spend (shutdown)."""
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
        await self.spend.close()


def refusal(adm: Admission, api: str) -> GatewayError:
    d = adm.decision
    name = adm.key.name
    if d.refused_by == "budget":
        budget = rules.nano_to_usd(adm.limits.budget_nusd or 0)
        period = f" per {adm.limits.budget_period}" if adm.limits.budget_period else ""
        return GatewayError(
            429, f"The key '{name}' has used its budget of ${budget:g}{period} (spent ${rules.nano_to_usd(d.spent_nusd):g}, "
                 f"${rules.nano_to_usd(d.reserved_nusd):g} reserved by requests in flight). Raise its budget_usd or "
                 "wait for the period to reset.",
            code="insufficient_quota", type="insufficient_quota", headers=ratelimit_headers(adm, api))
    what = {"rpm": f"{adm.limits.rpm} requests", "tpm": f"{adm.limits.tpm} tokens",
            "max_parallel": f"{adm.limits.max_parallel} requests in parallel"}[d.refused_by or "rpm"]
    per = "" if d.refused_by == "max_parallel" else " per minute" if adm.decision.requests_reset_s <= 60 else " per window"
    retry = max(d.retry_after_s or 1.0, 0.001)
    return GatewayError(
        429, f"The key '{name}' is over its limit of {what}{per}. Retry after {retry:.3g} s.",
        code="rate_limit_exceeded", type="requests" if d.refused_by != "tpm" else "tokens",
        headers={"Retry-After": str(max(math.ceil(retry), 1)), **ratelimit_headers(adm, api)})


def ratelimit_headers(adm: Admission, api: str) -> dict[str, str]:
    """The key's rate-limit state in the caller's API's headers: OpenAI's `x-ratelimit-*` or Anthropic's
    `anthropic-ratelimit-*` (resets as RFC 3339 times there)."""
    d, lim = adm.decision, adm.limits
    out: dict[str, str] = {}
    sets = (("requests", lim.rpm, d.requests_in_window, d.requests_reset_s),
            ("tokens", lim.tpm, d.tokens_in_window, d.tokens_reset_s))
    for what, limit, used, reset_s in sets:
        if limit is None:
            continue
        remaining = str(max(limit - used, 0))
        if api == "anthropic":
            at = datetime.fromtimestamp(time.time() + reset_s, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
            out[f"anthropic-ratelimit-{what}-limit"] = str(limit)
            out[f"anthropic-ratelimit-{what}-remaining"] = remaining
            out[f"anthropic-ratelimit-{what}-reset"] = at
        else:
            out[f"x-ratelimit-limit-{what}"] = str(limit)
            out[f"x-ratelimit-remaining-{what}"] = remaining
            out[f"x-ratelimit-reset-{what}"] = duration_text(reset_s)
    return out
