"""A readable pure-Python version of the Rust scorer's stats and provider ranking.

The test oracle for `proxy._scorer.Scorer` and the baseline of `bench/scorer_bench.py`, as
tiktoken's `_educational.py` is for its BPE. Not a production path: the gateway uses the Rust one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from proxy._scorer import scorer_defaults

_DEFAULTS = scorer_defaults()  # the Rust scorer's, so both start from the same parameters
ERROR_LATENCY_PENALTY = 2.0


@dataclass
class Ewma:
    alpha: float
    value: float = 0.0
    samples: int = 0

    def update(self, sample: float) -> None:
        if not math.isfinite(sample):
            return
        self.value = sample if self.samples == 0 else self.alpha * sample + (1 - self.alpha) * self.value
        self.samples += 1

    def get(self) -> float | None:
        return self.value if self.samples else None


QUANTILE_BUCKETS, BUCKETS_PER_DOUBLING, QUANTILE_DECAY = 160, 8.0, 1.0 / 500.0


def lower_edge(i: int) -> float:
    return 2.0 ** (i / BUCKETS_PER_DOUBLING)


def bucket_of(ms: float) -> int:
    return 0 if ms <= 1.0 else min(int(math.floor(math.log2(ms) * BUCKETS_PER_DOUBLING)), QUANTILE_BUCKETS - 1)


@dataclass
class LiveQuantile:
    """A decaying histogram over log-spaced buckets; censored samples redistribute to the right."""

    decay: float = QUANTILE_DECAY
    weights: list[float] = field(default_factory=lambda: [0.0] * QUANTILE_BUCKETS)
    total: float = 0.0
    samples: int = 0

    def _age(self) -> None:
        keep = 1.0 - self.decay
        self.weights = [w * keep for w in self.weights]
        self.total *= keep
        self.samples += 1

    def observe(self, ms: float) -> None:
        if not math.isfinite(ms) or ms < 0:
            return
        self._age()
        self.weights[bucket_of(ms)] += self.decay
        self.total += self.decay

    def observe_censored(self, ms: float) -> None:
        if not math.isfinite(ms) or ms < 0:
            return
        self._age()
        at = bucket_of(ms)
        upper = lower_edge(at + 1)
        share = min(max((upper - ms) / (upper - lower_edge(at)), 0.0), 1.0)
        above = self.weights[at] * share + sum(self.weights[at + 1:])
        if above <= 0:
            self.weights[at] += self.decay
        else:
            scale = self.decay / above
            self.weights[at] += self.weights[at] * share * scale
            for i in range(at + 1, QUANTILE_BUCKETS):
                self.weights[i] += self.weights[i] * scale
        self.total += self.decay

    def quantile(self, q: float) -> float | None:
        if self.total <= 0 or not 0 <= q <= 1:
            return None
        target, below = q * self.total, 0.0
        for i, w in enumerate(self.weights):
            if w > 0 and below + w >= target:
                lo, hi = lower_edge(i), lower_edge(i + 1)
                return float(lo * (hi / lo) ** min(max((target - below) / w, 0.0), 1.0))
            below += w
        last = max((i for i, w in enumerate(self.weights) if w > 0), default=None)
        return None if last is None else lower_edge(last + 1)

    def hedge_delay(self, q: float, gap_share: float) -> float | None:
        quantile = self.quantile(q)
        if quantile is None:
            return None
        at = i = bucket_of(quantile)
        gap, allowance = 0.0, gap_share * self.total
        while i > 0 and gap + self.weights[i - 1] <= allowance:
            gap += self.weights[i - 1]
            i -= 1
        return quantile if i in (at, 0) else min(lower_edge(i), quantile)


@dataclass
class Circuit:
    threshold: int
    base_ms: float
    max_ms: float
    tripped: bool = False
    open_until: float = 0.0
    next_cooldown: float = 0.0
    probe: bool = False

    def __post_init__(self) -> None:
        self.next_cooldown = self.base_ms

    def state(self, now: float) -> str:
        if not self.tripped:
            return "closed"
        return "open" if now < self.open_until else "half_open"

    def available(self, now: float) -> bool:
        state = self.state(now)
        return state == "closed" or (state == "half_open" and not self.probe)

    def begin(self, now: float) -> None:
        if self.state(now) == "half_open" and not self.probe:
            self.probe = True

    def success(self) -> None:
        self.tripped, self.probe, self.open_until, self.next_cooldown = False, False, 0.0, self.base_ms

    def failure(self, now: float, consecutive: int, retry_after: float | None) -> None:
        probe_failed = self.tripped and self.state(now) == "half_open"
        if probe_failed or (not self.tripped and consecutive >= self.threshold):
            until = now + self.next_cooldown
            self.open_until = max(self.open_until, until) if self.tripped else until
            self.tripped, self.probe = True, False
            self.next_cooldown = min(self.next_cooldown * 2, self.max_ms)
        if retry_after is not None and math.isfinite(retry_after) and retry_after > 0:
            until = now + retry_after
            self.open_until = max(self.open_until, until) if self.tripped else until
            self.tripped, self.probe = True, False


@dataclass
class Pair:
    provider: str
    input_price: float
    output_price: float
    ttft: Ewma
    tps: Ewma
    circuit: Circuit
    error_rate: float = 0.0
    consecutive: int = 0
    samples: int = 0
    failures: int = 0
    in_flight: int = 0
    ttft_quantile: LiveQuantile = field(default_factory=LiveQuantile)

    @property
    def blended_price(self) -> float:
        return (3 * self.input_price + self.output_price) / 4

    @property
    def measured(self) -> bool:
        """Has an attempt succeeded? Failures alone keep a provider in its exploration slot."""
        return self.samples > 0

    def effective_latency(self) -> float | None:
        if not self.measured:
            return None
        base = self.ttft.get()
        return (base if base is not None else 1.7976931348623157e308 / 4) * (1 + ERROR_LATENCY_PENALTY * self.error_rate)


@dataclass
class ReferenceScorer:
    ewma_alpha: float = _DEFAULTS["ewma_alpha"]
    failure_threshold: int = _DEFAULTS["failure_threshold"]
    cooldown_ms: float = _DEFAULTS["cooldown_ms"]
    max_cooldown_ms: float = _DEFAULTS["max_cooldown_ms"]
    error_alpha: float = _DEFAULTS["error_alpha"]
    models: dict[str, list[Pair]] = field(default_factory=dict)

    def register(self, model: str, provider: str, input_price: float, output_price: float) -> None:
        pairs = self.models.setdefault(model, [])
        for pair in pairs:
            if pair.provider == provider:
                pair.input_price, pair.output_price = input_price, output_price
                return
        pairs.append(Pair(provider, input_price, output_price, Ewma(self.ewma_alpha), Ewma(self.ewma_alpha),
                          Circuit(self.failure_threshold, self.cooldown_ms, self.max_cooldown_ms)))

    def _pair(self, model: str, provider: str) -> Pair:
        if model not in self.models:
            raise ValueError(f"unknown model {model!r}")
        for pair in self.models[model]:
            if pair.provider == provider:
                return pair
        raise ValueError(f"provider {provider!r} is not registered for model {model!r}")

    def begin(self, model: str, provider: str, now_ms: float = 0.0) -> None:
        pair = self._pair(model, provider)
        pair.in_flight += 1
        pair.circuit.begin(now_ms)

    def record(self, model: str, provider: str, outcome: str, first_token_ms: float | None = None,
               tokens_per_s: float | None = None, retry_after_ms: float | None = None, now_ms: float = 0.0,
               waited_ms: float | None = None) -> None:
        if outcome not in ("ok", "error", "cancelled"):
            raise ValueError(f"unknown outcome {outcome!r}")
        pair = self._pair(model, provider)
        pair.in_flight = max(0, pair.in_flight - 1)
        if outcome == "ok":
            if first_token_ms is not None and first_token_ms >= 0:
                pair.ttft.update(first_token_ms)
                pair.ttft_quantile.observe(first_token_ms)
            if tokens_per_s is not None and tokens_per_s > 0:
                pair.tps.update(tokens_per_s)
            pair.error_rate *= 1 - self.error_alpha
            pair.consecutive = 0
            pair.samples += 1
            pair.circuit.success()
        elif outcome == "error":
            pair.error_rate = pair.error_rate * (1 - self.error_alpha) + self.error_alpha
            pair.consecutive += 1
            pair.failures += 1
            pair.circuit.failure(now_ms, pair.consecutive, retry_after_ms)
        else:
            if waited_ms is not None:
                pair.ttft_quantile.observe_censored(waited_ms)
            pair.circuit.probe = False

    def reset(self, model: str, provider: str) -> None:
        pair = self._pair(model, provider)
        pairs = self.models[model]
        pairs[pairs.index(pair)] = Pair(provider, pair.input_price, pair.output_price, Ewma(self.ewma_alpha),
                                        Ewma(self.ewma_alpha),
                                        Circuit(self.failure_threshold, self.cooldown_ms, self.max_cooldown_ms))

    def ttft_quantile(self, model: str, provider: str, q: float = 0.95, min_samples: int = 20) -> float | None:
        quantile = self._pair(model, provider).ttft_quantile
        return None if quantile.samples < min_samples else quantile.quantile(q)

    def ttft_hedge_delay(self, model: str, provider: str, q: float = 0.95, gap_share: float = 0.01,
                         min_samples: int = 20) -> float | None:
        quantile = self._pair(model, provider).ttft_quantile
        return None if quantile.samples < min_samples else quantile.hedge_delay(q, gap_share)

    def is_available(self, model: str, provider: str, now_ms: float = 0.0) -> bool:
        return self._pair(model, provider).circuit.available(now_ms)

    def circuit_counts(self, now_ms: float = 0.0) -> dict[str, int]:
        counts = {"closed": 0, "open": 0, "half_open": 0}
        for pairs in self.models.values():
            for pair in pairs:
                counts[pair.circuit.state(now_ms)] += 1
        return counts

    def rank_providers(self, model: str, factor: str = "latency", now_ms: float = 0.0) -> list[str]:
        if factor not in ("latency", "price", "throughput"):
            raise ValueError(f"unknown factor {factor!r}")
        if model not in self.models:
            raise ValueError(f"unknown model {model!r}")
        return [p.provider for p in sorted(self.models[model], key=lambda p: self._key(p, factor, now_ms))]

    @staticmethod
    def _measured_first(value: float | None, lower_is_better: bool) -> tuple[int, float]:
        if value is None:
            return (0, 0.0)
        return (1, value if lower_is_better else -value)

    def _key(self, p: Pair, factor: str, now: float) -> tuple[Any, ...]:
        """Sort key: available first; unmeasured first (latency, throughput); then the factor; ties."""
        tie = (p.in_flight, p.blended_price, p.provider)
        if not p.circuit.available(now):
            return (1, p.circuit.open_until if p.circuit.tripped else 0.0, *tie)
        if factor == "latency":
            return (0, *self._measured_first(p.effective_latency(), True), *tie)
        if factor == "throughput":
            return (0, *self._measured_first((p.tps.get() or 0.0) if p.measured else None, False), *tie)
        return (0, p.blended_price, p.effective_latency() or 0.0, p.provider)

    def stats(self, model: str, provider: str, now_ms: float = 0.0) -> dict[str, Any]:
        p = self._pair(model, provider)
        return {
            "model": model, "provider": provider, "first_token_ms": p.ttft.get(),
            "ttft_p95_ms": p.ttft_quantile.quantile(0.95), "tokens_per_s": p.tps.get(),
            "error_rate": p.error_rate, "consecutive_failures": p.consecutive, "circuit": p.circuit.state(now_ms),
            "in_flight": p.in_flight, "samples": p.samples, "failures": p.failures,
            "available": p.circuit.available(now_ms),
            "cooldown_remaining_ms": max(0.0, p.circuit.open_until - now_ms) if p.circuit.tripped else 0.0,
            "input_price": p.input_price, "output_price": p.output_price,
        }
