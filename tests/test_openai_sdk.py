"""The real `openai` SDK against a running gateway: sync and async, stream and non-stream."""

from __future__ import annotations

import asyncio

import openai
import pytest

from tests.gateway_harness import GatewayHarness

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello there gateway"}]


def client(h: GatewayHarness) -> openai.OpenAI:
    return openai.OpenAI(base_url=h.url, api_key="client-key", max_retries=0, timeout=20)


def test_sync_non_stream(three_providers: GatewayHarness) -> None:
    raw = client(three_providers).chat.completions.with_raw_response.create(model="test/alpha", messages=MESSAGES)
    completion = raw.parse()
    assert completion.model == "test/alpha"
    assert completion.choices[0].message.content.startswith("[alpha-")  # the mock names the upstream id
    assert completion.usage is not None and completion.usage.total_tokens > 0
    provider = raw.headers["x-switchyard-provider"]
    assert provider in {"p-one", "p-two", "p-three"}
    assert raw.headers["x-switchyard-attempts"] == "1"
    route = three_providers.gateway.catalog.models["test/alpha"].routes[provider]
    usage = completion.model_dump()["usage"]
    expected = route.cost_usd(usage["prompt_tokens"], usage["completion_tokens"])
    assert usage["cost_usd"] == pytest.approx(expected) and expected > 0


def test_sync_stream_with_usage(three_providers: GatewayHarness) -> None:
    stream = client(three_providers).chat.completions.create(
        model="test/alpha", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.startswith("[alpha-") and len(text.split()) >= 6
    assert all(c.model == "test/alpha" for c in chunks)
    last = chunks[-1]
    assert last.choices == [] and last.usage is not None
    assert last.model_dump()["usage"]["cost_usd"] > 0
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"


def test_stream_without_usage_has_no_usage_chunk(three_providers: GatewayHarness) -> None:
    chunks = list(client(three_providers).chat.completions.create(model="test/alpha", messages=MESSAGES, stream=True))
    assert chunks and all(c.usage is None for c in chunks)
    assert all(c.choices for c in chunks)


def test_stream_headers_and_framing(three_providers: GatewayHarness) -> None:
    raw = client(three_providers).chat.completions.with_raw_response.create(model="test/alpha", messages=MESSAGES, stream=True)
    assert raw.headers["content-type"].startswith("text/event-stream")
    assert raw.headers["cache-control"] == "no-cache"
    assert raw.headers["x-accel-buffering"] == "no"
    assert raw.headers["x-switchyard-provider"] in {"p-one", "p-two", "p-three"}
    list(raw.parse())


def test_async_stream_and_non_stream(three_providers: GatewayHarness) -> None:
    async def go() -> None:
        aclient = openai.AsyncOpenAI(base_url=three_providers.url, api_key="k", max_retries=0, timeout=20)
        done = await aclient.chat.completions.create(model="test/beta", messages=MESSAGES)
        assert done.model == "test/beta" and done.choices[0].message.content.startswith("[beta-one]")
        parts = []
        async for chunk in await aclient.chat.completions.create(model="test/beta", messages=MESSAGES, stream=True):
            parts.extend(c.delta.content or "" for c in chunk.choices)
        assert "".join(parts).startswith("[beta-one]")
        await aclient.close()

    asyncio.run(go())


def test_tools_pass_through_stream(three_providers: GatewayHarness) -> None:
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
    stream = client(three_providers).chat.completions.create(model="test/alpha", messages=MESSAGES, tools=tools, stream=True)
    args, names = "", []
    finish = None
    for chunk in stream:
        for choice in chunk.choices:
            for call in choice.delta.tool_calls or []:
                if call.function.name:
                    names.append(call.function.name)
                args += call.function.arguments or ""
            finish = choice.finish_reason or finish
    assert names == ["get_weather"] and '"city"' in args and finish == "tool_calls"
    body = three_providers.counters("p-one").last_body or three_providers.counters("p-two").last_body
    assert body is not None


def test_tools_and_images_forwarded_unchanged(three_providers: GatewayHarness) -> None:
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}}}]
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"}}
    messages = [{"role": "user", "content": [{"type": "text", "text": "what is this"}, image]}]
    c = client(three_providers).chat.completions.create(
        model="test/alpha:p-two", messages=messages, tools=tools, tool_choice="auto",
        response_format={"type": "json_object"}, temperature=0.2,
    )
    assert c.choices[0].message.tool_calls[0].function.name == "lookup"
    seen = three_providers.counters("p-two").last_body
    assert seen["model"] == "alpha-two"
    assert seen["tools"] == tools and seen["tool_choice"] == "auto"
    assert seen["messages"] == messages and seen["response_format"] == {"type": "json_object"}
    assert seen["temperature"] == 0.2 and "provider" not in seen


def test_models_endpoints(three_providers: GatewayHarness) -> None:
    c = client(three_providers)
    ids = {m.id for m in c.models.list()}
    assert {"test/alpha", "test/beta"} <= ids
    status, _, detail = three_providers.raw("GET", "/v1/models/test/alpha")
    assert status == 200 and detail["id"] == "test/alpha"
    providers = {p["provider"]: p for p in detail["providers"]}
    assert set(providers) >= {"p-one", "p-two", "p-three"}
    assert providers["p-two"]["pricing"] == {"input_per_million": 1.0, "output_per_million": 2.0}
    assert {"first_token_ms", "tokens_per_s", "available"} <= set(providers["p-one"])
    status, _, err = three_providers.raw("GET", "/v1/models/test/alpah")
    assert status == 404 and "test/alpha" in err["error"]["message"]
    status, _, health = three_providers.raw("GET", "/health")
    assert status == 200 and health["status"] == "ok"


def test_client_authorization_never_forwarded(three_providers: GatewayHarness) -> None:
    client(three_providers).chat.completions.create(model="test/alpha:p-one", messages=MESSAGES)
    headers = {k.lower(): v for k, v in three_providers.counters("p-one").last_headers.items()}
    assert headers["authorization"] == "Bearer sk-test-p-one-secret-0123456789"
    assert "client-key" not in str(headers)
