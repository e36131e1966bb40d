"""The Rust scorer against its pure-Python reference, and its contract."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proxy._scorer import Scorer
from proxy.scorer_reference import ReferenceScorer

PROVIDERS = ["a", "b", "c", "d"]
PRICES = {"a": (1.0, 2.0), "b": (0.5, 4.0), "c": (3.0, 3.0), "d": (0.5, 4.0)}


def pair() -> tuple[Scorer, ReferenceScorer]:
    rust = Scorer(ewma_alpha=0.3, failure_threshold=3, cooldown_ms=1000.0, max_cooldown_ms=8000.0)
    ref = ReferenceScorer(ewma_alpha=0.3, failure_threshold=3, cooldown_ms=1000.0, max_cooldown_ms=8000.0)
    for p in PROVIDERS:
        rust.register("m", p, *PRICES[p])
        ref.register("m", p, *PRICES[p])
    return rust, ref


step = st.one_of(
    st.tuples(st.just("begin"), st.sampled_from(PROVIDERS)),
    st.tuples(st.just("ok"), st.sampled_from(PROVIDERS), st.floats(1, 2000), st.one_of(st.none(), st.floats(1, 500))),
    st.tuples(st.just("error"), st.sampled_from(PROVIDERS), st.one_of(st.none(), st.floats(1, 20000))),
    st.tuples(st.just("cancelled"), st.sampled_from(PROVIDERS)),
    st.tuples(st.just("tick"), st.floats(0, 3000)),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(step, max_size=60))
def test_rust_matches_reference(steps: list[tuple]) -> None:
    rust, ref = pair()
    now = 0.0
    for s in steps:
        kind = s[0]
        if kind == "tick":
            now += s[1]
        elif kind == "begin":
            rust.begin("m", s[1], now_ms=now)
            ref.begin("m", s[1], now_ms=now)
        elif kind == "ok":
            rust.record("m", s[1], "ok", first_token_ms=s[2], tokens_per_s=s[3], now_ms=now)
            ref.record("m", s[1], "ok", first_token_ms=s[2], tokens_per_s=s[3], now_ms=now)
        elif kind == "error":
            rust.record("m", s[1], "error", retry_after_ms=s[2], now_ms=now)
            ref.record("m", s[1], "error", retry_after_ms=s[2], now_ms=now)
        else:
            rust.record("m", s[1], "cancelled", now_ms=now)
            ref.record("m", s[1], "cancelled", now_ms=now)
        for factor in ("latency", "price", "throughput"):
            assert rust.rank_providers("m", factor, now_ms=now) == ref.rank_providers("m", factor, now_ms=now)
    for p in PROVIDERS:
        r, e = rust.stats("m", p, now_ms=now), ref.stats("m", p, now_ms=now)
        assert r == pytest.approx(e), p


def test_latency_ranking_and_exploration() -> None:
    s, _ = pair()
    for p, ms in (("a", 300.0), ("b", 20.0), ("c", 90.0)):
        s.begin("m", p, now_ms=0)
        s.record("m", p, "ok", first_token_ms=ms, now_ms=0)
    assert s.rank_providers("m", now_ms=0) == ["d", "b", "c", "a"]  # d has no data yet: measured first


def test_circuit_cycle_with_explicit_clock() -> None:
    s, _ = pair()
    for _ in range(3):
        s.begin("m", "a", now_ms=0)
        s.record("m", "a", "error", now_ms=0)
    assert s.stats("m", "a", now_ms=10)["circuit"] == "open"
    assert not s.is_available("m", "a", now_ms=10)
    assert s.rank_providers("m", now_ms=10)[-1] == "a"
    assert s.stats("m", "a", now_ms=1000)["circuit"] == "half_open"
    s.begin("m", "a", now_ms=1000)
    assert not s.is_available("m", "a", now_ms=1001)  # one probe at a time
    s.record("m", "a", "error", now_ms=1001)
    assert s.stats("m", "a", now_ms=2500)["circuit"] == "open"  # longer cooldown: 2000 ms
    s.begin("m", "a", now_ms=3001)
    s.record("m", "a", "ok", first_token_ms=5, now_ms=3002)
    st_ = s.stats("m", "a", now_ms=3003)
    assert st_["circuit"] == "closed" and st_["consecutive_failures"] == 0 and st_["in_flight"] == 0


def test_retry_after_never_shortens() -> None:
    s, _ = pair()
    s.record("m", "b", "error", retry_after_ms=10_000, now_ms=0)
    s.record("m", "b", "error", retry_after_ms=5, now_ms=1)
    assert s.stats("m", "b", now_ms=9_000)["circuit"] == "open"


def test_errors_are_value_errors() -> None:
    s, _ = pair()
    with pytest.raises(ValueError, match="unknown model"):
        s.rank_providers("nope")
    with pytest.raises(ValueError, match="not registered"):
        s.begin("m", "zz")
    with pytest.raises(ValueError, match="outcome"):
        s.record("m", "a", "great")
    with pytest.raises(ValueError, match="factor"):
        s.rank_providers("m", "vibes")
    with pytest.raises(ValueError):
        Scorer(ewma_alpha=0)


def test_all_stats_and_counts() -> None:
    s, _ = pair()
    assert len(s.all_stats()) == 4
    assert s.circuit_counts() == {"closed": 4, "open": 0, "half_open": 0}
    assert s.providers("m") == PROVIDERS
