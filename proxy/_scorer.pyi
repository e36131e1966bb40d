"""Stubs for `proxy._scorer`, the Rust extension (crate `scorer_rs`).

`Scorer` holds the live model × provider table and ranks providers. It is fed by every attempt:
`begin` when it starts, `record` when it ends. Times are milliseconds on a monotonic clock; pass
`now_ms` to drive time yourself (tests), or leave it None for the scorer's own clock.

`Router` is the learned model router behind `model: "auto"`. `scorer_defaults()` gives the `Scorer`
constructor's defaults, which are written once, in Rust.

The TypedDicts and `_`-prefixed aliases below exist only for type checkers.
"""

from typing import Literal, TypedDict, final, type_check_only

__all__ = ["Router", "Scorer", "scorer_defaults"]

_Factor = Literal["latency", "price", "throughput"]
_Outcome = Literal["ok", "error", "cancelled"]

@type_check_only
class ScorerDefaults(TypedDict):
    ewma_alpha: float
    failure_threshold: int
    cooldown_ms: float
    max_cooldown_ms: float
    error_alpha: float

def scorer_defaults() -> ScorerDefaults:
    """The defaults `Scorer()` uses for each parameter left out (what the gateway's config defaults read)."""

@type_check_only
class PairStats(TypedDict):
    model: str
    provider: str
    first_token_ms: float | None
    ttft_p95_ms: float | None
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

@final
class Scorer:
    """Live provider statistics and ranking.

    Per (model, provider): EWMAs of time to first token and output tokens/s, an error-rate EWMA,
    consecutive failures, a circuit breaker (open after `failure_threshold` consecutive failures for a
    cooldown that doubles up to `max_cooldown_ms`, then one half-open probe) and the in-flight count.
    """

    def __new__(
        cls,
        *,
        ewma_alpha: float = ...,
        failure_threshold: int = ...,
        cooldown_ms: float = ...,
        max_cooldown_ms: float = ...,
        error_alpha: float = ...,
    ) -> Scorer:
        """Parameters left out take their defaults from `scorer_defaults()`.
        Raises ValueError unless both alphas are in (0, 1], failure_threshold >= 1 and
        0 < cooldown_ms <= max_cooldown_ms."""
    def register(self, model: str, provider: str, input_price: float, output_price: float) -> None:
        """Add the pair (prices in USD per 1M tokens), or update its prices."""
    def begin(self, model: str, provider: str, now_ms: float | None = None) -> None:
        """An attempt starts: in-flight + 1; in half-open state it takes the single probe slot."""
    def record(
        self,
        model: str,
        provider: str,
        outcome: _Outcome | str,
        first_token_ms: float | None = None,
        tokens_per_s: float | None = None,
        retry_after_ms: float | None = None,
        now_ms: float | None = None,
        waited_ms: float | None = None,
    ) -> None:
        """An attempt ended; in-flight - 1 (never below 0).

        "ok": updates the EWMAs (tokens/s only when given), pulls the error rate toward 0, closes the
        circuit and resets its cooldown. "error": pulls the error rate toward 1; the circuit opens at
        `failure_threshold` consecutive failures, or when the half-open probe fails, and each opening
        doubles the next cooldown up to `max_cooldown_ms`. `retry_after_ms` (a 429's Retry-After)
        opens it at once for at least that long, never shorter. "cancelled" (the client went away):
        no verdict, so no stats change; if this was the half-open probe its slot is freed.
        `waited_ms` (with "cancelled", for an attempt that had no first token yet, such as a hedge's
        loser) enters the TTFT quantile as censored: its first token would have come later.
        Raises ValueError for an unknown model, provider or outcome."""
    def rank_providers(self, model: str, factor: _Factor | str = "latency", now_ms: float | None = None) -> list[str]:
        """Providers of `model`, best first.

        Available ones (closed circuit, or half-open with the probe slot free) come first; ejected
        ones last, soonest to reopen first. For "latency" and "throughput", a provider with no
        successful attempt yet comes first, so it gets measured; then by EWMA first-token ms
        (inflated by up to 3x at a 100% error rate) or EWMA tokens/s, highest first; ties by fewer
        in flight, then blended price, then name. For "price": blended price (3:1 input:output),
        then latency, then name. Raises ValueError for an unknown model or factor."""
    def ttft_quantile(self, model: str, provider: str, q: float = 0.95, min_samples: int = 20) -> float | None:
        """The live `q` quantile of time to first token, in ms, or None until `min_samples` attempts fed it.

        A decaying histogram over log-spaced buckets (about 9% wide; effective window of the last 500
        samples): "ok" attempts add their first-token time, a cancelled attempt with `waited_ms` adds a
        censored sample spread over the times above it. Raises ValueError for an unknown pair or q
        outside [0, 1]."""
    def ttft_hedge_delay(
        self, model: str, provider: str, q: float = 0.95, gap_share: float = 0.01, min_samples: int = 20
    ) -> float | None:
        """When to hedge an attempt that has no first token yet, in ms: the live `q` quantile, lowered
        across any nearly empty stretch just below it (one holding at most `gap_share` of the weight),
        since waiting where almost no first token arrives gains nothing. With 95% of answers at 300 ms
        and 5% at 3 s the p95 may sit at 3 s; this gives about 330 ms. On a continuous distribution it
        is the quantile. None until `min_samples` attempts fed it; ValueError for an unknown pair or
        q or gap_share outside [0, 1]."""
    def is_available(self, model: str, provider: str, now_ms: float | None = None) -> bool:
        """Closed circuit, or half-open with the probe slot free."""
    def stats(self, model: str, provider: str, now_ms: float | None = None) -> PairStats:
        """A snapshot of one pair; `samples` counts "ok" outcomes, `failures` all errors."""
    def all_stats(self, now_ms: float | None = None) -> list[PairStats]:
        """A snapshot of every pair, models by name, providers in registration order."""
    def providers(self, model: str) -> list[str]:
        """Registered providers of `model`, in registration order."""
    def circuit_counts(self, now_ms: float | None = None) -> dict[str, int]:
        """How many pairs are in each circuit state: {"closed": n, "open": n, "half_open": n}."""
    def reset(self, model: str, provider: str) -> None:
        """Forget what was measured about one pair; prices stay."""
    def now_ms(self) -> float:
        """The scorer's own clock, in milliseconds."""

# ---- Model routing (scorer_rs/src/py/router.rs) ------------------------------------------------------

# Canonical names only: the request parser resolves aliases (performance, cost) before calling Rust.
_Preference = Literal["balanced", "quality", "price", "speed"]
# (model, provider, input_price, output_price, ttft_ms, tokens_per_s, healthy); prices in USD per 1M tokens
_OfferRow = tuple[str, str, float, float, float, float, bool]
# (model, provider, predicted_quality, estimated_cost_usd, estimated_latency_ms, score, healthy)
_CandidateRow = tuple[str, str, float, float, float, float, bool]

@type_check_only
class PromptFeatures(TypedDict):
    est_tokens: int
    bytes: int
    words: int
    lines: int
    language: str
    task: str
    signals: dict[str, float]

@type_check_only
class TextPass(PromptFeatures):
    dense: list[float]
    dense_names: list[str]
    ids: list[int]

@type_check_only
class PromptScore(TypedDict):
    z: list[float]
    difficulty: float
    embedding: list[float]
    embedding_tokens: int
    form: list[float]
    form_names: list[str]

@type_check_only
class RouteDecision(TypedDict, total=False):
    preference: str
    tradeoff: float
    latency_weight: float
    difficulty: float
    input_tokens: int
    output_tokens: int
    candidates: list[_CandidateRow]
    rejected: list[tuple[str, str]]
    # (model, provider, predicted_quality, estimated_cost_usd, reason) of offers the limits dropped
    limited: list[tuple[str, str, float, float, str]]
    # (model, change in predicted quality on this prompt, observations behind it) of each model whose
    # ability a learned correction of the request's scopes shifted
    learned: list[tuple[str, float, int]]
    features: PromptFeatures
    z: list[float]  # with explain: the prompt's latent vector, then -difficulty (what feedback learns from)

@final
class Router:
    """The learned model router: one pass over the prompt (text features, static MiniLM embedding, form
    features), a latent vector z, and for every model P(good) = sigmoid(a_m . z - d + b_m); then hard
    filters (context window, max output, tools, vision, JSON), the request's limits, and the continuous
    quality-cost trade-off. Weights: `proxy/routing/router_v2.json` (bench/router_v2 trains them).
    """

    def __new__(cls, weights: dict[str, object], table: bytes) -> Router:
        """`weights`: the parsed `router_v2.json`; `table`: the bytes of `static_embed.bin`. A malformed
        file is a ValueError naming the part."""
    def add_model(
        self,
        slug: str,
        a: list[float],
        b: float,
        context_window: int,
        max_output: int,
        tools: bool = False,
        vision: bool = False,
        json: bool = False,
        specialty: str | None = None,
    ) -> None:
        """Register (or replace) a model with its ability (`a`: one weight per latent dimension, `b`: bias;
        proxy/routing/abilities.py resolves them). `specialty` (one of the task signals, e.g. "code") marks a
        specialist: its predicted quality is discounted on prompts outside that task. An unknown specialty
        or an ability of the wrong dimension is a ValueError."""
    def set_correction(self, scope: str, model: str, da: list[float], db: float, evidence: int) -> None:
        """Set one scope's learned shift of a registered model's ability (`da`: one number per latent
        dimension, `db`: the bias; `evidence`: observations behind it, reported with the decision). A route
        naming the scope in `scopes` adds it to the model's ability. ValueError for an unknown model, a
        `da` of the wrong dimension or a number that is not finite."""
    def clear_corrections(self, scope: str | None = None) -> None:
        """Forget one scope's corrections, or every scope's."""
    def models(self) -> list[str]: ...
    def ability_of(self, slug: str) -> tuple[list[float], float]:
        """The model's ability vector and bias."""
    def features(self, text: str) -> TextPass:
        """The text pass alone (GIL released): features, the dense inputs and hashed ids."""
    def score(self, text: str) -> PromptScore:
        """The predictor's view of one prompt (GIL released)."""
    def predict(self, text: str) -> list[tuple[str, float]]:
        """P(good answer) for every registered model, in registration order."""
    def route(
        self,
        text: str,
        offers: list[_OfferRow],
        preference: _Preference | str = "balanced",
        tradeoff: float | None = None,
        max_cost_usd: float | None = None,
        min_quality: float | None = None,
        tools: bool = False,
        vision: bool = False,
        json: bool = False,
        max_tokens: int | None = None,
        extra_input_tokens: int = 0,
        explain: bool = False,
        scopes: list[str] | None = None,
    ) -> RouteDecision:
        """Rank `offers` for `text`: candidates grouped by model, best first; a model with no healthy
        offer goes last; filtered models are listed in `rejected` with the reason. `tradeoff` (0 cheapest ..
        1 best predicted quality) replaces the preference's fixed point. ValueError on an unknown model, a
        preference that is not one of the four canonical names, or a tradeoff outside [0, 1]. `scopes`: whose
        learned corrections apply (summed), e.g. ["deployment", "key:team-a"]."""
