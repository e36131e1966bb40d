"""A provider's keys used in turn under their caps, and cooled by a 429's Retry-After."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.upstream.keyring import KeyRing, UpstreamKey


def test_keys_are_used_in_turn() -> None:
    ring = KeyRing([UpstreamKey("a"), UpstreamKey("b"), UpstreamKey("c")])
    assert [ring.pick(0.0)[1] for _ in range(6)] == ["a", "b", "c", "a", "b", "c"]  # type: ignore[index]


def test_a_capped_key_is_skipped_until_its_window_frees() -> None:
    ring = KeyRing([UpstreamKey("a", rpm=1), UpstreamKey("b", rpm=2)])
    assert [ring.pick(0.0)[1] for _ in range(3)] == ["a", "b", "b"]  # type: ignore[index]
    assert ring.pick(1.0) is None
    assert ring.retry_after_s(1.0) == 59.0
    assert ring.pick(60.0) is not None


def test_tpm_caps_count_tokens_and_settle_to_the_truth() -> None:
    ring = KeyRing([UpstreamKey("a", tpm=1000)])
    first = ring.pick(0.0, tokens=800)
    assert first is not None
    assert ring.pick(0.0, tokens=300) is None
    ring.settle(first[0], 0.1, 800, 500)  # the answer was shorter than estimated
    assert ring.pick(0.2, tokens=300) is not None


def test_a_429_cools_the_key_for_its_retry_after() -> None:
    ring = KeyRing([UpstreamKey("a"), UpstreamKey("b")])
    ring.cool(0, 0.0, 5.0)
    assert [ring.pick(1.0)[1] for _ in range(3)] == ["b", "b", "b"]  # type: ignore[index]
    ring.cool(1, 1.0, None)
    assert ring.pick(1.5) is None and ring.retry_after_s(1.5) == 0.5
    assert ring.pick(5.0)[1] == "a"  # type: ignore[index]


@given(caps=st.lists(st.integers(1, 5), min_size=1, max_size=4),
       times=st.lists(st.floats(0, 200, allow_nan=False), max_size=80))
@settings(max_examples=200, deadline=None)
def test_no_key_exceeds_its_rpm_in_any_window(caps: list[int], times: list[float]) -> None:
    ring = KeyRing([UpstreamKey(str(i), rpm=c) for i, c in enumerate(caps)])
    used: dict[int, list[float]] = {i: [] for i in range(len(caps))}
    for t in sorted(times):
        got = ring.pick(t)
        free = [i for i, c in enumerate(caps) if sum(1 for u in used[i] if t - 60 < u <= t) < c]
        assert (got is None) == (not free)  # refused only when every key is at its cap
        if got is not None:
            used[got[0]].append(t)
    for i, c in enumerate(caps):
        for t in used[i]:
            assert sum(1 for u in used[i] if t - 60 < u <= t) <= c


def test_a_gateway_uses_a_providers_keys_in_turn_and_stays_under_their_caps() -> None:
    """Through a running gateway: keys alternate on the wire, and once both are at their cap the
    gateway answers 429 itself (with Retry-After) instead of sending a request bound to be refused."""
    from tests.gateway_harness import GatewayHarness, simple_model

    h = GatewayHarness(
        providers={"p-one": {"knobs": {"ttft_ms": 1.0},
                             "config": {"api_keys": [{"env": "RING_KEY_1", "rpm": 2}, {"env": "RING_KEY_2", "rpm": 2}]}}},
        models={"test/alpha": simple_model({"p-one": "alpha-one"})},
        environ={"RING_KEY_1": "sk-ring-one-0123456789", "RING_KEY_2": "sk-ring-two-0123456789"},
    ).start()
    try:
        h.set_knobs("p-one", api_key=None)  # the mock takes any key; the test reads which one came
        body = {"model": "test/alpha", "messages": [{"role": "user", "content": "hi"}]}
        seen = []
        for _ in range(4):
            status, _, _ = h.raw("POST", "/v1/chat/completions", body)
            assert status == 200
            seen.append(h.counters("p-one").last_headers["Authorization"].split()[-1])
        assert seen == ["sk-ring-one-0123456789", "sk-ring-two-0123456789"] * 2
        status, headers, err = h.raw("POST", "/v1/chat/completions", body)
        assert status == 429 and int(headers["Retry-After"]) >= 1, err
        assert h.counters("p-one").requests == 4  # the capped request never reached the provider
    finally:
        h.stop()
