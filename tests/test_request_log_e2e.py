"""The request log end to end: the real openai and anthropic SDKs call a running gateway; each call's
record (`GET /v1/requests/{id}`, id = the answer's x-request-id) shows the right status, attempts and
costs; usage sums match the records; feedback attaches; /metrics shows the calls; one access line each."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.gateway_harness import GatewayHarness, simple_model

FAST = {"ttft_ms": 2.0, "tokens_per_s": 4000.0, "chunks": 6}
MESSAGES = [{"role": "user", "content": "Name three rivers in Europe."}]
TEAM_KEY, ADMIN_KEY = "sk-e2e-team-0123456789", "sk-e2e-admin-0123456789"


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def gateway(request: pytest.FixtureRequest) -> Iterator[GatewayHarness]:
    """The same gateway on each store back end (PostgreSQL: a fresh database in the session's cluster)."""
    store = {"url": request.getfixturevalue("postgres").new_database()} if request.param == "postgres" else {}
    h = GatewayHarness(
        providers={
            "p-bad": {"knobs": {**FAST, "status": 503}},
            "p-good": {"knobs": FAST},
            "p-cut": {"knobs": {**FAST, "stream_error_after_chunks": 2}},
            "p-slow": {"knobs": {"ttft_ms": 2.0, "tokens_per_s": 20.0, "chunks": 400}},
            "p-claude": {"wire": "anthropic", "knobs": FAST},
        },
        models={
            "test/fallback": simple_model({"p-bad": "fb-bad", "p-good": "fb-good"}, prices={"p-bad": (2.0, 4.0), "p-good": (1.0, 3.0)}),
            "test/cut": simple_model({"p-cut": "cut-one"}),
            "test/slow": simple_model({"p-slow": "slow-one"}),
            "test/claude": simple_model({"p-claude": "claude-one"}),
        },
        extra_config={"server": {"api_keys": [{"name": "team-e2e", "key": TEAM_KEY}],
                                 "admin_keys": [{"name": "ops", "key": ADMIN_KEY}]},
                      **({"store": store} if store else {})},
    ).start()
    yield h
    h.stop()


def oai(h: GatewayHarness, key: str = TEAM_KEY) -> openai.OpenAI:
    return openai.OpenAI(base_url=h.url, api_key=key, max_retries=0)


def record(h: GatewayHarness, request_id: str, key: str = TEAM_KEY) -> dict[str, Any]:
    """The record, once written (a cancelled request's ends when the gateway notices the client left)."""
    deadline = time.monotonic() + 10
    while True:
        status, _, body = h.raw("GET", f"/v1/requests/{request_id}", headers={"Authorization": f"Bearer {key}"})
        if status == 200 or time.monotonic() > deadline:
            assert status == 200, body
            return body  # type: ignore[no-any-return]
        time.sleep(0.05)


def ordered(*providers: str) -> dict[str, Any]:
    return {"provider": {"routing": {"type": "order", "providers": list(providers)}}}


def test_a_call_that_falls_back(gateway: GatewayHarness) -> None:
    raw = oai(gateway).chat.completions.with_raw_response.create(
        model="test/fallback", messages=MESSAGES, extra_body=ordered("p-bad", "p-good"),  # type: ignore[arg-type]
        extra_headers={"x-request-id": "client-abc", "x-switchyard-tags": "feature=search"})
    completion = raw.parse()
    rec = record(gateway, raw.headers["x-request-id"])
    assert (rec["status"], rec["http_status"], rec["provider"], rec["model"]) == ("ok", 200, "p-good", "test/fallback")
    assert (rec["api"], rec["key"], rec["client_request_id"], rec["tags"]) == (
        "chat.completions", "team-e2e", "client-abc", {"feature": "search"})
    assert [(a["provider"], a["outcome"], a["status"]) for a in rec["attempts"]] == [
        ("p-bad", "http_503", 503), ("p-good", "ok", 200)]
    assert rec["attempts"][0]["cost_usd"] == 0.0
    usage = completion.model_dump()["usage"]
    assert rec["usage"]["cost_usd"] == pytest.approx(usage["cost_usd"]) and usage["cost_usd"] > 0
    assert rec["attempts"][1]["cost_usd"] == pytest.approx(usage["cost_usd"])
    assert rec["usage"]["prompt_tokens"] == usage["prompt_tokens"]
    assert rec["failed_attempts_cost_usd"] == 0.0
    assert rec["route"] is None and rec["duration_ms"] >= rec["attempts"][1]["started_ms"]


def test_a_stream_that_fails_mid_way_is_partial(gateway: GatewayHarness) -> None:
    with oai(gateway).chat.completions.with_streaming_response.create(
            model="test/cut", messages=MESSAGES, stream=True) as resp:  # type: ignore[arg-type]
        request_id = resp.headers["x-request-id"]
        with pytest.raises(openai.APIError):
            for _ in resp.parse():
                pass
    rec = record(gateway, request_id)
    assert rec["status"] == "partial" and rec["stream"] is True
    assert [(a["provider"], a["outcome"]) for a in rec["attempts"]] == [("p-cut", "stream_error")]
    # what the broken attempt produced is paid for, and counted as a failed attempt's cost
    assert rec["usage"]["cost_usd"] > 0
    assert rec["failed_attempts_cost_usd"] == pytest.approx(rec["attempts"][0]["cost_usd"])


def test_a_stream_the_client_leaves_is_cancelled(gateway: GatewayHarness) -> None:
    with oai(gateway).chat.completions.with_streaming_response.create(
            model="test/slow", messages=MESSAGES, stream=True) as resp:  # type: ignore[arg-type]
        request_id = resp.headers["x-request-id"]
        for chunk in resp.parse():
            if chunk.choices and chunk.choices[0].delta.content:
                break  # leaving the block closes the connection mid-answer
    rec = record(gateway, request_id)
    assert rec["status"] == "cancelled"
    assert [(a["provider"], a["outcome"]) for a in rec["attempts"]] == [("p-slow", "cancelled")]


def test_the_anthropic_sdk_is_logged_as_messages(gateway: GatewayHarness) -> None:
    client = anthropic.Anthropic(base_url=gateway.base, api_key=TEAM_KEY, max_retries=0)
    raw = client.messages.with_raw_response.create(model="test/claude", max_tokens=64, messages=MESSAGES)  # type: ignore[arg-type]
    message = raw.parse()
    rec = record(gateway, raw.headers["x-request-id"])
    assert (rec["api"], rec["status"], rec["provider"]) == ("messages", "ok", "p-claude")
    assert rec["usage"]["completion_tokens"] == message.usage.output_tokens


def test_usage_sums_match_the_records_and_feedback_attaches(gateway: GatewayHarness) -> None:
    run = uuid.uuid4().hex[:10]
    client = oai(gateway)
    ids = []
    for i in range(6):
        raw = client.chat.completions.with_raw_response.create(
            model="test/fallback", messages=MESSAGES, extra_headers={"x-switchyard-tags": f"run={run}"},
            extra_body=ordered("p-bad", "p-good") if i % 2 else {})  # type: ignore[arg-type]
        ids.append(raw.headers["x-request-id"])
    records = [record(gateway, i) for i in ids]
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    status, _, usage = gateway.raw("GET", f"/v1/usage?group_by=provider&tag=run:{run}", headers=admin)
    assert status == 200
    by_provider = {row["group"]["provider"]: row for row in usage["data"]}
    for provider, row in by_provider.items():
        mine = [r for r in records if r["provider"] == provider]
        assert row["requests"] == len(mine)
        assert row["prompt_tokens"] == sum(r["usage"]["prompt_tokens"] for r in mine)
        assert row["completion_tokens"] == sum(r["usage"]["completion_tokens"] for r in mine)
        assert row["cost_usd"] == pytest.approx(sum(r["usage"]["cost_usd"] for r in mine))
        assert row["failed_attempts_cost_usd"] == pytest.approx(sum(r["failed_attempts_cost_usd"] for r in mine))
    assert sum(row["requests"] for row in usage["data"]) == 6
    listed = gateway.raw("GET", f"/v1/requests?tag=run:{run}", headers=admin)[2]["data"]
    assert [r["id"] for r in listed] == list(reversed(ids))
    assert gateway.raw("POST", "/v1/feedback", {"request_id": ids[0], "thumbs": "up", "metric": "helpful"},
                       headers={"Authorization": f"Bearer {TEAM_KEY}"})[0] == 201
    assert record(gateway, ids[0])["feedback"][0]["thumbs"] == "up"


def test_metrics_show_the_calls_and_health_the_log(gateway: GatewayHarness) -> None:
    client = oai(gateway)
    for _ in range(3):
        client.chat.completions.create(model="test/fallback", messages=MESSAGES, extra_body=ordered("p-bad", "p-good"))  # type: ignore[arg-type]
    deadline = time.monotonic() + 5
    while True:
        status, _, text = gateway.raw("GET", "/metrics", headers={"Authorization": f"Bearer {ADMIN_KEY}"})
        assert status == 200
        families = {f.name: f for f in text_string_to_metric_families(text)}
        attempts = {(s.labels["provider"], s.labels["outcome"]): s.value for s in families["switchyard_attempts"].samples
                    if s.name.endswith("_total")}
        if attempts.get(("p-bad", "http_503"), 0) >= 3 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert attempts[("p-bad", "http_503")] >= 3 and attempts[("p-good", "ok")] >= 3
    durations = [s for s in families["gen_ai_server_request_duration_seconds"].samples
                 if s.name.endswith("_count") and s.labels["gen_ai_response_model"] == "test/fallback"]
    assert sum(s.value for s in durations) >= 3
    tokens = {s.labels["gen_ai_token_type"] for s in families["gen_ai_client_token_usage"].samples if "gen_ai_token_type" in s.labels}
    assert tokens == {"input", "output"}
    assert gateway.raw("GET", "/health")[2]["log"] == "ok"


def test_one_access_line_per_request_without_secrets(gateway: GatewayHarness, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="switchyard.access"):
        raw = oai(gateway).chat.completions.with_raw_response.create(model="test/fallback", messages=MESSAGES)  # type: ignore[arg-type]
        request_id = raw.headers["x-request-id"]
        record(gateway, request_id)
    lines = [r.getMessage() for r in caplog.records if r.name == "switchyard.access" and request_id in r.getMessage()]
    assert len(lines) == 1
    assert "key=team-e2e" in lines[0] and "status=ok" in lines[0] and "model=test/fallback" in lines[0]
    assert TEAM_KEY not in lines[0]


def test_an_auto_request_keeps_its_routing_receipt(gateway: GatewayHarness) -> None:
    raw = oai(gateway).chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": "Prove that there are infinitely many primes."}],
        extra_body={"model_routing_config": {"available_models": ["test/fallback", "test/claude"]}})  # type: ignore[arg-type]
    rec = record(gateway, raw.headers["x-request-id"])
    route = rec["route"]
    assert rec["model_requested"] == "auto" and rec["model"] in ("test/fallback", "test/claude")
    assert route["preference"] == "balanced" and 0.0 <= route["difficulty"] <= 1.0 and route["reason"]
    assert {c["model"] for c in route["candidates"]} == {"test/fallback", "test/claude"}
    assert set(route["candidates"][0]) == {"model", "provider", "predicted_quality", "estimated_cost_usd",
                                           "estimated_latency_ms", "score"}
    assert route["features"] and "Prove" not in str(route["features"])  # the prompt's features, never its text
    listed = gateway.raw("GET", "/v1/requests?limit=1", headers={"Authorization": f"Bearer {TEAM_KEY}"})[2]["data"][0]
    assert listed["id"] == rec["id"] and "candidates" not in listed["route"]


@pytest.mark.parametrize("stream", [False, True])
def test_bodies_are_kept_only_when_asked_redacted_and_capped(stream: bool) -> None:
    h = GatewayHarness(providers={"p-one": {"knobs": {**FAST, "chunks": 40}}},
                       models={"test/one": simple_model({"p-one": "one"})},
                       extra_config={"log": {"bodies": True, "body_max_bytes": 120}}).start()
    try:
        secret = "sk-live-abcdefghijklmnop0123"
        messages = [{"role": "user", "content": f"my key is {secret}, keep it safe"}]
        client = openai.OpenAI(base_url=h.url, api_key="unused", max_retries=0)
        if stream:
            with client.chat.completions.with_streaming_response.create(model="test/one", messages=messages,  # type: ignore[arg-type]
                                                                        stream=True) as resp:
                request_id = resp.headers["x-request-id"]
                answer = "".join(c.choices[0].delta.content or "" for c in resp.parse() if c.choices)
        else:
            raw = client.chat.completions.with_raw_response.create(model="test/one", messages=messages)  # type: ignore[arg-type]
            request_id, answer = raw.headers["x-request-id"], raw.parse().choices[0].message.content or ""
        bodies = h.raw("GET", f"/v1/requests/{request_id}")[2]["bodies"]
        assert secret not in bodies["request"] and "[redacted]" in bodies["request"]
        assert bodies["truncated"] and len(answer.encode()) > 120  # the answer is longer than the cap
        assert answer.startswith(bodies["response"].removesuffix("…[truncated]"))
        assert "bodies" not in h.raw("GET", "/v1/requests")[2]["data"][0]  # lists never carry bodies
    finally:
        h.stop()


def test_no_bodies_by_default(gateway: GatewayHarness) -> None:
    raw = oai(gateway).chat.completions.with_raw_response.create(model="test/claude", messages=MESSAGES)  # type: ignore[arg-type]
    assert record(gateway, raw.headers["x-request-id"])["bodies"] is None
