"""The limiter's rules as pure functions: windows, budgets, periods and shares. No I/O, no clock.

Every back end (in-process, Redis's Lua) applies exactly these rules, and the property tests check
each against `proxy.state.reference`. Money is kept in integer nano-dollars (1e-9 USD) so that sums
are exact in Python, in Redis's Lua (doubles: exact to 2**53 nUSD, about $9M) and in SQL BIGINT.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

Period = Literal["day", "week", "month"]
NANO_PER_USD = 1_000_000_000
DEFAULT_WINDOW_S = 60.0
# Output tokens to reserve for a key with no history and no max_tokens: a typical answer's length.
# (Worst case, the model's max_output, refuses small budgets that would have fit: LiteLLM #36926.)
DEFAULT_OUTPUT_GUESS = 1024
# Samples of a key's output lengths before its p95 replaces the guess.
MIN_P95_SAMPLES = 20


def usd_to_nano(usd: float) -> int:
    return int(round(usd * NANO_PER_USD))


def nano_to_usd(nano: int) -> float:
    return round(nano / NANO_PER_USD, 9)


@dataclass(frozen=True, slots=True)
class KeyLimits:
    """What one virtual key may use; None means unlimited. `budget_nusd` is per period (or for life)."""

    rpm: int | None = None
    tpm: int | None = None
    max_parallel: int | None = None
    budget_nusd: int | None = None
    budget_period: Period | None = None

    @property
    def any(self) -> bool:
        return any(v is not None for v in (self.rpm, self.tpm, self.max_parallel, self.budget_nusd))

    def shared(self, replicas: int) -> KeyLimits:
        """This replica's share when replicas cannot coordinate: limit ÷ replicas, rounded down."""
        if replicas <= 1:
            return self
        return KeyLimits(share(self.rpm, replicas), share(self.tpm, replicas), share(self.max_parallel, replicas),
                         share(self.budget_nusd, replicas), self.budget_period)


def share(limit: int | None, replicas: int) -> int | None:
    """Rounded down, never up: N replicas together never exceed the limit (a share may be 0)."""
    return None if limit is None else limit // max(replicas, 1)


# -- sliding windows ---------------------------------------------------------------------------------


def window_start(now: float, window_s: float) -> float:
    """Entries at or before this instant have left the window (now - window_s, now]."""
    return now - window_s


def requests_admit(times_in_window: int, rpm: int | None) -> bool:
    """RPM: a window of `window_s` seconds holds at most `rpm` admitted requests."""
    return rpm is None or times_in_window < rpm


def tokens_admit(tokens_in_window: int, estimate: int, tpm: int | None) -> bool:
    """TPM: the window's tokens (settled, or reserved while in flight) plus this request's estimate fit.
    A request bigger than the whole limit still passes alone, into an empty window: it would never
    pass otherwise."""
    if tpm is None:
        return True
    return tokens_in_window + estimate <= tpm or tokens_in_window == 0 and tpm > 0


def parallel_admits(in_flight: int, max_parallel: int | None) -> bool:
    return max_parallel is None or in_flight < max_parallel


def retry_after_s(oldest_in_window: float | None, now: float, window_s: float) -> float:
    """Seconds until the window's oldest entry leaves it (at least a millisecond)."""
    if oldest_in_window is None:
        return 1.0
    return max(oldest_in_window + window_s - now, 0.001)


# -- budgets -----------------------------------------------------------------------------------------


def budget_admits(spent: int, reserved: int, estimate: int, budget: int | None) -> bool:
    """Admit when the estimate fits beside what is spent and reserved; when nothing else is in flight,
    admit whenever any budget is left, so a high estimate never refuses a request that may fit (the
    overshoot is then at most this one request's excess)."""
    if budget is None:
        return True
    if spent + reserved + estimate <= budget:
        return True
    return reserved == 0 and spent < budget


def output_tokens_to_reserve(max_tokens: int | None, p95_output: int | None) -> int:
    """Output tokens to reserve: min(max_tokens, the key's recent p95), whichever are known."""
    known = [v for v in (max_tokens, p95_output) if v is not None]
    return min(known) if known else DEFAULT_OUTPUT_GUESS


def p95(samples: Iterable[int]) -> int | None:
    """Nearest-rank 95th percentile, or None below MIN_P95_SAMPLES samples."""
    ordered = sorted(samples)
    if len(ordered) < MIN_P95_SAMPLES:
        return None
    return ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]


def period_start(period: Period | None, now: datetime) -> datetime:
    """The UTC boundary the current budget period began at (the epoch for a lifetime budget).
    Weeks begin on Monday (ISO 8601)."""
    now = now.astimezone(UTC)
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "day":
        return day
    if period == "week":
        return day - timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    return datetime(1970, 1, 1, tzinfo=UTC)


def period_end(period: Period | None, now: datetime) -> datetime | None:
    """When the current period's budget resets, or None for a lifetime budget."""
    start = period_start(period, now)
    if period == "day":
        return start + timedelta(days=1)
    if period == "week":
        return start + timedelta(days=7)
    if period == "month":
        return (start.replace(year=start.year + 1, month=1) if start.month == 12
                else start.replace(month=start.month + 1))
    return None


def period_id(period: Period | None, now: datetime) -> int:
    """The period's start in Unix seconds: the key under which its spend is counted."""
    return int(period_start(period, now).timestamp())
