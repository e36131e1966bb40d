"""The exact-match cache, end to end: a hit is the miss that filled it, byte for byte; streams replay with
their chunking and usage in the client's API format (openai and anthropic SDKs); stream and non-stream
entries serve each other; tenants are isolated; refresh overwrites; TTLs expire; incomplete answers
are never stored; a hit costs $0 and records what it saved."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import aiohttp
import anthropic
import openai
import orjson
import pytest

from proxy.outcome import Outcome
from tests.conftest import FAST
from tests.gateway_harness import GatewayHarness, simple_model

MODEL = "test/alpha"
KEYS = ["sk-tenant-a-0000000000", "sk-tenant-b-0000000000"]


def start(outcomes: list[Outcome], cache: dict[str, Any], keys: bool = False) -> GatewayHarness:
    config: dict[str, Any] = {"cache": cache}
    if keys:
        config["server"] = {"api_keys": KEYS}
    return GatewayHarness(
        providers={"p-one": {"knobs": {**FAST, "chunks": 5}}},
        models={MODEL: simple_model({"p-one": "alpha-one"})},
        extra_config=config,
        on_finish=[outcomes.append],
    ).start()


@pytest.fixture
def cached() -> Iterator[tuple[GatewayHarness, list[Outcome]]]:
    outcomes: list[Outcome] = []
    h = start(outcomes, {"enabled": True, "ttl_s": 60})
    yield h, outcomes
    h.stop()


def post(h: GatewayHarness, body: dict[str, Any], headers: dict[str, str] | None = None,
         path: str = "/v1/chat/completions") -> tuple[int, dict[str, str], bytes]:
    """Raw bytes, exactly as the gateway sent them."""

    async def go() -> tuple[int, dict[str, str], bytes]:
        hdrs = {"Content-Type": "application/json", **(headers or {})}
        async with aiohttp.ClientSession() as s, s.post(h.base + path, data=orjson.dumps(body), headers=hdrs) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, await r.read()

    return h.call(go())  # type: ignore[no-any-return]


def chat(prompt: str = "ping", **extra: Any) -> dict[str, Any]:
    return {"model": MODEL, "messages": [{"role": "user", "content": prompt}], **extra}


def test_a_hit_is_the_miss_byte_for_byte_and_costs_nothing(cached: tuple[GatewayHarness, list[Outcome]]) -> None:
    h, outcomes = cached
    status, headers, miss = post(h, chat(temperature=0.2))
    assert status == 200 and headers["x-switchyard-cache"] == "miss"
    status, headers, hit = post(h, chat(temperature=0.2, user="someone", metadata={"team": "a"}))
    assert status == 200 and headers["x-switchyard-cache"] == "hit" and headers["x-switchyard-attempts"] == "0"
    assert hit == miss  # the upstream's random completion id included: this came from the cache
    assert h.counters("p-one").requests == 1
    first, second = outcomes[-2:]
    assert (first.cache, second.cache) == ("miss", "hit") and second.attempts == []
    assert second.usage is not None and second.usage["cost_usd"] == 0.0
    assert second.cost_saved_usd == first.cost_usd and (first.cost_usd or 0) > 0
    record = second.record()  # what the request log stores
    assert (record["cache"], record["cost_usd"], record["cost_saved_usd"]) == ("hit", 0.0, first.cost_usd)
    _, headers, _ = post(h, chat(temperature=0.3))  # a different answer-determining field: a new entry
    assert headers["x-switchyard-cache"] == "miss"


def test_a_stream_replays_with_its_chunking_and_usage(cached: tuple[GatewayHarness, list[Outcome]]) -> None:
    h, _ = cached
    body = chat("stream me", stream=True, stream_options={"include_usage": True})
    _, headers, miss = post(h, body)
    _, hit_headers, hit = post(h, body)
    assert (headers["x-switchyard-cache"], hit_headers["x-switchyard-cache"]) == ("miss", "hit")
    assert hit == miss and miss.count(b"data: ") >= 7  # same events, same boundaries, usage included
    client = openai.OpenAI(base_url=h.url, api_key="unused", max_retries=0)
    with client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "stream me"}], stream=True,
                                        stream_options={"include_usage": True}) as chunks:
        got = list(chunks)
    assert "".join(c.choices[0].delta.content or "" for c in got if c.choices).startswith("[alpha-one]")
    assert got[-1].usage is not None and got[-1].usage.completion_tokens > 0
    assert h.counters("p-one").requests == 1


def test_stream_and_non_stream_entries_serve_each_other(cached: tuple[GatewayHarness, list[Outcome]]) -> None:
    h, _ = cached
    client = openai.OpenAI(base_url=h.url, api_key="unused", max_retries=0)
    messages: Any = [{"role": "user", "content": "whole first"}]
    whole = client.chat.completions.create(model=MODEL, messages=messages)
    with client.chat.completions.create(model=MODEL, messages=messages, stream=True,
                                        stream_options={"include_usage": True}) as chunks:
        got = list(chunks)
    assert "".join(c.choices[0].delta.content or "" for c in got if c.choices) == whole.choices[0].message.content
    assert got[-1].usage is not None and got[-1].usage.total_tokens == whole.usage.total_tokens  # type: ignore[union-attr]
    messages = [{"role": "user", "content": "stream first"}]
    with client.chat.completions.create(model=MODEL, messages=messages, stream=True) as chunks:
        streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    whole = client.chat.completions.with_raw_response.create(model=MODEL, messages=messages)
    assert whole.headers["x-switchyard-cache"] == "hit"
    assert whole.parse().choices[0].message.content == streamed and whole.parse().choices[0].finish_reason == "stop"
    assert h.counters("p-one").requests == 2


def test_anthropic_stream_replay_parses_with_the_sdk(cached: tuple[GatewayHarness, list[Outcome]]) -> None:
    h, outcomes = cached
    client = anthropic.Anthropic(base_url=h.base, api_key="unused", max_retries=0, timeout=20)
    texts, usages = [], []
    for _ in range(2):
        with client.messages.stream(model=MODEL, max_tokens=100, messages=[{"role": "user", "content": "hello"}]) as s:
            texts.append("".join(s.text_stream))
            usages.append(s.get_final_message().usage.output_tokens)
    assert texts[0] == texts[1] and texts[0].startswith("[alpha-one]") and usages[0] == usages[1] > 0
    assert [o.cache for o in outcomes[-2:]] == ["miss", "hit"] and h.counters("p-one").requests == 1


def test_tenants_are_isolated() -> None:
    outcomes: list[Outcome] = []
    h = start(outcomes, {"enabled": True}, keys=True)
    try:
        a, b = ({"Authorization": f"Bearer {k}"} for k in KEYS)
        assert post(h, chat(), a)[1]["x-switchyard-cache"] == "miss"
        assert post(h, chat(), b)[1]["x-switchyard-cache"] == "miss"  # B cannot read A's entry
        assert post(h, chat(), a)[1]["x-switchyard-cache"] == "hit"
        assert post(h, chat(), {"x-api-key": KEYS[1]})[1]["x-switchyard-cache"] == "hit"  # B's own, by either header
    finally:
        h.stop()


def test_refresh_overwrites_skip_bypasses_and_ttl_expires(cached: tuple[GatewayHarness, list[Outcome]]) -> None:
    h, _ = cached
    _, _, first = post(h, chat())
    assert "x-switchyard-cache" not in post(h, chat(), {"x-switchyard-cache": "skip"})[1]
    _, headers, refreshed = post(h, chat(), {"x-switchyard-cache": "refresh"})
    assert headers["x-switchyard-cache"] == "miss" and refreshed != first  # a new upstream answer (new id)
    assert post(h, chat())[2] == refreshed
    body = chat("short lived", switchyard={"cache": {"ttl_s": 0.3}})
    post(h, body)
    assert post(h, body)[1]["x-switchyard-cache"] == "hit"
    time.sleep(0.4)
    assert post(h, body)[1]["x-switchyard-cache"] == "miss"
    status, _, error = post(h, chat(switchyard={"cache": {"ttl_s": -1}}))
    assert status == 400 and orjson.loads(error)["error"]["param"] == "switchyard.cache.ttl_s"
    status, _, error = post(h, chat(), {"x-switchyard-cache": "always"})
    assert status == 400 and orjson.loads(error)["error"]["param"] == "x-switchyard-cache"


def test_incomplete_answers_are_never_stored(cached: tuple[GatewayHarness, list[Outcome]]) -> None:
    h, _ = cached
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]
    for _ in range(2):  # tool call pending
        assert post(h, chat("use a tool", tools=tools))[1]["x-switchyard-cache"] == "miss"
    h.set_knobs("p-one", stream_error_after_chunks=2)
    for _ in range(2):  # failed mid-stream
        assert post(h, chat("breaks", stream=True))[1]["x-switchyard-cache"] == "miss"
    h.set_knobs("p-one", stream_error_after_chunks=None)
    assert post(h, chat("breaks", stream=True))[1]["x-switchyard-cache"] == "miss"
    assert post(h, chat("breaks", stream=True))[1]["x-switchyard-cache"] == "hit"


def test_config_off_means_only_asking_requests_use_it() -> None:
    outcomes: list[Outcome] = []
    h = start(outcomes, {"enabled": False})
    try:
        assert "x-switchyard-cache" not in post(h, chat())[1]
        assert post(h, chat(), {"x-switchyard-cache": "use"})[1]["x-switchyard-cache"] == "miss"
        assert post(h, chat(switchyard={"cache": {"ttl_s": 60}}))[1]["x-switchyard-cache"] == "hit"
    finally:
        h.stop()


def test_the_receipt_and_metrics_show_the_hit(cached: tuple[GatewayHarness, list[Outcome]]) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    h, _ = cached
    post(h, chat("receipt"))
    _, headers, _ = post(h, chat("receipt"))
    deadline = time.monotonic() + 5
    while (got := h.raw("GET", f"/v1/requests/{headers['x-request-id']}"))[0] != 200 and time.monotonic() < deadline:
        time.sleep(0.05)
    receipt = got[2]
    assert receipt["cache"] == "hit" and receipt["attempts"] == [] and receipt["usage"]["cost_usd"] == 0.0
    assert receipt["cost_saved_usd"] > 0
    usage = h.raw("GET", "/v1/usage?group_by=model")[2]["data"]
    assert usage[0]["cost_saved_usd"] == pytest.approx(receipt["cost_saved_usd"])
    assert usage[0]["cost_usd"] == pytest.approx(receipt["cost_saved_usd"])  # paid once, by the miss

    def lookups() -> dict[str, float]:
        families = {f.name: f for f in text_string_to_metric_families(h.raw("GET", "/metrics")[2])}
        return {s.labels["result"]: s.value for s in families["switchyard_cache_lookups"].samples
                if s.name.endswith("_total")}

    assert wait_for_value(lambda: lookups() == {"miss": 1.0, "hit": 1.0})


def wait_for_value(condition: Any, timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_responses_hits_replay_through_the_responses_front_end(cached: tuple[GatewayHarness, list[Outcome]]) -> None:
    """Filled through /v1/responses or chat, a hit replays as Responses JSON and as a Responses stream the SDK parses."""
    h, _ = cached
    sdk = openai.OpenAI(base_url=h.url, api_key="x")
    miss = sdk.responses.with_raw_response.create(model=MODEL, input="cached via responses")
    hit = sdk.responses.with_raw_response.create(model=MODEL, input="cached via responses")
    assert (miss.headers["x-switchyard-cache"], hit.headers["x-switchyard-cache"]) == ("miss", "hit")
    assert hit.parse().output_text == miss.parse().output_text and miss.parse().output_text
    assert h.counters("p-one").requests == 1
    with sdk.responses.with_streaming_response.create(model=MODEL, input="cached via responses", stream=True) as raw:
        assert raw.headers["x-switchyard-cache"] == "hit"
        events = list(raw.parse())
    assert events[-1].type == "response.completed" and events[-1].response.output_text == miss.parse().output_text
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == miss.parse().output_text
    # a chat answer serves a Responses request with the same conversation: the key is the ChatCall's
    _, headers, body = post(h, chat("filled through chat"))
    via_chat = orjson.loads(body)["choices"][0]["message"]["content"]
    crossed = sdk.responses.with_raw_response.create(model=MODEL, input=[{"role": "user", "content": "filled through chat"}])
    assert crossed.headers["x-switchyard-cache"] == "hit" and crossed.parse().output_text == via_chat
    assert h.counters("p-one").requests == 2


def test_previous_response_id_is_keyed_on_the_resolved_conversation(cached: tuple[GatewayHarness, list[Outcome]]) -> None:
    h, _ = cached
    sdk = openai.OpenAI(base_url=h.url, api_key="x")
    first = sdk.responses.create(model=MODEL, input="turn one")
    other = sdk.responses.create(model=MODEL, input="another turn one")
    follow = sdk.responses.with_raw_response.create(model=MODEL, input="turn two", previous_response_id=first.id)
    assert follow.headers["x-switchyard-cache"] == "miss"
    # the same follow-up on another conversation is a different request: not a hit on the first's answer
    elsewhere = sdk.responses.with_raw_response.create(model=MODEL, input="turn two", previous_response_id=other.id)
    assert elsewhere.headers["x-switchyard-cache"] == "miss"
    again = sdk.responses.with_raw_response.create(model=MODEL, input="turn two", previous_response_id=first.id)
    assert again.headers["x-switchyard-cache"] == "hit" and again.parse().output_text == follow.parse().output_text
