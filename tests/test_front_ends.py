"""Front ends: each API answers errors in its own shape, every answer carries the gateway's request id,
and each request's Outcome reaches the on_finish hooks exactly once."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterator
from typing import Any

import anthropic
import orjson
import pytest

from proxy.outcome import Outcome
from tests.conftest import FAST
from tests.gateway_harness import GatewayHarness, simple_model
from tests.sse_client import post_stream

GATEWAY_KEY = "gw-front-end-key-5c1d9e"
OK = {"model": "test/alpha", "messages": [{"role": "user", "content": "hi"}]}
UUID7 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


@pytest.fixture(scope="module")
def keyed() -> Iterator[GatewayHarness]:
    h = GatewayHarness(providers={"p-one": {"knobs": FAST}}, models={"test/alpha": simple_model({"p-one": "alpha-one"})},
                       environ={"SWITCHYARD_API_KEYS": GATEWAY_KEY}).start()
    yield h
    h.stop()


class Recorder:
    def __init__(self) -> None:
        self.outcomes: list[Outcome] = []

    def __call__(self, outcome: Outcome) -> None:
        self.outcomes.append(outcome)

    def only(self) -> Outcome:
        assert len(self.outcomes) == 1, self.outcomes
        return self.outcomes.pop()


@pytest.fixture(scope="module")
def recorded() -> Iterator[tuple[GatewayHarness, Recorder]]:
    recorder = Recorder()
    h = GatewayHarness(
        providers={"p-bad": {"knobs": {**FAST, "status": 500}}, "p-good": {"knobs": FAST}},
        models={"test/alpha": simple_model({"p-good": "alpha-good"}),
                "test/flaky": simple_model({"p-bad": "flaky-bad", "p-good": "flaky-good"})},
        on_finish=[recorder],
    ).start()
    yield h, recorder
    h.stop()


def lower(headers: dict[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def claude(h: GatewayHarness, key: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=h.base, api_key=key, max_retries=0, timeout=20)


# -- errors in each API's own shape -------------------------------------------------------------


def test_anthropic_sdk_gets_authentication_error_that_names_x_api_key(keyed: GatewayHarness) -> None:
    with pytest.raises(anthropic.AuthenticationError) as info:
        claude(keyed, "wrong-key").messages.create(model="test/alpha", max_tokens=10, messages=[{"role": "user", "content": "x"}])
    body: Any = info.value.body
    assert body["type"] == "error" and body["error"]["type"] == "authentication_error"
    assert "x-api-key" in body["error"]["message"] and "Bearer" not in body["error"]["message"]
    assert "wrong-key" not in str(body)
    assert "WWW-Authenticate" not in info.value.response.headers


def test_anthropic_sdk_gets_not_found_for_an_unknown_model_and_route(keyed: GatewayHarness) -> None:
    with pytest.raises(anthropic.NotFoundError) as info:
        claude(keyed, GATEWAY_KEY).messages.create(model="no/such", max_tokens=10, messages=[{"role": "user", "content": "x"}])
    body: Any = info.value.body
    assert body["type"] == "error" and body["error"]["type"] == "not_found_error"
    status, _, payload = keyed.raw("GET", "/v1/messages", headers={"x-api-key": GATEWAY_KEY})
    assert status == 405 and payload["type"] == "error"


def test_openai_paths_keep_openai_shape(keyed: GatewayHarness) -> None:
    status, headers, payload = keyed.raw("POST", "/v1/chat/completions", OK, headers={"Authorization": "Bearer nope"})
    assert status == 401 and set(payload["error"]) == {"message", "type", "param", "code"}
    assert "Authorization: Bearer" in payload["error"]["message"] and headers["WWW-Authenticate"].startswith("Bearer")


# -- the request id -----------------------------------------------------------------------------


def test_every_answer_carries_a_fresh_uuid7_request_id(keyed: GatewayHarness) -> None:
    auth = {"Authorization": f"Bearer {GATEWAY_KEY}"}
    seen = []
    for method, path, body, headers in [
        ("POST", "/v1/chat/completions", OK, auth),  # an answer
        ("POST", "/v1/chat/completions", {"model": "test/alpha"}, auth),  # a 400
        ("POST", "/v1/chat/completions", OK, {}),  # a 401
        ("GET", "/v1/nothing-here", None, auth),  # a 404 from the router
        ("GET", "/health", None, {}),
        ("POST", "/v1/chat/completions", OK, {**auth, "x-request-id": "client-chosen-id"}),
    ]:
        _, resp_headers, _ = keyed.raw(method, path, body, headers=headers)
        seen.append(lower(resp_headers)["x-request-id"])
    stream = post_stream(keyed, OK, headers=auth)
    assert stream.status == 200 and stream.done
    seen.append(lower(stream.headers)["x-request-id"])
    assert all(UUID7.match(rid) and uuid.UUID(rid).version == 7 for rid in seen), seen
    assert len(set(seen)) == len(seen) and "client-chosen-id" not in seen


# -- the outcome and its hooks -------------------------------------------------------------------


def test_outcome_of_a_fallback_answer(recorded: tuple[GatewayHarness, Recorder]) -> None:
    h, recorder = recorded
    body = {"model": "test/flaky", "messages": OK["messages"], "metadata": {"team": "search"},
            "provider": {"routing": {"type": "order", "providers": ["p-bad", "p-good"]}}}
    status, headers, payload = h.raw("POST", "/v1/chat/completions", body,
                                     headers={"x-request-id": "mine-1", "x-switchyard-tags": "env=test, app=web"})
    assert status == 200, payload
    out = recorder.only()
    assert out.request_id == lower(headers)["x-request-id"] and out.client_request_id == "mine-1"
    assert (out.api, out.model_requested, out.model, out.provider, out.stream) == ("openai_chat", "test/flaky", "test/flaky", "p-good", False)
    assert (out.status, out.http_status, out.finish_reason) == ("ok", 200, "stop")
    assert out.tags == {"env": "test", "app": "web", "team": "search"}
    assert [(a.provider, a.outcome, a.status) for a in out.attempts] == [("p-bad", "http_500", 500), ("p-good", "ok", 200)]
    assert out.usage is not None and out.usage["cost_usd"] == out.attempts[-1].cost_usd and out.cost_usd is not None
    assert out.duration_ms is not None and out.ttft_ms is not None and 0 < out.ttft_ms <= out.duration_ms
    assert out.attempts[1].started_ms >= out.attempts[0].started_ms
    record = out.record()
    assert orjson.loads(orjson.dumps(record)) == record and "hooks" not in record
    assert record["attempts"][0]["outcome"] == "http_500" and record["cost_usd"] == out.cost_usd


def test_outcome_of_a_stream_and_of_a_bad_request(recorded: tuple[GatewayHarness, Recorder]) -> None:
    h, recorder = recorded
    result = post_stream(h, OK)
    assert result.status == 200 and result.done
    out = recorder.only()
    assert (out.status, out.stream, out.provider, out.finish_reason) == ("ok", True, "p-good", "stop")
    assert out.usage and out.usage["completion_tokens"] > 0 and out.attempts[0].ttft_ms is not None
    status, _, _ = h.raw("POST", "/v1/chat/completions", {"model": "test/alpha", "messages": [], "stream": True})
    assert status == 400
    out = recorder.only()
    assert (out.status, out.http_status, out.error_code) == ("error", 400, "invalid_value") and out.attempts == []
    status, _, _ = h.raw("POST", "/v1/chat/completions", {**OK, "model": "no/such"})
    out = recorder.only()
    assert (status, out.status, out.http_status, out.error_code) == (404, "error", 404, "model_not_found")


def test_outcome_of_a_stream_cut_short(recorded: tuple[GatewayHarness, Recorder]) -> None:
    h, recorder = recorded
    h.set_knobs("p-good", stream_error_after_chunks=2)
    try:
        result = post_stream(h, OK)
    finally:
        h.set_knobs("p-good", stream_error_after_chunks=None)
    assert result.status == 200 and result.errors
    out = recorder.only()
    assert (out.status, out.http_status) == ("partial", 200) and out.error
    assert out.attempts[-1].outcome == "stream_error"


def test_a_bug_is_a_500_in_the_apis_shape_logged_once_with_the_request_id(
    keyed: GatewayHarness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import proxy.api.anthropic_messages as front_end

    def broken(completion: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("a bug, with sk-live-secret-0123456789 in its message")

    monkeypatch.setattr(front_end, "to_anthropic_message", broken)
    caplog.set_level(logging.ERROR, logger="switchyard")
    status, headers, payload = keyed.raw("POST", "/v1/messages", {**OK, "max_tokens": 10}, headers={"x-api-key": GATEWAY_KEY})
    assert status == 500 and payload == {"type": "error", "error": {"type": "api_error", "message": "Internal gateway error."}}
    rid = lower(headers)["x-request-id"]
    lines = [r.getMessage() for r in caplog.records if rid in r.getMessage()]
    assert len(lines) == 1 and "RuntimeError" in lines[0] and "sk-live-secret" not in lines[0]


def test_outcome_of_auto_routing_says_how_it_chose(recorded: tuple[GatewayHarness, Recorder]) -> None:
    h, recorder = recorded
    status, headers, payload = h.raw("POST", "/v1/chat/completions", {**OK, "model": "auto",
                                     "model_routing_config": {"preference": "cost"}})
    assert status == 200, payload
    out = recorder.only()
    assert out.route is not None and out.route.preference == "price" and out.route.reason == lower(headers)["x-switchyard-route"]
    assert out.route.candidates and {c.model for c in out.route.candidates} <= {"test/alpha", "test/flaky"}
    assert all(c.estimated_cost_usd >= 0 and 0 <= c.predicted_quality <= 1 for c in out.route.candidates)
    assert "input_tokens" in out.route.features and out.model_requested == "auto" and out.model == payload["model"]
