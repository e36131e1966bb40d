"""End to end across wire formats, with the real SDKs against a running gateway and mock upstreams:
the `openai` SDK calling Claude (Anthropic Messages) and Gemini models, the `anthropic` SDK calling
an OpenAI-format model through /v1/messages, and fallback from one format to another."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest

from tests.gateway_harness import GatewayHarness, simple_model

FAST = {"ttft_ms": 5.0, "tokens_per_s": 5000.0, "chunks": 6}
CLAUDE = "anthropic/claude-test"
GEMINI = "google/gemini-test"
GPT = "openai/gpt-test"
WEATHER: dict[str, Any] = {"type": "function", "function": {"name": "get_weather", "description": "Weather for a city", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"], "additionalProperties": False}}}
CLAUDE_WEATHER = {"name": "get_weather", "description": "Weather for a city", "input_schema": WEATHER["function"]["parameters"]}


@pytest.fixture(scope="module")
def gateway() -> Iterator[GatewayHarness]:
    harness = GatewayHarness(
        providers={
            "claude-direct": {"wire": "anthropic", "knobs": FAST},
            "gemini-direct": {"wire": "gemini", "knobs": FAST},
            "router": {"wire": "openai", "knobs": FAST},
        },
        models={
            CLAUDE: simple_model({"claude-direct": "claude-test-1", "router": "anthropic/claude-test"}),
            GEMINI: simple_model({"gemini-direct": "gemini-test-1"}),
            GPT: simple_model({"router": "gpt-test-1"}),
        },
    ).start()
    yield harness
    harness.stop()


@pytest.fixture(autouse=True)
def healthy_mocks(gateway: GatewayHarness) -> Iterator[None]:
    yield
    gateway.heal()


def oai(h: GatewayHarness) -> Any:  # Any: the SDKs' TypedDict params only add noise to dict literals
    return openai.OpenAI(base_url=h.url, api_key="k", max_retries=0, timeout=20)


def claude_sdk(h: GatewayHarness) -> Any:
    return anthropic.Anthropic(base_url=h.base, api_key="k", max_retries=0, timeout=20)


def fold_stream(stream: Any) -> tuple[dict[str, Any], str | None, Any]:
    """An openai SDK stream folded into an assistant message, its finish reason and its usage."""
    message: dict[str, Any] = {"role": "assistant", "content": ""}
    calls: dict[int, dict[str, Any]] = {}
    finish, usage = None, None
    for chunk in stream:
        usage = chunk.usage or usage
        for choice in chunk.choices:
            delta = choice.delta
            finish = choice.finish_reason or finish
            message["content"] += delta.content or ""
            extra = delta.model_extra or {}
            if extra.get("reasoning_content"):
                message["reasoning_content"] = message.get("reasoning_content", "") + extra["reasoning_content"]
            if extra.get("thinking_blocks"):
                message.setdefault("thinking_blocks", []).extend(extra["thinking_blocks"])
            for call in delta.tool_calls or []:
                slot = calls.setdefault(call.index, {"id": None, "type": "function", "function": {"name": "", "arguments": ""}})
                slot["id"] = call.id or slot["id"]
                if call.function:
                    slot["function"]["name"] += call.function.name or ""
                    slot["function"]["arguments"] += call.function.arguments or ""
                if call.model_extra and call.model_extra.get("extra_content"):
                    slot["extra_content"] = call.model_extra["extra_content"]
    if calls:
        message["tool_calls"] = [calls[i] for i in sorted(calls)]
    return message, finish, usage


# -- openai SDK -> Claude and Gemini -------------------------------------------------------------


@pytest.mark.parametrize("model", [f"{CLAUDE}:claude-direct", f"{GEMINI}:gemini-direct"], ids=["claude", "gemini"])
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_openai_sdk_tool_calls_through_other_formats(gateway: GatewayHarness, model: str, stream: bool) -> None:
    client = oai(gateway)
    messages: list[dict[str, Any]] = [{"role": "system", "content": "Use tools."}, {"role": "user", "content": "Weather in Oslo?"}]
    kwargs: dict[str, Any] = {"model": model, "tools": [WEATHER], "extra_body": {"reasoning_effort": "low"}}
    if stream:
        first, finish, usage = fold_stream(client.chat.completions.create(messages=messages, stream=True,
                                                                          stream_options={"include_usage": True}, **kwargs))
    else:
        completion = client.chat.completions.create(messages=messages, **kwargs)
        first, finish, usage = completion.choices[0].message.model_dump(exclude_none=True), completion.choices[0].finish_reason, completion.usage
        assert completion.model == model.split(":")[0]
    assert finish == "tool_calls" and usage.prompt_tokens > 0 and usage.completion_tokens > 0
    call = first["tool_calls"][0]
    assert call["function"]["name"] == "get_weather" and json.loads(call["function"]["arguments"]) == {"city": "sample city"}
    assert first.get("reasoning_content"), "thinking/thoughts surface as reasoning_content"
    # turn 2: the call (with its thinking signature) and its result go back; the mock checks both
    messages += [first, {"role": "tool", "tool_call_id": call["id"], "content": '{"temp_c": 4}'}]
    if stream:
        second, finish, _ = fold_stream(client.chat.completions.create(messages=messages, stream=True, **kwargs))
    else:
        done = client.chat.completions.create(messages=messages, **kwargs)
        second, finish = done.choices[0].message.model_dump(exclude_none=True), done.choices[0].finish_reason
    assert finish == "stop" and second["content"] and "tool_calls" not in second
    counters = gateway.counters(model.split(":")[1])
    assert counters.last_headers is not None and "sk-test" in str(counters.last_headers)


def test_openai_sdk_plain_stream_from_claude_has_usage_once(gateway: GatewayHarness) -> None:
    chunks = list(oai(gateway).chat.completions.create(model=f"{CLAUDE}:claude-direct", messages=[{"role": "user", "content": "hi"}],
                                                       stream=True, stream_options={"include_usage": True}))
    usages = [c.usage for c in chunks if c.usage]
    assert len(usages) == 1 and chunks[-1].usage is not None and chunks[-1].choices == []
    assert (usages[0].model_extra or {}).get("cost_usd") is not None
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.startswith("[claude-test-1]") and all(c.model == CLAUDE for c in chunks)


# -- anthropic SDK -> /v1/messages -> any provider ------------------------------------------------


@pytest.mark.parametrize("model", [GPT, f"{CLAUDE}:claude-direct", f"{GEMINI}:gemini-direct"], ids=["openai-format", "claude", "gemini"])
def test_anthropic_sdk_non_stream_with_tools(gateway: GatewayHarness, model: str) -> None:
    client = claude_sdk(gateway)
    messages: list[dict[str, Any]] = [{"role": "user", "content": "Weather in Oslo?"}]
    first = client.messages.create(model=model, max_tokens=256, system="Use tools.", messages=messages, tools=[CLAUDE_WEATHER])
    assert first.type == "message" and first.role == "assistant" and first.stop_reason == "tool_use"
    tool_use = next(b for b in first.content if b.type == "tool_use")
    assert tool_use.name == "get_weather" and tool_use.input == {"city": "sample city"}
    assert first.usage.input_tokens > 0 and first.usage.output_tokens > 0
    messages += [{"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
                 {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool_use.id, "content": "4C and clear"}]}]
    second = client.messages.create(model=model, max_tokens=256, messages=messages, tools=[CLAUDE_WEATHER])
    assert second.stop_reason == "end_turn" and second.content[-1].type == "text" and second.content[-1].text


@pytest.mark.parametrize("model", [GPT, f"{CLAUDE}:claude-direct"], ids=["openai-format", "claude"])
def test_anthropic_sdk_stream_with_tools(gateway: GatewayHarness, model: str) -> None:
    client = claude_sdk(gateway)
    messages: list[dict[str, Any]] = [{"role": "user", "content": "Weather in Oslo?"}]
    with client.messages.stream(model=model, max_tokens=256, messages=messages, tools=[CLAUDE_WEATHER]) as stream:
        kinds = [event.type for event in stream]
        first = stream.get_final_message()
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop" and "content_block_start" in kinds
    assert first.stop_reason == "tool_use" and first.usage.output_tokens > 0
    tool_use = next(b for b in first.content if b.type == "tool_use")
    assert tool_use.input == {"city": "sample city"}
    messages += [{"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
                 {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool_use.id, "content": "4C"}]}]
    with client.messages.stream(model=model, max_tokens=256, messages=messages, tools=[CLAUDE_WEATHER]) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text and final.stop_reason == "end_turn"


def test_anthropic_sdk_raw_event_sequence(gateway: GatewayHarness) -> None:
    events = list(claude_sdk(gateway).messages.create(model=GPT, max_tokens=64, stream=True, messages=[{"role": "user", "content": "hi"}]))
    kinds = [e.type for e in events]
    assert kinds[0] == "message_start" and kinds[1:3] == ["content_block_start", "content_block_delta"]
    assert kinds[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert events[-2].usage.output_tokens > 0 and events[-2].delta.stop_reason == "end_turn"  # type: ignore[union-attr]


def test_anthropic_sdk_thinking_signature_survives_both_translations(gateway: GatewayHarness) -> None:
    """Claude's signed thinking goes Anthropic -> internal -> Anthropic out, and back in on the next
    turn; the mock rejects any thinking block whose signature it did not issue for that text."""
    client = claude_sdk(gateway)
    messages: list[dict[str, Any]] = [{"role": "user", "content": "Weather in Oslo?"}]
    kwargs: dict[str, Any] = {"model": f"{CLAUDE}:claude-direct", "max_tokens": 4096, "tools": [CLAUDE_WEATHER],
                              "thinking": {"type": "enabled", "budget_tokens": 2048}}
    with client.messages.stream(messages=messages, **kwargs) as stream:
        first = stream.get_final_message()
    thinking = first.content[0]
    assert thinking.type == "thinking" and thinking.signature.startswith("sig-") and thinking.thinking
    messages += [{"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
                 {"role": "user", "content": [{"type": "tool_result", "tool_use_id": first.content[-1].id, "content": "4C"}]}]  # type: ignore[union-attr]
    second = client.messages.create(messages=messages, **kwargs)
    assert second.stop_reason == "end_turn"


def test_anthropic_sdk_errors_in_anthropic_shape(gateway: GatewayHarness) -> None:
    client = claude_sdk(gateway)
    with pytest.raises(anthropic.NotFoundError) as info:
        client.messages.create(model="no/such-model", max_tokens=10, messages=[{"role": "user", "content": "x"}])
    assert info.value.body["type"] == "error" and info.value.body["error"]["type"] == "not_found_error"  # type: ignore[index]
    status, _, body = gateway.raw("POST", "/v1/messages", {"model": GPT, "messages": [{"role": "user", "content": "x"}]})
    assert status == 400 and body["error"]["type"] == "invalid_request_error" and "max_tokens" in body["error"]["message"]


# -- fallback across formats -------------------------------------------------------------------


ORDER = {"provider": {"routing": {"type": "order", "providers": ["claude-direct", "router"]}}}


@pytest.mark.parametrize("failure", [{"status": 529}, {"stream_error_after_chunks": 0}], ids=["overloaded-529", "overloaded-event"])
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_claude_down_is_answered_by_another_format_invisibly(gateway: GatewayHarness, failure: dict[str, Any], stream: bool) -> None:
    if "stream_error_after_chunks" in failure and not stream:
        pytest.skip("an in-stream error event exists only for streams")
    gateway.set_knobs("claude-direct", **failure)
    before = gateway.counters("claude-direct").requests
    client = oai(gateway)
    messages = [{"role": "user", "content": "Weather in Oslo?"}]
    if stream:
        raw = client.chat.completions.with_raw_response.create(model=CLAUDE, messages=messages, tools=[WEATHER], stream=True,
                                                               extra_body=ORDER)
        message, finish, _ = fold_stream(raw.parse())
    else:
        raw = client.chat.completions.with_raw_response.create(model=CLAUDE, messages=messages, tools=[WEATHER], extra_body=ORDER)
        completion = raw.parse()
        assert completion.model == CLAUDE
        message, finish = completion.choices[0].message.model_dump(exclude_none=True), completion.choices[0].finish_reason
    assert finish == "tool_calls" and json.loads(message["tool_calls"][0]["function"]["arguments"]) == {"city": "sample city"}
    assert raw.headers["x-switchyard-provider"] == "router" and raw.headers["x-switchyard-attempts"] == "2"
    assert gateway.counters("claude-direct").requests == before + 1


def test_anthropic_sdk_fallback_when_claude_provider_is_unreachable() -> None:
    harness = GatewayHarness(
        providers={"claude-direct": {"wire": "anthropic", "knobs": FAST}, "router": {"wire": "openai", "knobs": FAST}},
        models={CLAUDE: simple_model({"claude-direct": "claude-test-1", "router": "anthropic/claude-test"})},
    ).start()
    try:
        harness.kill("claude-direct")
        client = claude_sdk(harness)
        reply = client.messages.create(model=CLAUDE, max_tokens=64, messages=[{"role": "user", "content": "hi"}], extra_body=ORDER)
        assert reply.stop_reason == "end_turn" and reply.content[0].text.startswith("[anthropic/claude-test]")  # type: ignore[union-attr]
        with client.messages.stream(model=CLAUDE, max_tokens=64, messages=[{"role": "user", "content": "hi"}], extra_body=ORDER) as stream:
            assert "".join(stream.text_stream).startswith("[anthropic/claude-test]")
    finally:
        harness.stop()
