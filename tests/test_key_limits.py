"""Key limits on a running gateway, through the real openai and anthropic SDKs: 429s with Retry-After
and each API's rate-limit headers, `insufficient_quota` over budget, 403 outside the allow-list, and
spend settled to the true cost."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest

from tests.gateway_harness import GatewayHarness, simple_model

ADMIN = "sk-admin-limits-test-0123456789"
AUTH = {"Authorization": f"Bearer {ADMIN}"}
MSG = [{"role": "user", "content": "hi"}]
# the mock answers 16 output tokens; at $312.50 per 1M output tokens (free input) that is $0.005
PRICE = {"p-one": (0.0, 312.5)}
EMBED = ("test/embed", "other/embed")  # at $100 per 1M input tokens, one token costs $0.0001


@pytest.fixture(scope="module")
def gw() -> Iterator[GatewayHarness]:
    h = GatewayHarness(
        providers={"p-one": {"knobs": {"ttft_ms": 1.0, "tokens_per_s": 20000.0}}},
        models={"test/alpha": simple_model({"p-one": "alpha-one"}, prices=PRICE),
                "other/beta": simple_model({"p-one": "beta-one"}, prices=PRICE)},
        extra_config={"server": {"admin_keys": [{"name": "ops", "key": ADMIN}]}, "state": {"window_s": 2.0},
                      "embedding_models": {slug: {"dimensions": 64, "max_input_tokens": 8191, "providers": {
                          "p-one": {"id": slug.split("/")[0] + "-embed", "input": 100.0}}} for slug in EMBED}},
    ).start()
    yield h
    h.stop()


def new_key(gw: GatewayHarness, **fields: Any) -> tuple[str, str]:
    made = gw.issue_key(AUTH, **{"name": "t", **fields})
    return made["id"], made["key"]


def test_rpm_over_openai_routes(gw: GatewayHarness) -> None:
    _, secret = new_key(gw, rpm=3)
    client = openai.OpenAI(base_url=gw.url, api_key=secret, max_retries=0)
    for i in range(3):
        raw = client.chat.completions.with_raw_response.create(model="test/alpha", messages=MSG, max_tokens=16)
        assert raw.headers["x-ratelimit-limit-requests"] == "3"
        assert raw.headers["x-ratelimit-remaining-requests"] == str(2 - i)
        assert raw.headers["x-ratelimit-reset-requests"].endswith("s")
    with pytest.raises(openai.RateLimitError) as err:
        client.chat.completions.create(model="test/alpha", messages=MSG, max_tokens=16)
    resp = err.value.response
    assert int(resp.headers["retry-after"]) >= 1 and resp.headers["x-ratelimit-remaining-requests"] == "0"
    assert err.value.code == "rate_limit_exceeded" and "3 requests" in err.value.message
    time.sleep(2.05)  # the (configured, 2 s) window slides past the first three
    assert client.chat.completions.create(model="test/alpha", messages=MSG, max_tokens=16).choices
    _, _, scrape = gw.raw("GET", "/metrics", headers=AUTH)
    assert 'switchyard_key_refusals_total{reason="rpm"}' in scrape  # counted, with no key in any label


def test_rpm_over_anthropic_messages(gw: GatewayHarness) -> None:
    _, secret = new_key(gw, rpm=1, tpm=10_000)
    client = anthropic.Anthropic(base_url=gw.base, api_key=secret, max_retries=0)
    raw = client.messages.with_raw_response.create(model="test/alpha", max_tokens=16, messages=MSG)  # type: ignore[arg-type]
    assert raw.headers["anthropic-ratelimit-requests-limit"] == "1"
    assert raw.headers["anthropic-ratelimit-requests-remaining"] == "0"
    assert raw.headers["anthropic-ratelimit-tokens-limit"] == "10000"
    assert raw.headers["anthropic-ratelimit-requests-reset"].endswith("Z")
    with pytest.raises(anthropic.RateLimitError) as err:
        client.messages.create(model="test/alpha", max_tokens=16, messages=MSG)  # type: ignore[arg-type]
    body = err.value.response.json()
    assert body["type"] == "error" and body["error"]["type"] == "rate_limit_error"
    assert "retry-after" in err.value.response.headers


def test_tpm_counts_tokens(gw: GatewayHarness) -> None:
    _, secret = new_key(gw, tpm=45)
    client = openai.OpenAI(base_url=gw.url, api_key=secret, max_retries=0)
    client.chat.completions.create(model="test/alpha", messages=MSG, max_tokens=16)  # 20 estimated (4 + 16), about as many true
    client.chat.completions.create(model="test/alpha", messages=MSG, max_tokens=16)
    with pytest.raises(openai.RateLimitError) as err:
        client.chat.completions.create(model="test/alpha", messages=MSG, max_tokens=16)
    assert "45 tokens" in err.value.message


def test_budget_stops_with_insufficient_quota_and_spend_is_settled(gw: GatewayHarness) -> None:
    key_id, secret = new_key(gw, budget_usd=0.02, budget_period="day")
    client = openai.OpenAI(base_url=gw.url, api_key=secret, max_retries=0)
    for _ in range(4):  # $0.005 each
        client.chat.completions.create(model="test/alpha", messages=MSG, max_tokens=16)
    with pytest.raises(openai.RateLimitError) as err:
        client.chat.completions.create(model="test/alpha", messages=MSG, max_tokens=16)
    assert err.value.code == "insufficient_quota"
    deadline = time.monotonic() + 2
    while True:  # settlement is durable, after the answer
        key = gw.raw("GET", f"/v1/keys/{key_id}", headers=AUTH)[2]
        if key["spend_usd"] == 0.02 or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert (key["spend_usd"], key["remaining_usd"]) == (0.02, 0.0)
    own = gw.raw("GET", "/v1/key", headers={"Authorization": f"Bearer {secret}"})[2]
    assert own["spend_usd"] == 0.02


def test_allow_list(gw: GatewayHarness) -> None:
    _, secret = new_key(gw, models=["test/*"])
    client = openai.OpenAI(base_url=gw.url, api_key=secret, max_retries=0)
    assert client.chat.completions.create(model="alpha", messages=MSG).choices  # short name of test/alpha
    assert client.chat.completions.create(model="test/alpha:p-one", messages=MSG).choices
    with pytest.raises(openai.PermissionDeniedError) as err:
        client.chat.completions.create(model="other/beta", messages=MSG)
    assert err.value.code == "model_not_allowed"
    with pytest.raises(anthropic.PermissionDeniedError):
        anthropic.Anthropic(base_url=gw.base, api_key=secret, max_retries=0).messages.create(
            model="other/beta", max_tokens=16, messages=MSG)  # type: ignore[arg-type]
    with pytest.raises(openai.BadRequestError) as bad:
        client.chat.completions.create(model="auto", messages=MSG, extra_body={
            "model_routing_config": {"available_models": ["other/beta", "other/beta:p-one"]}})
    assert bad.value.status_code == 400


def test_max_parallel(gw: GatewayHarness) -> None:
    _, secret = new_key(gw, max_parallel=2)
    gw.set_knobs("p-one", ttft_ms=300.0)
    try:
        async def burst() -> list[int]:
            async with httpx.AsyncClient(base_url=gw.url, timeout=30) as c:
                rs = await asyncio.gather(*(c.post("/chat/completions", json={"model": "test/alpha", "messages": MSG},
                                                   headers={"Authorization": f"Bearer {secret}"}) for _ in range(5)))
            return sorted(r.status_code for r in rs)

        assert asyncio.run(burst()) == [200, 200, 429, 429, 429]
    finally:
        gw.set_knobs("p-one", ttft_ms=1.0)
    # the slots were freed when the answers ended
    assert httpx.post(gw.url + "/chat/completions", json={"model": "test/alpha", "messages": MSG},
                      headers={"Authorization": f"Bearer {secret}"}).status_code == 200


def test_responses_api_is_under_the_same_limits(gw: GatewayHarness) -> None:
    """/v1/responses enters a key's limits like the chat routes: headers, budget, allow-list."""
    _, secret = new_key(gw, budget_usd=0.01, budget_period="day", rpm=100, models=["test/*"])
    client = openai.OpenAI(base_url=gw.url, api_key=secret, max_retries=0)
    first = client.responses.with_raw_response.create(model="test/alpha", input="hi", max_output_tokens=16)
    assert first.headers["x-ratelimit-limit-requests"]
    first.parse()
    client.responses.create(model="test/alpha", input="hi", max_output_tokens=16)  # $0.005 each: $0.01 in all
    with pytest.raises(openai.RateLimitError) as err:
        client.responses.create(model="test/alpha", input="hi", max_output_tokens=16)
    assert err.value.code == "insufficient_quota"
    with pytest.raises(openai.PermissionDeniedError):
        client.responses.create(model="other/beta", input="hi")


def test_embeddings_are_under_the_same_limits(gw: GatewayHarness) -> None:
    """/v1/embeddings enters a key's limits like the chat routes, through the openai SDK: the rate-limit
    headers, a 429 over rpm with Retry-After, `insufficient_quota` over budget, 403 outside the allow-list,
    each in the same shape as chat's."""
    _, secret = new_key(gw, rpm=2, models=["test/*"])
    client = openai.OpenAI(base_url=gw.url, api_key=secret, max_retries=0)
    raw = client.embeddings.with_raw_response.create(model="test/embed", input="hi")
    assert (raw.headers["x-ratelimit-limit-requests"], raw.headers["x-ratelimit-remaining-requests"]) == ("2", "1")
    assert raw.parse().data[0].embedding
    client.embeddings.create(model="test/embed", input="hi")
    with pytest.raises(openai.RateLimitError) as over_rpm:
        client.embeddings.create(model="test/embed", input="hi")
    with pytest.raises(openai.RateLimitError) as chat_over_rpm:
        client.chat.completions.create(model="test/alpha", messages=MSG, max_tokens=16)
    for err in (over_rpm.value, chat_over_rpm.value):
        assert err.code == "rate_limit_exceeded" and "2 requests" in err.message
        assert int(err.response.headers["retry-after"]) >= 1 and err.response.headers["x-ratelimit-remaining-requests"] == "0"

    _, secret = new_key(gw, budget_usd=0.00005, budget_period="day", models=["test/*"])
    client = openai.OpenAI(base_url=gw.url, api_key=secret, max_retries=0)
    client.embeddings.create(model="test/embed", input="a few tokens past the budget")  # admitted: nothing spent yet
    with pytest.raises(openai.RateLimitError) as over_budget:
        client.embeddings.create(model="test/embed", input="hi")
    with pytest.raises(openai.RateLimitError) as chat_over_budget:
        client.chat.completions.create(model="test/alpha", messages=MSG, max_tokens=16)
    assert over_budget.value.code == chat_over_budget.value.code == "insufficient_quota"
    with pytest.raises(openai.PermissionDeniedError) as outside:
        client.embeddings.create(model="other/embed", input="hi")
    with pytest.raises(openai.PermissionDeniedError) as chat_outside:
        client.chat.completions.create(model="other/beta", messages=MSG)
    assert outside.value.code == chat_outside.value.code == "model_not_allowed"
    assert "other/embed" in outside.value.message and outside.value.param == "model"
    with pytest.raises(openai.BadRequestError) as chat_model:  # a chat model here: the embeddings API's own 400
        client.embeddings.create(model="test/alpha", input="hi")
    assert chat_model.value.code == "model_not_supported"
