"""Stubs for `proxy._scorer`, the Rust extension (crate `scorer_rs`).

`Scorer` holds the live model × provider table and ranks providers. It is fed by every attempt:
`begin` when it starts, `record` when it ends. Times are milliseconds on a monotonic clock; pass
`now_ms` to drive time yourself (tests), or leave it None for the scorer's own clock.
"""

from typing import Literal, TypedDict

Factor = Literal["latency", "price", "throughput"]
Outcome = Literal["ok", "error", "cancelled"]

class PairStats(TypedDict):
    model: str
    provider: str
    first_token_ms: float | None
    tokens_per_s: float | None
    error_rate: float
    consecutive_failures: int
    circuit: Literal["closed", "open", "half_open"]
    in_flight: int
    samples: int
    failures: int
    available: bool
    cooldown_remaining_ms: float
    input_price: float
    output_price: float

class Scorer:
    """Live provider statistics and ranking.

    Per (model, provider): EWMAs of time to first token and output tokens/s, an error-rate EWMA,
    consecutive failures, a circuit breaker (open after `failure_threshold` consecutive failures for a
    cooldown that doubles up to `max_cooldown_ms`, then one half-open probe) and the in-flight count.
    """

    def __init__(
        self,
        *,
        ewma_alpha: float = 0.3,
        failure_threshold: int = 3,
        cooldown_ms: float = 5000.0,
        max_cooldown_ms: float = 120000.0,
        error_alpha: float = 0.1,
    ) -> None: ...
    def register(self, model: str, provider: str, input_price: float, output_price: float) -> None:
        """Add the pair (prices in USD per 1M tokens), or update its prices."""
    def begin(self, model: str, provider: str, now_ms: float | None = None) -> None:
        """An attempt starts: in-flight + 1; in half-open state it takes the single probe slot."""
    def record(
        self,
        model: str,
        provider: str,
        outcome: Outcome | str,
        first_token_ms: float | None = None,
        tokens_per_s: float | None = None,
        retry_after_ms: float | None = None,
        now_ms: float | None = None,
    ) -> None:
        """An attempt ended. "ok" updates the EWMAs and closes the circuit; "error" counts toward
        opening it (a Retry-After opens it at least that long, never shorter); "cancelled" (the
        client went away) only releases the in-flight slot."""
    def rank_providers(self, model: str, factor: Factor | str = "latency", now_ms: float | None = None) -> list[str]:
        """Providers best first: available ones (unmeasured first, then by the factor; latency is
        inflated by the error rate), then ejected ones, soonest to reopen first."""
    def is_available(self, model: str, provider: str, now_ms: float | None = None) -> bool:
        """Closed circuit, or half-open with the probe slot free."""
    def stats(self, model: str, provider: str, now_ms: float | None = None) -> PairStats: ...
    def all_stats(self, now_ms: float | None = None) -> list[PairStats]: ...
    def providers(self, model: str) -> list[str]:
        """Registered providers of `model`, in registration order."""
    def circuit_counts(self, now_ms: float | None = None) -> dict[str, int]: ...
    def reset(self, model: str, provider: str) -> None:
        """Forget what was measured about one pair; prices stay."""
    def now_ms(self) -> float:
        """The scorer's own clock, in milliseconds."""
