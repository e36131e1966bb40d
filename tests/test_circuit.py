"""Circuit breaking end to end: eject, half-open probe, restore or eject again for longer; Retry-After."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from proxy.pipeline.fallback import ALL_EJECTED, DEGRADED_HEADER
from tests.conftest import FAST
from tests.gateway_harness import GatewayHarness, simple_model

MESSAGES = [{"role": "user", "content": "ping"}]
ORDER = {"provider": {"routing": {"type": "order", "providers": ["p-bad", "p-good"]}}}
COOLDOWN_S = 0.4


def pair(cooldown_s: float = COOLDOWN_S) -> GatewayHarness:
    return GatewayHarness(
        providers={"p-bad": {"knobs": FAST}, "p-good": {"knobs": FAST}},
        models={"test/alpha": simple_model({"p-bad": "alpha-bad", "p-good": "alpha-good"})},
        extra_config={"routing": {"failure_threshold": 3, "cooldown_s": cooldown_s, "max_cooldown_s": 30.0}},
    ).start()


@pytest.fixture
def h() -> Iterator[GatewayHarness]:
    harness = pair()
    yield harness
    harness.stop()


def ask(h: GatewayHarness, model: str = "test/alpha", **extra: Any) -> tuple[int, dict[str, str], Any]:
    status, headers, payload = h.raw("POST", "/v1/chat/completions", {"model": model, "messages": MESSAGES, **extra})
    return status, {k.lower(): v for k, v in headers.items()}, payload


def eject(h: GatewayHarness, provider: str = "p-bad") -> None:
    h.set_knobs(provider, status=500)
    for _ in range(3):
        assert ask(h, f"test/alpha:{provider}")[0] == 502
    stats = h.stats("test/alpha", provider)
    assert stats["circuit"] == "open" and not stats["available"], stats


def test_open_then_half_open_probe_then_closed(h: GatewayHarness) -> None:
    eject(h)
    # while open, p-bad is tried only after p-good: it gets no traffic
    sent = h.counters("p-bad").requests
    status, headers, _ = ask(h, **ORDER)
    assert status == 200 and headers["x-switchyard-provider"] == "p-good" and headers["x-switchyard-attempts"] == "1"
    assert DEGRADED_HEADER not in headers and h.counters("p-bad").requests == sent
    # after the cooldown, one probe goes to p-bad; it is healthy again, so the circuit closes
    time.sleep(COOLDOWN_S + 0.1)
    assert h.stats("test/alpha", "p-bad")["available"]
    h.set_knobs("p-bad", status=None)
    status, headers, _ = ask(h, **ORDER)
    assert status == 200 and headers["x-switchyard-provider"] == "p-bad"
    stats = h.stats("test/alpha", "p-bad")
    assert stats["circuit"] == "closed" and stats["available"] and stats["in_flight"] == 0


def test_failed_probe_ejects_again_for_longer(h: GatewayHarness) -> None:
    eject(h)
    first = h.stats("test/alpha", "p-bad")["cooldown_remaining_ms"]
    assert 0 < first <= COOLDOWN_S * 1000
    time.sleep(COOLDOWN_S + 0.1)
    status, headers, _ = ask(h, **ORDER)  # the probe fails; the client still gets p-good's answer
    assert status == 200 and headers["x-switchyard-provider"] == "p-good" and headers["x-switchyard-attempts"] == "2"
    stats = h.stats("test/alpha", "p-bad")
    assert stats["circuit"] == "open" and stats["cooldown_remaining_ms"] > COOLDOWN_S * 1000 * 1.5, stats


def test_half_open_admits_one_probe_at_a_time(h: GatewayHarness) -> None:
    eject(h)
    time.sleep(COOLDOWN_S + 0.1)
    h.set_knobs("p-bad", status=None, ttft_ms=600.0)
    probe: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: probe.update(zip(("status", "headers", "body"), ask(h, **ORDER), strict=True)))
    thread.start()
    time.sleep(0.2)  # the probe is in flight at p-bad
    others = [ask(h, **ORDER)[1]["x-switchyard-provider"] for _ in range(3)]
    thread.join(10)
    assert others == ["p-good"] * 3
    assert probe["headers"]["x-switchyard-provider"] == "p-bad"
    assert h.stats("test/alpha", "p-bad")["circuit"] == "closed"


def test_all_ejected_still_tries_the_least_bad_and_says_so() -> None:
    h = pair(cooldown_s=30.0)
    try:
        eject(h, "p-bad")
        eject(h, "p-good")
        h.set_knobs("p-good", status=None)
        status, headers, payload = ask(h, **ORDER)
        assert status == 200 and headers[DEGRADED_HEADER] == ALL_EJECTED
        assert payload["choices"][0]["message"]["content"]
        h.set_knobs("p-bad", status=None)  # p-good's success closed its circuit: no longer degraded
        status, headers, _ = ask(h, **ORDER)
        assert status == 200 and headers["x-switchyard-provider"] == "p-good" and DEGRADED_HEADER not in headers
        # and a failure while degraded says so too
        eject(h, "p-good")
        h.set_knobs("p-bad", status=500)
        status, headers, payload = ask(h, **ORDER)
        assert status == 502 and headers[DEGRADED_HEADER] == ALL_EJECTED
        assert set(payload["error"]) == {"message", "type", "param", "code"}
    finally:
        h.stop()


def test_retry_after_lengthens_cooldown_and_never_shortens_it(h: GatewayHarness) -> None:
    h.set_knobs("p-bad", status=429, retry_after_s=20)
    for _ in range(3):
        status, headers, _ = ask(h, "test/alpha:p-bad")
        assert status == 429 and headers["retry-after"] == "20"
    remaining = h.stats("test/alpha", "p-bad")["cooldown_remaining_ms"]
    assert remaining > 15_000, remaining  # Retry-After 20 s beats the configured 0.4 s
    h.set_knobs("p-bad", retry_after_s=0.1)
    ask(h, "test/alpha:p-bad")  # pinned: tried although ejected; its short Retry-After must not shorten the wait
    assert h.stats("test/alpha", "p-bad")["cooldown_remaining_ms"] > 15_000
    time.sleep(COOLDOWN_S + 0.1)
    assert not h.stats("test/alpha", "p-bad")["available"]
    status, headers, _ = ask(h, **ORDER)
    assert headers["x-switchyard-provider"] == "p-good" and headers["x-switchyard-attempts"] == "1"
