"""Hedging policy: whether a request may hedge, after how long, to which candidate, within what budget.

Pure decisions over config, the request's ask and the scorer's live numbers; the race itself is the
pipeline's (proxy/pipeline/fallback.py). A hedge starts the next candidate as well when the first
attempt has produced no content by the delay: the provider's live p95 time to first token (from the
Rust scorer's quantile), or a fixed number of ms.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Literal

from proxy._scorer import Scorer
from proxy.call import HedgeAsk
from proxy.catalog import Catalog, Route
from proxy.config import HedgeConfig

HedgeResult = Literal["won", "lost", "skipped_budget"]
# Samples the p95 needs before it is trusted; until then a "p95" hedge waits (no hedge).
MIN_QUANTILE_SAMPLES = 20
# The weight a stretch below the p95 may hold and still count as empty (the hedge delay skips it).
GAP_SHARE = 0.01
# After a 429 the provider is not hedged to for this long (or its Retry-After, if longer).
RATE_LIMIT_QUIET_S = 10.0
# The budget's window: tokens accrue at `budget_share` per request and cap at this many requests' worth.
BUDGET_WINDOW_REQUESTS = 200


@dataclass(frozen=True, slots=True)
class HedgePlan:
    """A request's hedging: after `delay_ms` (None: the lead provider's live p95), up to `max_extra`."""

    delay_ms: float | None
    max_extra: int


class HedgeBudget:
    """A token bucket shared by every request: each request adds `share` of a token, each hedge takes
    one, so hedges stay at most `share` of requests over the last `window` requests."""

    __slots__ = ("share", "capacity", "tokens")

    def __init__(self, share: float, window: int = BUDGET_WINDOW_REQUESTS) -> None:
        self.share = share
        self.capacity = max(1.0, share * window)
        self.tokens = self.capacity

    def on_request(self) -> None:
        tokens = self.tokens + self.share
        self.tokens = tokens if tokens < self.capacity else self.capacity

    def take(self) -> bool:
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


@dataclass(slots=True)
class Hedging:
    """The gateway's hedging state: config, the global budget, and which providers are rate limiting."""

    config: HedgeConfig
    catalog: Catalog
    scorer: Scorer
    budget: HedgeBudget = field(init=False)
    rate_limited_until: dict[tuple[str, str], float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=lambda: {"won": 0, "lost": 0, "skipped_budget": 0})

    def __post_init__(self) -> None:
        self.budget = HedgeBudget(self.config.budget_share)

    def plan(self, model: str | None, ask: HedgeAsk | None) -> HedgePlan | None:
        """The request's hedging (None: no hedge), from its ask, else its model's config, else routing.hedge.
        Every request credits the budget, hedged or not: the budget is a share of all requests."""
        self.budget.on_request()
        entry = self.catalog.models.get(model) if model is not None else None
        config = entry.config.hedge if entry is not None and entry.config.hedge is not None else self.config
        if ask is not None:
            if not ask.enabled:
                return None
            delay = ask.delay if ask.delay is not None else config.delay
            return HedgePlan(None if delay == "p95" else float(delay), config.max_extra)
        if not config.enabled:
            return None
        return HedgePlan(None if config.delay == "p95" else float(config.delay), config.max_extra)

    def delay_ms(self, plan: HedgePlan, lead: Route) -> float | None:
        """How long to wait on `lead` before hedging; None when its p95 is not known yet. The p95 is
        lowered across a nearly empty stretch below it (see `Scorer.ttft_hedge_delay`): with a tail of
        exactly 5% the p95 flips between the bulk and the tail, and a hedge in the tail is useless."""
        if plan.delay_ms is not None:
            return plan.delay_ms
        return self.scorer.ttft_hedge_delay(lead.model, lead.provider, 0.95, GAP_SHARE, MIN_QUANTILE_SAMPLES)

    def may_hedge_to(self, route: Route) -> bool:
        """Never to an open circuit, nor to a provider that answered 429 lately."""
        until = self.rate_limited_until.get((route.model, route.provider))
        if until is not None and time.monotonic() < until:
            return False
        return self.scorer.is_available(route.model, route.provider)

    def on_rate_limited(self, route: Route, retry_after_s: float | None) -> None:
        quiet = max(RATE_LIMIT_QUIET_S, retry_after_s or 0.0)
        self.rate_limited_until[(route.model, route.provider)] = time.monotonic() + quiet

    def count(self, result: HedgeResult) -> None:
        self.counts[result] += 1
