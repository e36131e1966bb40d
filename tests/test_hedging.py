"""Hedged requests: a second attempt after the hedge delay, the first content wins, the loser is cancelled
(its connection closes), recorded as `hedge_lost` with an estimated cost, and never held against its provider."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from proxy.call import HEDGE_OFF, HedgeAsk, parse_hedge
from proxy.errors import GatewayError
from proxy.outcome import Outcome
from proxy.routing.hedging import HedgeBudget
from tests.conftest import FAST
from tests.gateway_harness import GatewayHarness, simple_model

MODEL = "test/alpha"
SLOW_FIRST = {"provider": {"routing": {"type": "order", "providers": ["p-slow", "p-fast"]}}}


@pytest.fixture
def hedged() -> Iterator[tuple[GatewayHarness, list[Outcome]]]:
    outcomes: list[Outcome] = []
    h = GatewayHarness(
        providers={"p-slow": {"knobs": {**FAST, "ttft_ms": 1500.0, "keepalive_every_ms": 20.0}},
                   "p-fast": {"knobs": FAST}},
        models={MODEL: simple_model({"p-slow": "alpha-slow", "p-fast": "alpha-fast"})},
        extra_config={"routing": {"hedge": {"enabled": False, "delay": 100, "budget_share": 0.05}}},
        on_finish=[outcomes.append],
    ).start()
    yield h, outcomes
    h.stop()


def client(h: GatewayHarness, **headers: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=h.url, api_key="unused", max_retries=0, default_headers=headers)


def ask(h: GatewayHarness, stream: bool = False, **headers: str) -> tuple[float, Any]:
    started = time.perf_counter()
    messages: Any = [{"role": "user", "content": "ping"}]
    if stream:
        with client(h, **headers).chat.completions.create(model=MODEL, messages=messages, stream=True,
                                                          extra_body=SLOW_FIRST) as chunks:
            text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        return time.perf_counter() - started, text
    answer = client(h, **headers).chat.completions.with_raw_response.create(model=MODEL, messages=messages,
                                                                            extra_body=SLOW_FIRST)
    return time.perf_counter() - started, answer


def wait_for(condition: Any, timeout_s: float = 2.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return False


def test_a_hedge_wins_and_the_loser_is_recorded_but_not_blamed(hedged: tuple[GatewayHarness, list[Outcome]]) -> None:
    h, outcomes = hedged
    elapsed, raw = ask(h, **{"x-switchyard-hedge": "100"})
    assert elapsed < 1.0  # not the slow provider's 1.5 s
    assert raw.headers["x-switchyard-provider"] == "p-fast" and raw.headers["x-switchyard-attempts"] == "2"
    assert "[alpha-fast]" in (raw.parse().choices[0].message.content or "")
    outcome = outcomes[-1]
    assert outcome.hedge == "won" and outcome.status == "ok" and outcome.provider == "p-fast"
    lost, won = outcome.attempts
    assert (lost.provider, lost.outcome, lost.cost_estimated) == ("p-slow", "hedge_lost", True)
    assert lost.cost_usd is not None and lost.cost_usd > 0 and 90 <= (won.started_ms - lost.started_ms) < 400
    assert (won.provider, won.outcome, won.cost_estimated) == ("p-fast", "ok", False)
    record = outcome.record()  # what the request log stores: both attempts, the loser's cost marked
    assert record["hedge"] == "won" and record["attempts"][0]["outcome"] == "hedge_lost"
    assert record["attempts"][0]["cost_estimated"] is True
    slow = h.stats(MODEL, "p-slow")
    assert (slow["failures"], slow["consecutive_failures"], slow["error_rate"], slow["circuit"]) == (0, 0, 0.0, "closed")
    assert h.gateway.chat.hedging is not None and h.gateway.chat.hedging.counts["won"] == 1


def test_a_hedged_stream_closes_the_losers_connection(hedged: tuple[GatewayHarness, list[Outcome]]) -> None:
    h, outcomes = hedged
    elapsed, text = ask(h, stream=True, **{"x-switchyard-hedge": "100"})
    assert elapsed < 1.0 and text.startswith("[alpha-fast]")
    assert outcomes[-1].hedge == "won" and [a.outcome for a in outcomes[-1].attempts] == ["hedge_lost", "ok"]
    # the slow mock notices at its next keep-alive write that the gateway hung up, long before 1.5 s
    assert wait_for(lambda: h.counters("p-slow").in_flight == 0, timeout_s=0.5)


def test_a_hedged_stream_is_headed_by_the_winner(hedged: tuple[GatewayHarness, list[Outcome]]) -> None:
    """The slow provider answers 200 first (keep-alives, no content), so the answer is prepared with its
    notes while it thinks; the hedge wins, and the headers that go out are the winner's."""
    h, outcomes = hedged
    raw = client(h, **{"x-switchyard-hedge": "100"}).chat.completions.with_raw_response.create(
        model=MODEL, messages=[{"role": "user", "content": "ping"}], stream=True, extra_body=SLOW_FIRST)
    assert raw.headers["x-switchyard-provider"] == "p-fast" and raw.headers["x-switchyard-attempts"] == "2"
    assert raw.headers["x-switchyard-model"] == MODEL and raw.headers["x-request-id"]
    text = "".join(c.choices[0].delta.content or "" for c in raw.parse() if c.choices)
    assert text.startswith("[alpha-fast]") and outcomes[-1].hedge == "won"


def test_a_fast_lead_wins_without_a_hedge_and_config_off_means_off(hedged: tuple[GatewayHarness, list[Outcome]]) -> None:
    h, outcomes = hedged
    h.set_knobs("p-slow", ttft_ms=20.0)
    _, raw = ask(h, **{"x-switchyard-hedge": "300"})
    assert raw.headers["x-switchyard-attempts"] == "1" and outcomes[-1].hedge is None
    h.set_knobs("p-slow", ttft_ms=400.0)
    elapsed, raw = ask(h)  # routing.hedge.enabled is false and the request did not ask
    assert elapsed >= 0.4 and raw.headers["x-switchyard-provider"] == "p-slow"
    assert len(outcomes[-1].attempts) == 1


def test_body_setting_turns_hedging_on_and_off(hedged: tuple[GatewayHarness, list[Outcome]]) -> None:
    h, outcomes = hedged
    h.set_knobs("p-slow", ttft_ms=600.0)
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], **SLOW_FIRST,
            "switchyard": {"hedge": {"delay": 50}}}
    status, headers, _ = h.raw("POST", "/v1/chat/completions", body, {"x-switchyard-hedge": "off"})
    assert status == 200 and headers["x-switchyard-provider"] == "p-fast"  # the body wins over the header
    body["switchyard"] = {"hedge": False}
    status, headers, _ = h.raw("POST", "/v1/chat/completions", body)
    assert status == 200 and headers["x-switchyard-provider"] == "p-slow" and outcomes[-1].hedge is None
    body["switchyard"] = {"hedge": {"delay": "soon"}}
    status, _, error = h.raw("POST", "/v1/chat/completions", body)
    assert status == 400 and error["error"]["param"] == "switchyard.hedge.delay"


def test_an_empty_budget_skips_the_hedge(hedged: tuple[GatewayHarness, list[Outcome]]) -> None:
    h, outcomes = hedged
    hedging = h.gateway.chat.hedging
    assert hedging is not None
    hedging.budget.tokens = 0.0
    h.set_knobs("p-slow", ttft_ms=300.0)
    _, raw = ask(h, **{"x-switchyard-hedge": "50"})
    assert raw.headers["x-switchyard-provider"] == "p-slow" and outcomes[-1].hedge == "skipped_budget"
    assert len(outcomes[-1].attempts) == 1 and hedging.counts["skipped_budget"] == 1


def test_no_hedge_to_a_provider_that_just_returned_429(hedged: tuple[GatewayHarness, list[Outcome]]) -> None:
    h, outcomes = hedged
    h.set_knobs("p-slow", ttft_ms=20.0)
    h.set_knobs("p-fast", status=429)
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}],
            "provider": {"routing": {"type": "order", "providers": ["p-fast", "p-slow"]}}}
    status, headers, _ = h.raw("POST", "/v1/chat/completions", body)
    assert status == 200 and headers["x-switchyard-provider"] == "p-slow"  # plain fallback past the 429
    h.set_knobs("p-fast", status=None)
    h.set_knobs("p-slow", ttft_ms=300.0)
    _, raw = ask(h, **{"x-switchyard-hedge": "50"})
    assert raw.headers["x-switchyard-provider"] == "p-slow" and len(outcomes[-1].attempts) == 1


def test_parse_hedge_reads_body_then_header() -> None:
    assert parse_hedge({}, {}) is None
    assert parse_hedge({"switchyard": {"hedge": False}}, {}) == HEDGE_OFF
    assert parse_hedge({"switchyard": {"hedge": True}}, {}) == HedgeAsk(True)
    assert parse_hedge({"switchyard": {"hedge": {"delay": "p95"}}}, {}) == HedgeAsk(True, "p95")
    assert parse_hedge({"switchyard": {"hedge": {"delay": 250}}}, {"x-switchyard-hedge": "off"}) == HedgeAsk(True, 250.0)
    assert parse_hedge({}, {"x-switchyard-hedge": "OFF"}) == HEDGE_OFF
    assert parse_hedge({}, {"x-switchyard-hedge": "p95"}) == HedgeAsk(True, "p95")
    assert parse_hedge({}, {"x-switchyard-hedge": "120"}) == HedgeAsk(True, 120.0)
    for body, headers, param in [
        ({"switchyard": {"hedge": "yes"}}, {}, "switchyard.hedge"),
        ({"switchyard": {"hedge": {"after": 5}}}, {}, "switchyard.hedge"),
        ({"switchyard": {"hedge": {"delay": -1}}}, {}, "switchyard.hedge.delay"),
        ({"switchyard": {"hedge": {"delay": True}}}, {}, "switchyard.hedge.delay"),
        ({}, {"x-switchyard-hedge": "later"}, "x-switchyard-hedge"),
        ({}, {"x-switchyard-hedge": "nan"}, "x-switchyard-hedge"),
    ]:
        with pytest.raises(GatewayError) as err:
            parse_hedge(body, headers)
        assert err.value.status == 400 and err.value.param == param


def test_budget_is_a_share_of_requests() -> None:
    budget = HedgeBudget(0.05, window=200)
    assert budget.capacity == 10.0
    budget.tokens = 0.0
    granted = 0
    for _ in range(1000):
        budget.on_request()
        granted += budget.take()
    assert granted == 50


def test_a_client_leaving_mid_race_cancels_both_attempts(hedged: tuple[GatewayHarness, list[Outcome]]) -> None:
    h, outcomes = hedged
    h.set_knobs("p-fast", ttft_ms=1500.0, keepalive_every_ms=20.0)
    with pytest.raises(openai.APITimeoutError):
        openai.OpenAI(base_url=h.url, api_key="unused", max_retries=0, timeout=0.5,
                      default_headers={"x-switchyard-hedge": "100"}).chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "bye"}], stream=True, extra_body=SLOW_FIRST)
    assert wait_for(lambda: bool(outcomes) and outcomes[-1].finished)
    assert outcomes[-1].status == "cancelled"
    assert [a.outcome for a in outcomes[-1].attempts] == ["cancelled", "cancelled"]
    assert wait_for(lambda: h.counters("p-slow").in_flight == h.counters("p-fast").in_flight == 0, timeout_s=0.5)
    for provider in ("p-slow", "p-fast"):
        assert h.stats(MODEL, provider)["failures"] == 0 and h.stats(MODEL, provider)["in_flight"] == 0


def test_the_receipt_and_metrics_show_the_hedge(hedged: tuple[GatewayHarness, list[Outcome]]) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    h, _ = hedged
    _, raw = ask(h, **{"x-switchyard-hedge": "100"})
    request_id = raw.headers["x-request-id"]
    deadline = time.monotonic() + 5
    while (status := h.raw("GET", f"/v1/requests/{request_id}"))[0] != 200 and time.monotonic() < deadline:
        time.sleep(0.05)
    receipt = status[2]
    assert receipt["hedge"] == "won" and [a["outcome"] for a in receipt["attempts"]] == ["hedge_lost", "ok"]
    lost = receipt["attempts"][0]
    assert lost["cost_estimated"] is True and lost["cost_usd"] > 0 and receipt["failed_attempts_cost_usd"] == lost["cost_usd"]

    def hedges() -> dict[str, float]:
        families = {f.name: f for f in text_string_to_metric_families(h.raw("GET", "/metrics")[2])}
        return {s.labels["outcome"]: s.value for s in families["switchyard_hedges"].samples if s.name.endswith("_total")}

    assert wait_for(lambda: hedges().get("won") == 1.0)


def test_a_hedge_losers_estimated_cost_counts_against_the_keys_budget() -> None:
    admin = "sk-admin-hedge-test-0123456789"
    outcomes: list[Outcome] = []
    h = GatewayHarness(
        providers={"p-slow": {"knobs": {**FAST, "ttft_ms": 1500.0, "keepalive_every_ms": 20.0}}, "p-fast": {"knobs": FAST}},
        # the loser pays for its prompt only (an estimate); the winner for its output only
        models={MODEL: simple_model({"p-slow": "alpha-slow", "p-fast": "alpha-fast"},
                                    prices={"p-slow": (50_000.0, 0.0), "p-fast": (0.0, 300.0)})},
        extra_config={"routing": {"hedge": {"enabled": True, "delay": 100, "budget_share": 1.0}},
                      "server": {"admin_keys": [{"name": "ops", "key": admin}]}},
        on_finish=[outcomes.append],
    ).start()
    try:
        auth = {"Authorization": f"Bearer {admin}"}
        made = h.issue_key(auth, name="hedged", budget_usd=100)
        sdk = openai.OpenAI(base_url=h.url, api_key=made["key"], max_retries=0)
        sdk.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "ping"}], extra_body=SLOW_FIRST)
        lost, won = outcomes[-1].attempts
        assert lost.outcome == "hedge_lost" and (lost.cost_usd or 0) > 0 and (won.cost_usd or 0) > 0
        expected = lost.cost_usd + won.cost_usd  # type: ignore[operator]
        assert wait_for(lambda: h.raw("GET", f"/v1/keys/{made['id']}", headers=auth)[2]["spend_usd"]
                        == pytest.approx(expected, abs=1e-6))
    finally:
        h.stop()
