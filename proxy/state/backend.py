"""What a limits back end does (in-process or Redis), and the values that cross that boundary."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from proxy.state.rules import KeyLimits

RefusedBy = Literal["rpm", "tpm", "max_parallel", "budget"]


class StateUnavailable(Exception):
    """The shared state (Redis) cannot be reached right now."""


@dataclass(frozen=True, slots=True)
class Demand:
    """One request asking to be admitted under its key's limits."""

    key_id: str
    ticket: str  # unique per request: names its window entries, parallel slot and reservation
    limits: KeyLimits
    tokens: int  # estimated tokens (prompt + output reserve), counted in the TPM window until settled
    cost_nusd: int  # estimated cost, reserved against the budget until settled
    period_id: int  # the budget period's start (Unix seconds)
    spent_seed_nusd: int  # the durable spend of this period, for a back end that has not counted it yet
    lease_s: float  # how long a slot and reservation live if their request never settles (a crashed replica)
    window_s: float = 60.0


@dataclass(frozen=True, slots=True)
class Decision:
    admitted: bool
    refused_by: RefusedBy | None
    retry_after_s: float | None
    requests_in_window: int  # after this request, when admitted
    tokens_in_window: int
    requests_reset_s: float  # until the oldest request leaves the window
    tokens_reset_s: float
    spent_nusd: int
    reserved_nusd: int


@dataclass(frozen=True, slots=True)
class Settlement:
    """A finished request's true usage: it replaces the estimate in the TPM window and the budget."""

    key_id: str
    ticket: str
    tokens: int
    cost_nusd: int
    period_id: int


class LimitsBackend(Protocol):
    name: str

    async def admit(self, demand: Demand, now: float) -> Decision:
        """Check every limit and, when all pass, count the request in all of them at once."""
        ...

    async def settle(self, done: Settlement, now: float) -> None:
        """Free the parallel slot and the reservation; count the true tokens and cost."""
        ...

    async def spent(self, key_id: str, period_id: int) -> int | None:
        """This period's live spend as the back end counts it (None when it has not counted any)."""
        ...
