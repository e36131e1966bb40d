"""The Rust scorer against its pure-Python reference, and its contract."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proxy._scorer import Scorer
from proxy.scorer_reference import ReferenceScorer

PROVIDERS = ["a", "b", "c", "d"]
PRICES = {"a": (1.0, 2.0), "b": (0.5, 4.0), "c": (3.0, 3.0), "d": (0.5, 4.0)}
MODELS = ["m", "n"]
FACTORS = ("latency", "price", "throughput")
STATS_KEYS = {
    "model", "provider", "first_token_ms", "ttft_p95_ms", "tokens_per_s", "error_rate", "consecutive_failures", "circuit",
    "in_flight", "samples", "failures", "available", "cooldown_remaining_ms", "input_price", "output_price",
}


def pair(**config: Any) -> tuple[Scorer, ReferenceScorer]:
    config = {"ewma_alpha": 0.3, "failure_threshold": 3, "cooldown_ms": 1000.0, "max_cooldown_ms": 8000.0} | config
    rust, ref = Scorer(**config), ReferenceScorer(**config)
    for model in MODELS:
        for p in PROVIDERS:
            rust.register(model, p, *PRICES[p])
            ref.register(model, p, *PRICES[p])
    return rust, ref


def ok(s: Scorer, provider: str, ttft: float, tps: float | None = None, now: float = 0.0, model: str = "m") -> None:
    s.begin(model, provider, now_ms=now)
    s.record(model, provider, "ok", first_token_ms=ttft, tokens_per_s=tps, now_ms=now)


def fail(s: Scorer, provider: str, times: int = 1, now: float = 0.0, retry_after_ms: float | None = None) -> None:
    for _ in range(times):
        s.begin("m", provider, now_ms=now)
        s.record("m", provider, "error", retry_after_ms=retry_after_ms, now_ms=now)


provider = st.sampled_from(PROVIDERS)
model = st.sampled_from(MODELS)
step = st.one_of(
    st.tuples(st.just("begin"), model, provider),
    st.tuples(st.just("ok"), model, provider, st.floats(1, 2000), st.one_of(st.none(), st.floats(1, 500))),
    st.tuples(st.just("error"), model, provider, st.one_of(st.none(), st.floats(1, 20000))),
    st.tuples(st.just("cancelled"), model, provider, st.one_of(st.none(), st.floats(0, 5000))),
    st.tuples(st.just("tick"), st.floats(0, 3000)),
    st.tuples(st.just("price"), model, provider, st.sampled_from([0.1, 0.5, 1.0, 3.0])),
    st.tuples(st.just("reset"), model, provider),
)
configs = st.fixed_dictionaries({
    "ewma_alpha": st.sampled_from([0.1, 0.3, 1.0]),
    "error_alpha": st.sampled_from([0.05, 0.1, 0.5]),
    "failure_threshold": st.integers(1, 4),
    "cooldown_ms": st.sampled_from([100.0, 1000.0]),
    "max_cooldown_ms": st.sampled_from([1000.0, 8000.0]),
})


def apply(s: Scorer | ReferenceScorer, step_: tuple, now: float) -> None:
    kind, m, p = step_[0], step_[1], step_[2]
    if kind == "begin":
        s.begin(m, p, now_ms=now)
    elif kind == "ok":
        s.record(m, p, "ok", first_token_ms=step_[3], tokens_per_s=step_[4], now_ms=now)
    elif kind == "error":
        s.record(m, p, "error", retry_after_ms=step_[3], now_ms=now)
    elif kind == "cancelled":
        s.record(m, p, "cancelled", now_ms=now, waited_ms=step_[3])
    elif kind == "price":
        s.register(m, p, step_[3], PRICES[p][1])
    else:
        s.reset(m, p)


@settings(max_examples=400, deadline=None)
@given(configs, st.lists(step, max_size=80))
def test_rust_matches_reference(config: dict[str, Any], steps: list[tuple]) -> None:
    rust, ref = pair(**config)
    now = 0.0
    for s in steps:
        if s[0] == "tick":
            now += s[1]
            continue
        apply(rust, s, now)
        apply(ref, s, now)
        for m in MODELS:
            for factor in FACTORS:
                assert rust.rank_providers(m, factor, now_ms=now) == ref.rank_providers(m, factor, now_ms=now), (m, factor)
    assert rust.circuit_counts(now_ms=now) == ref.circuit_counts(now_ms=now)
    for m in MODELS:
        for p in PROVIDERS:
            assert rust.is_available(m, p, now_ms=now) == ref.is_available(m, p, now_ms=now)
            assert rust.stats(m, p, now_ms=now) == pytest.approx(ref.stats(m, p, now_ms=now)), (m, p)
            for q in (0.5, 0.95, 0.99):
                assert rust.ttft_quantile(m, p, q, min_samples=1) == pytest.approx(ref.ttft_quantile(m, p, q, 1)), (m, p, q)
            assert rust.ttft_hedge_delay(m, p, min_samples=1) == pytest.approx(ref.ttft_hedge_delay(m, p, min_samples=1))


def test_latency_ranking_and_exploration() -> None:
    s, _ = pair()
    for p, ms in (("a", 300.0), ("b", 20.0), ("c", 90.0)):
        ok(s, p, ms)
    assert s.rank_providers("m", now_ms=0) == ["d", "b", "c", "a"]  # d has no data yet: measured first


def test_throughput_highest_first_unmeasured_first() -> None:
    s, _ = pair()
    for p, tps in (("a", 50.0), ("b", 200.0), ("c", 90.0)):
        ok(s, p, 100.0, tps)
    assert s.rank_providers("m", "throughput", now_ms=0) == ["d", "b", "c", "a"]


def test_price_orders_by_blended_price_then_latency_then_name() -> None:
    s, _ = pair()
    # Blended 3:1 — a: 1.25, b: 1.375, c: 3.0, d: 1.375 (ties with b, both unmeasured: by name).
    assert s.rank_providers("m", "price", now_ms=0) == ["a", "b", "d", "c"]
    ok(s, "b", 500.0)
    ok(s, "d", 50.0)
    assert s.rank_providers("m", "price", now_ms=0) == ["a", "d", "b", "c"]


def test_ties_broken_by_in_flight_then_price_then_name() -> None:
    s, _ = pair()
    assert s.rank_providers("m", now_ms=0) == ["a", "b", "d", "c"]  # all unmeasured, idle: by price, name
    s.begin("m", "a", now_ms=0)
    assert s.rank_providers("m", now_ms=0) == ["b", "d", "c", "a"]


def test_a_provider_that_only_failed_is_not_starved() -> None:
    s, _ = pair()
    for p in ("b", "c", "d"):
        ok(s, p, 100.0, 50.0)
    fail(s, "a")  # below the threshold: still unmeasured, so it is tried again rather than buried
    assert s.rank_providers("m", now_ms=0)[0] == "a"
    assert s.stats("m", "a", now_ms=0)["failures"] == 1


def test_errors_inflate_latency() -> None:
    s, _ = pair()
    for p, ms in (("a", 100.0), ("b", 95.0), ("c", 500.0), ("d", 600.0)):
        ok(s, p, ms)
    fail(s, "b")
    assert s.rank_providers("m", now_ms=0)[:2] == ["a", "b"]


def test_circuit_cycle_with_explicit_clock() -> None:
    s, _ = pair()
    fail(s, "a", times=3)
    assert s.stats("m", "a", now_ms=10)["circuit"] == "open"
    assert s.stats("m", "a", now_ms=10)["cooldown_remaining_ms"] == pytest.approx(990.0)
    assert not s.is_available("m", "a", now_ms=10)
    assert s.rank_providers("m", now_ms=10)[-1] == "a"
    assert s.stats("m", "a", now_ms=1000)["circuit"] == "half_open"
    assert s.rank_providers("m", now_ms=1000)[0] == "a"  # the half-open candidate, unmeasured
    s.begin("m", "a", now_ms=1000)
    assert not s.is_available("m", "a", now_ms=1001)  # one probe at a time
    assert s.rank_providers("m", now_ms=1001)[-1] == "a"
    s.record("m", "a", "error", now_ms=1001)
    assert s.stats("m", "a", now_ms=2500)["circuit"] == "open"  # longer cooldown: 2000 ms
    assert s.stats("m", "a", now_ms=3001)["circuit"] == "half_open"
    s.begin("m", "a", now_ms=3001)
    s.record("m", "a", "ok", first_token_ms=5, now_ms=3002)
    st_ = s.stats("m", "a", now_ms=3003)
    assert st_["circuit"] == "closed" and st_["consecutive_failures"] == 0 and st_["in_flight"] == 0
    fail(s, "a", times=3, now=4000)  # the cooldown was reset to base by the success
    assert s.stats("m", "a", now_ms=4999)["circuit"] == "open"
    assert s.stats("m", "a", now_ms=5000)["circuit"] == "half_open"


def test_cooldown_doubles_up_to_the_cap() -> None:
    s, _ = pair(cooldown_ms=1000.0, max_cooldown_ms=3000.0)
    fail(s, "a", times=3)
    now, expected = 0.0, [1000.0, 2000.0, 3000.0, 3000.0]
    for cooldown in expected:
        assert s.stats("m", "a", now_ms=now)["cooldown_remaining_ms"] == pytest.approx(cooldown)
        now += cooldown
        fail(s, "a", now=now)  # the probe fails


def test_cancelled_probe_frees_the_slot_and_changes_no_stats() -> None:
    s, _ = pair()
    fail(s, "a", times=3)
    s.begin("m", "a", now_ms=1000)
    before = s.stats("m", "a", now_ms=1000)
    s.record("m", "a", "cancelled", first_token_ms=1.0, now_ms=1000)
    after = s.stats("m", "a", now_ms=1000)
    assert after["available"] and after["in_flight"] == 0
    assert {k: v for k, v in after.items() if k not in ("available", "in_flight")} == {
        k: v for k, v in before.items() if k not in ("available", "in_flight")
    }


def test_retry_after_opens_at_once_and_never_shortens() -> None:
    s, _ = pair()
    s.record("m", "b", "error", retry_after_ms=10_000, now_ms=0)
    assert s.stats("m", "b", now_ms=1)["circuit"] == "open"
    s.record("m", "b", "error", retry_after_ms=5, now_ms=1)
    assert s.stats("m", "b", now_ms=9_000)["circuit"] == "open"
    assert s.stats("m", "b", now_ms=10_000)["circuit"] == "half_open"


def test_retry_after_lengthens_an_open_circuit() -> None:
    s, _ = pair()
    fail(s, "a", times=3)  # open until 1000
    s.record("m", "a", "error", retry_after_ms=30_000, now_ms=500)
    assert s.stats("m", "a", now_ms=500)["cooldown_remaining_ms"] == pytest.approx(30_000)


def test_in_flight_saturates() -> None:
    s, _ = pair()
    s.record("m", "a", "cancelled", now_ms=0)
    s.record("m", "a", "ok", first_token_ms=10, now_ms=0)
    assert s.stats("m", "a", now_ms=0)["in_flight"] == 0


def test_register_is_idempotent_and_updates_prices() -> None:
    s, _ = pair()
    ok(s, "a", 42.0)
    s.register("m", "a", 9.0, 9.0)
    stats = s.stats("m", "a", now_ms=0)
    assert (stats["input_price"], stats["output_price"], stats["samples"]) == (9.0, 9.0, 1)
    assert s.providers("m") == PROVIDERS


def test_reset_forgets_measurements_but_keeps_prices() -> None:
    s, _ = pair()
    ok(s, "a", 42.0, 10.0)
    fail(s, "a", times=3)
    s.reset("m", "a")
    stats = s.stats("m", "a", now_ms=0)
    assert stats["samples"] == stats["failures"] == 0 and stats["circuit"] == "closed"
    assert stats["first_token_ms"] is None and stats["input_price"] == 1.0


def test_stats_shape() -> None:
    s, _ = pair()
    stats = s.stats("m", "c", now_ms=0)
    assert set(stats) == STATS_KEYS
    assert stats["first_token_ms"] is None and stats["tokens_per_s"] is None
    assert isinstance(stats["samples"], int) and isinstance(stats["error_rate"], float)


def test_errors_are_value_errors() -> None:
    s, _ = pair()
    with pytest.raises(ValueError, match="unknown model"):
        s.rank_providers("nope")
    with pytest.raises(ValueError, match="not registered"):
        s.begin("m", "zz")
    with pytest.raises(ValueError, match="not registered"):
        s.stats("m", "zz")
    with pytest.raises(ValueError, match="outcome"):
        s.record("m", "a", "great")
    with pytest.raises(ValueError, match="factor"):
        s.rank_providers("m", "vibes")
    with pytest.raises(ValueError, match="unknown model"):
        s.providers("nope")
    with pytest.raises(ValueError, match="ewma_alpha"):
        Scorer(ewma_alpha=0)
    with pytest.raises(ValueError, match="cooldown"):
        Scorer(cooldown_ms=10.0, max_cooldown_ms=5.0)


def test_all_stats_and_counts() -> None:
    s, _ = pair()
    assert len(s.all_stats()) == 8
    assert {(d["model"], d["provider"]) for d in s.all_stats()} == {(m, p) for m in MODELS for p in PROVIDERS}
    assert s.circuit_counts() == {"closed": 8, "open": 0, "half_open": 0}
    fail(s, "a", times=3)
    fail(s, "b", times=3)
    assert s.circuit_counts(now_ms=500) == {"closed": 6, "open": 2, "half_open": 0}
    assert s.circuit_counts(now_ms=1000) == {"closed": 6, "open": 0, "half_open": 2}


def test_own_clock_is_monotonic_and_drives_cooldowns() -> None:
    s = Scorer(cooldown_ms=1.0, max_cooldown_ms=1.0, failure_threshold=1)
    s.register("m", "a", 1.0, 1.0)
    t0 = s.now_ms()
    s.record("m", "a", "error")
    assert s.stats("m", "a", now_ms=t0)["circuit"] == "open"
    while s.now_ms() < t0 + 5:
        pass
    assert s.stats("m", "a")["circuit"] == "half_open"
    assert s.now_ms() >= t0


def test_many_providers_spill_past_the_inline_buffer() -> None:
    s, ref = Scorer(), ReferenceScorer()
    names = [f"p{i:02d}" for i in range(40)]
    for i, name in enumerate(names):
        for x in (s, ref):
            x.register("big", name, float(i % 7), 1.0)
            if i % 3:
                x.begin("big", name, now_ms=0)
                x.record("big", name, "ok", first_token_ms=float((i * 37) % 101), tokens_per_s=float(i), now_ms=0)
    for factor in FACTORS:
        assert s.rank_providers("big", factor, now_ms=0) == ref.rank_providers("big", factor, now_ms=0)


def test_ttft_quantile_waits_for_samples_and_checks_q() -> None:
    s = Scorer()
    s.register("m", "a", 1.0, 1.0)
    for i in range(19):
        s.record("m", "a", "ok", first_token_ms=300.0 + i)
    assert s.ttft_quantile("m", "a") is None
    s.record("m", "a", "ok", first_token_ms=310.0)
    assert 290.0 < (s.ttft_quantile("m", "a") or 0) < 340.0
    for _ in range(5):  # hedge losers cancelled at 700 ms: the tail they would have had stays visible
        s.record("m", "a", "cancelled", waited_ms=700.0)
    assert (s.ttft_quantile("m", "a", 0.95) or 0) > 650.0
    assert s.stats("m", "a")["ttft_p95_ms"] == s.ttft_quantile("m", "a", 0.95, min_samples=0)
    with pytest.raises(ValueError, match="q must be in"):
        s.ttft_quantile("m", "a", 1.5)


def test_hedge_delay_sits_where_the_bulk_ends() -> None:
    s = Scorer()
    s.register("m", "a", 1.0, 1.0)
    for i in range(400):
        s.record("m", "a", "ok", first_token_ms=3000.0 if i % 15 == 0 else 300.0 + i % 5)
    assert (s.ttft_quantile("m", "a") or 0) > 2500.0
    assert 300.0 <= (s.ttft_hedge_delay("m", "a") or 0) <= 340.0
    with pytest.raises(ValueError, match="gap_share"):
        s.ttft_hedge_delay("m", "a", gap_share=2.0)
