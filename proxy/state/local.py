"""The in-process back end: the rules of `proxy.state.rules` over plain deques and dicts.

Used by a single process without Redis, by each worker of `--workers N` (with limits ÷ N), and as a
replica's fallback while Redis is down (`state.on_redis_down: local`, with limits ÷ replicas).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from proxy.state import rules
from proxy.state.backend import Decision, Demand, RefusedBy, Settlement


@dataclass(slots=True)
class _TokenEntry:
    at: float
    tokens: int


@dataclass(slots=True)
class KeyState:
    requests: deque[float] = field(default_factory=deque)  # admission times, oldest first
    token_log: deque[tuple[str, _TokenEntry]] = field(default_factory=deque)
    token_entries: dict[str, _TokenEntry] = field(default_factory=dict)  # ticket -> its entry (to settle)
    tokens_in_window: int = 0
    in_flight: dict[str, float] = field(default_factory=dict)  # ticket -> lease expiry
    reservations: dict[str, tuple[int, float]] = field(default_factory=dict)  # ticket -> (nUSD, expiry)
    reserved: int = 0
    spent: dict[int, int] = field(default_factory=dict)  # period id -> nUSD
    # No lease ends before this: the slots and reservations are walked only once one may have ended
    # (rarely: a request settles long before its lease), not on every admission.
    next_expiry: float = float("inf")

    def prune(self, now: float, window_s: float) -> None:
        start = rules.window_start(now, window_s)
        while self.requests and self.requests[0] <= start:
            self.requests.popleft()
        while self.token_log and self.token_log[0][1].at <= start:
            ticket, entry = self.token_log.popleft()
            self.tokens_in_window -= entry.tokens
            self.token_entries.pop(ticket, None)
        if now < self.next_expiry:
            return
        for ticket in [t for t, expiry in self.in_flight.items() if expiry <= now]:
            del self.in_flight[ticket]
        for ticket in [t for t, (_, expiry) in self.reservations.items() if expiry <= now]:
            self.reserved -= self.reservations.pop(ticket)[0]
        self.next_expiry = min([*self.in_flight.values(), *(e for _, e in self.reservations.values()), float("inf")])


class LocalLimits:
    name = "local"

    def __init__(self) -> None:
        self.keys: dict[str, KeyState] = {}

    async def admit(self, demand: Demand, now: float) -> Decision:
        return self.admit_now(demand, now)

    def admit_now(self, demand: Demand, now: float) -> Decision:
        """The synchronous core (the property tests drive it directly)."""
        state = self.keys.get(demand.key_id)
        if state is None:
            state = self.keys[demand.key_id] = KeyState()
        state.prune(now, demand.window_s)
        limits = demand.limits
        spent = state.spent.setdefault(demand.period_id, demand.spent_seed_nusd)
        refused: RefusedBy | None = None
        retry: float | None = None
        if not rules.requests_admit(len(state.requests), limits.rpm):
            refused = "rpm"
            retry = rules.retry_after_s(state.requests[0] if state.requests else None, now, demand.window_s)
        elif not rules.tokens_admit(state.tokens_in_window, demand.tokens, limits.tpm):
            refused = "tpm"
            oldest = state.token_log[0][1].at if state.token_log else None
            retry = rules.retry_after_s(oldest, now, demand.window_s)
        elif not rules.parallel_admits(len(state.in_flight), limits.max_parallel):
            refused, retry = "max_parallel", 1.0
        elif not rules.budget_admits(spent, state.reserved, demand.cost_nusd, limits.budget_nusd):
            refused = "budget"
        if refused is None:
            state.requests.append(now)
            entry = _TokenEntry(now, demand.tokens)
            state.token_log.append((demand.ticket, entry))
            state.token_entries[demand.ticket] = entry
            state.tokens_in_window += demand.tokens
            state.in_flight[demand.ticket] = now + demand.lease_s
            state.reservations[demand.ticket] = (demand.cost_nusd, now + demand.lease_s)
            state.reserved += demand.cost_nusd
            state.next_expiry = min(state.next_expiry, now + demand.lease_s)
        return Decision(
            admitted=refused is None, refused_by=refused, retry_after_s=retry,
            requests_in_window=len(state.requests), tokens_in_window=state.tokens_in_window,
            requests_reset_s=rules.retry_after_s(state.requests[0] if state.requests else None, now, demand.window_s),
            tokens_reset_s=rules.retry_after_s(state.token_log[0][1].at if state.token_log else None, now, demand.window_s),
            spent_nusd=spent, reserved_nusd=state.reserved,
        )

    async def settle(self, done: Settlement, now: float) -> None:
        self.settle_now(done)

    def settle_now(self, done: Settlement) -> None:
        state = self.keys.get(done.key_id)
        if state is None:
            return
        state.in_flight.pop(done.ticket, None)
        reservation = state.reservations.pop(done.ticket, None)
        if reservation is not None:
            state.reserved -= reservation[0]
        entry = state.token_entries.get(done.ticket)
        if entry is not None:  # still in the window: the true count replaces the estimate
            state.tokens_in_window += done.tokens - entry.tokens
            entry.tokens = done.tokens
        state.spent[done.period_id] = state.spent.get(done.period_id, 0) + done.cost_nusd

    async def spent(self, key_id: str, period_id: int) -> int | None:
        state = self.keys.get(key_id)
        return None if state is None else state.spent.get(period_id)

    def sync_spent(self, key_id: str, period_id: int, durable_nusd: int) -> None:
        """The store's durable spend (every replica's) replaces what this process counted alone."""
        state = self.keys.get(key_id)
        if state is None or period_id < max(state.spent, default=period_id):
            # a record whose spend is of an earlier period (or of none yet: a new key before its first
            # spend reaches the store) says nothing of this one's: what this process counted stands
            return
        # never below what this process counted: its own settlements reach the store through the
        # spend writer's batches, so a poll of the store can lag behind them (a budget then let
        # one more request through)
        state.spent = {period_id: max(durable_nusd, state.spent.get(period_id, 0), 0)}

    def forget(self, key_id: str) -> None:
        self.keys.pop(key_id, None)
