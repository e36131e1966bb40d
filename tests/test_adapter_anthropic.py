"""The Anthropic adapter, both directions: OpenAI request -> Messages API body, and Anthropic
responses, streams and errors -> OpenAI's shapes. Pure: no sockets."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.api.openai_chat import error_body
from proxy.providers.anthropic import AnthropicAdapter
from proxy.providers.base import AdapterTarget, UpstreamError
from proxy.streaming import SSEEvent, SSEParser

ADAPTER = AnthropicAdapter()
TARGET = AdapterTarget(base_url="https://api.anthropic.test", upstream_model="claude-test", api_key="sk-ant-secret", default_max_tokens=1234)
WEATHER = {"type": "function", "function": {"name": "get_weather", "description": "Weather by city",
                                            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
PNG = "iVBORw0KGgo="


def wire(body: dict[str, Any], *, stream: bool = False) -> dict[str, Any]:
    return orjson.loads(ADAPTER.build_request({"model": "anthropic/claude", **body}, TARGET, stream=stream).body)  # type: ignore[no-any-return]


# -- request: OpenAI -> Anthropic ---------------------------------------------------------------

REQUEST_CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("plain text", {"messages": [{"role": "user", "content": "Hi"}]},
     {"model": "claude-test", "max_tokens": 1234, "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}]}),
    ("system prompt string", {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]},
     {"system": "Be brief."}),
    ("system prompt parts and developer", {"messages": [
        {"role": "system", "content": [{"type": "text", "text": "A"}, {"type": "text", "text": "B"}]},
        {"role": "developer", "content": "C"}, {"role": "user", "content": "Hi"}]},
     {"system": [{"type": "text", "text": "A"}, {"type": "text", "text": "B"}, {"type": "text", "text": "C"}]}),
    ("multi-turn", {"messages": [{"role": "user", "content": "1"}, {"role": "assistant", "content": "2"}, {"role": "user", "content": "3"}]},
     {"messages": [{"role": "user", "content": [{"type": "text", "text": "1"}]},
                   {"role": "assistant", "content": [{"type": "text", "text": "2"}]},
                   {"role": "user", "content": [{"type": "text", "text": "3"}]}]}),
    ("image base64 and url", {"messages": [{"role": "user", "content": [
        {"type": "text", "text": "What?"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg", "detail": "high"}}]}]},
     {"messages": [{"role": "user", "content": [
         {"type": "text", "text": "What?"},
         {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
         {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}}]}]}),
    ("tools and tool_choice auto", {"messages": [{"role": "user", "content": "Weather?"}], "tools": [WEATHER], "tool_choice": "auto"},
     {"tools": [{"name": "get_weather", "description": "Weather by city", "input_schema": WEATHER["function"]["parameters"]}],
      "tool_choice": {"type": "auto"}}),
    ("tool_choice required", {"messages": [{"role": "user", "content": "x"}], "tools": [WEATHER], "tool_choice": "required"},
     {"tool_choice": {"type": "any"}}),
    ("tool_choice none", {"messages": [{"role": "user", "content": "x"}], "tools": [WEATHER], "tool_choice": "none"},
     {"tool_choice": {"type": "none"}}),
    ("tool_choice named, no parallel", {"messages": [{"role": "user", "content": "x"}], "tools": [WEATHER], "parallel_tool_calls": False,
                                        "tool_choice": {"type": "function", "function": {"name": "get_weather"}}},
     {"tool_choice": {"type": "tool", "name": "get_weather", "disable_parallel_tool_use": True}}),
    ("tool call and its results, merged into one user turn", {"messages": [
        {"role": "user", "content": "Weather in Oslo and Rome?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "toolu_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'}},
            {"id": "toolu_2", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Rome"}'}}]},
        {"role": "tool", "tool_call_id": "toolu_1", "content": "-3C"},
        {"role": "tool", "tool_call_id": "toolu_2", "content": [{"type": "text", "text": "18C"}]},
        {"role": "user", "content": "Thanks"}], "tools": [WEATHER]},
     {"messages": [
         {"role": "user", "content": [{"type": "text", "text": "Weather in Oslo and Rome?"}]},
         {"role": "assistant", "content": [
             {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Oslo"}},
             {"type": "tool_use", "id": "toolu_2", "name": "get_weather", "input": {"city": "Rome"}}]},
         {"role": "user", "content": [
             {"type": "tool_result", "tool_use_id": "toolu_1", "content": "-3C"},
             {"type": "tool_result", "tool_use_id": "toolu_2", "content": [{"type": "text", "text": "18C"}]},
             {"type": "text", "text": "Thanks"}]}]}),
    ("thinking blocks passed back verbatim", {"messages": [
        {"role": "user", "content": "Q"},
        {"role": "assistant", "content": "A", "reasoning_content": "hmm", "thinking_blocks": [
            {"type": "thinking", "thinking": "hmm", "signature": "sig-abc"}, {"type": "redacted_thinking", "data": "opaque"}]},
        {"role": "user", "content": "Q2"}]},
     {"messages": [
         {"role": "user", "content": [{"type": "text", "text": "Q"}]},
         {"role": "assistant", "content": [{"type": "thinking", "thinking": "hmm", "signature": "sig-abc"},
                                           {"type": "redacted_thinking", "data": "opaque"}, {"type": "text", "text": "A"}]},
         {"role": "user", "content": [{"type": "text", "text": "Q2"}]}]}),
    ("reasoning_content with reasoning_signature", {"messages": [
        {"role": "user", "content": "Q"}, {"role": "assistant", "content": "A", "reasoning_content": "hmm", "reasoning_signature": "sig-1"},
        {"role": "user", "content": "Q2"}]},
     {"messages": [{"role": "user", "content": [{"type": "text", "text": "Q"}]},
                   {"role": "assistant", "content": [{"type": "thinking", "thinking": "hmm", "signature": "sig-1"}, {"type": "text", "text": "A"}]},
                   {"role": "user", "content": [{"type": "text", "text": "Q2"}]}]}),
    ("unsigned reasoning is dropped", {"messages": [
        {"role": "user", "content": "Q"}, {"role": "assistant", "content": "A", "reasoning_content": "hmm"}, {"role": "user", "content": "Q2"}]},
     {"messages": [{"role": "user", "content": [{"type": "text", "text": "Q"}]},
                   {"role": "assistant", "content": [{"type": "text", "text": "A"}]},
                   {"role": "user", "content": [{"type": "text", "text": "Q2"}]}]}),
    ("max_tokens, stop, temperature clamp, user", {"messages": [{"role": "user", "content": "x"}], "max_tokens": 50, "stop": "END",
                                                  "temperature": 1.7, "top_p": 0.9, "user": "u-1"},
     {"max_tokens": 50, "stop_sequences": ["END"], "temperature": 1.0, "top_p": 0.9, "metadata": {"user_id": "u-1"}}),
    ("max_completion_tokens wins", {"messages": [{"role": "user", "content": "x"}], "max_tokens": 50, "max_completion_tokens": 70},
     {"max_tokens": 70}),
    ("reasoning_effort enables thinking", {"messages": [{"role": "user", "content": "x"}], "reasoning_effort": "medium", "max_tokens": 100,
                                           "temperature": 0.2},
     {"thinking": {"type": "enabled", "budget_tokens": 8192}, "max_tokens": 8192 + 1024}),
    ("gateway fields never sent", {"messages": [{"role": "user", "content": "x"}], "provider": {"routing": {"type": "order"}}},
     {"model": "claude-test"}),
]


@pytest.mark.parametrize(("body", "expected"), [c[1:] for c in REQUEST_CASES], ids=[c[0] for c in REQUEST_CASES])
def test_request_translation(body: dict[str, Any], expected: dict[str, Any]) -> None:
    out = wire(body)
    for key, value in expected.items():
        assert out[key] == value, key
    assert set(out) <= {"model", "max_tokens", "messages", "system", "tools", "tool_choice", "stop_sequences",
                        "temperature", "top_p", "top_k", "metadata", "thinking", "stream"}
    if "thinking" in out:
        assert "temperature" not in out and "top_p" not in out


def test_request_url_headers_and_stream_flag() -> None:
    req = ADAPTER.build_request({"model": "m", "messages": [{"role": "user", "content": "x"}]}, TARGET, stream=True)
    assert req.url == "https://api.anthropic.test/v1/messages"
    assert req.headers["x-api-key"] == "sk-ant-secret"
    assert req.headers["anthropic-version"] == "2023-06-01"
    assert req.headers["content-type"] == "application/json"
    assert "Authorization" not in req.headers
    assert orjson.loads(req.body)["stream"] is True
    assert "stream" not in wire({"messages": [{"role": "user", "content": "x"}], "stream": True})


@pytest.mark.parametrize("body", [
    {"messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}]},
    {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "file:///etc/passwd"}}]}]},
    {"messages": [{"role": "assistant", "tool_calls": [{"id": "t", "function": {"name": "f", "arguments": "{not json"}}]}]},
])
def test_request_errors_are_the_clients(body: dict[str, Any]) -> None:
    with pytest.raises(UpstreamError) as info:
        wire(body)
    assert info.value.status == 400 and not info.value.retriable and info.value.param


# -- response: Anthropic -> OpenAI --------------------------------------------------------------


def message(content: list[dict[str, Any]], stop: str = "end_turn", **usage: int) -> bytes:
    return orjson.dumps({"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-test", "content": content,
                         "stop_reason": stop, "stop_sequence": None, "usage": {"input_tokens": 10, "output_tokens": 5, **usage}})


RESPONSE_CASES: list[tuple[str, bytes, dict[str, Any], str]] = [
    ("plain text", message([{"type": "text", "text": "Hello"}, {"type": "text", "text": " there"}]),
     {"role": "assistant", "content": "Hello there"}, "stop"),
    ("tool call", message([{"type": "text", "text": "Let me check."},
                           {"type": "tool_use", "id": "toolu_9", "name": "get_weather", "input": {"city": "Oslo"}}], "tool_use"),
     {"role": "assistant", "content": "Let me check.", "tool_calls": [
         {"id": "toolu_9", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'}}]}, "tool_calls"),
    ("tool call only", message([{"type": "tool_use", "id": "toolu_9", "name": "f", "input": {}}], "tool_use"),
     {"role": "assistant", "content": None, "tool_calls": [{"id": "toolu_9", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
     "tool_calls"),
    ("thinking", message([{"type": "thinking", "thinking": "Let me see", "signature": "sig-xyz"}, {"type": "redacted_thinking", "data": "opaque"},
                          {"type": "text", "text": "42"}]),
     {"role": "assistant", "content": "42", "reasoning_content": "Let me see", "thinking_blocks": [
         {"type": "thinking", "thinking": "Let me see", "signature": "sig-xyz"}, {"type": "redacted_thinking", "data": "opaque"}]}, "stop"),
    ("stop_sequence", message([{"type": "text", "text": "a"}], "stop_sequence"), {"role": "assistant", "content": "a"}, "stop"),
    ("max_tokens", message([{"type": "text", "text": "a"}], "max_tokens"), {"role": "assistant", "content": "a"}, "length"),
    ("refusal", message([], "refusal"), {"role": "assistant", "content": ""}, "content_filter"),
]


@pytest.mark.parametrize(("payload", "expected_message", "finish"), [c[1:] for c in RESPONSE_CASES], ids=[c[0] for c in RESPONSE_CASES])
def test_response_translation(payload: bytes, expected_message: dict[str, Any], finish: str) -> None:
    out = ADAPTER.parse_response(payload)
    assert out["object"] == "chat.completion" and out["id"] == "msg_1"
    assert out["choices"][0]["message"] == expected_message
    assert out["choices"][0]["finish_reason"] == finish


def test_response_usage_counts_cache_tokens_inside_prompt() -> None:
    usage = ADAPTER.parse_response(message([{"type": "text", "text": "a"}], cache_read_input_tokens=100, cache_creation_input_tokens=20))["usage"]
    assert usage == {"prompt_tokens": 130, "completion_tokens": 5, "total_tokens": 135, "prompt_tokens_details": {"cached_tokens": 100},
                     "cache_read_input_tokens": 100, "cache_creation_input_tokens": 20}


def test_response_that_is_not_a_message() -> None:
    with pytest.raises(UpstreamError) as info:
        ADAPTER.parse_response(b"<html>")
    assert info.value.status == 502 and info.value.retriable


# -- errors ------------------------------------------------------------------------------------

ERROR_CASES: list[tuple[int, str, int, str, str, bool]] = [
    (400, "invalid_request_error", 400, "invalid_request_error", "invalid_request_error", False),
    (401, "authentication_error", 401, "authentication_error", "invalid_api_key", False),
    (403, "permission_error", 403, "permission_error", "permission_denied", False),
    (404, "not_found_error", 404, "invalid_request_error", "model_not_found", False),
    (413, "request_too_large", 413, "invalid_request_error", "request_too_large", False),
    (429, "rate_limit_error", 429, "rate_limit_error", "rate_limit_exceeded", True),
    (500, "api_error", 500, "server_error", "api_error", True),
    (529, "overloaded_error", 503, "server_error", "overloaded", True),
]


@pytest.mark.parametrize(("status", "etype", "client_status", "openai_type", "code", "retriable"), ERROR_CASES, ids=[c[1] for c in ERROR_CASES])
def test_error_mapping(status: int, etype: str, client_status: int, openai_type: str, code: str, retriable: bool) -> None:
    body = orjson.dumps({"type": "error", "error": {"type": etype, "message": f"{etype} happened"}, "request_id": "req_1"})
    err = ADAPTER.parse_error(status, body, {"retry-after": "7"})
    assert (err.status, err.type, err.code, err.retriable) == (client_status, openai_type, code, retriable)
    assert error_body(err)["error"]["message"] == f"{etype} happened"
    assert err.retry_after_s == 7.0


def test_error_without_a_body() -> None:
    err = ADAPTER.parse_error(502, b"", {})
    assert err.status == 502 and err.retriable and "502" in err.message


# -- streams ------------------------------------------------------------------------------------


def sse(*events: dict[str, Any]) -> bytes:
    return b"".join(b"event: " + e["type"].encode() + b"\ndata: " + orjson.dumps(e) + b"\n\n" for e in events)


def start(input_tokens: int = 10, **usage: int) -> dict[str, Any]:
    return {"type": "message_start", "message": {"id": "msg_s", "type": "message", "role": "assistant", "model": "claude-test", "content": [],
                                                 "stop_reason": None, "stop_sequence": None,
                                                 "usage": {"input_tokens": input_tokens, "output_tokens": 1, **usage}}}


def block_start(index: int, block: dict[str, Any]) -> dict[str, Any]:
    return {"type": "content_block_start", "index": index, "content_block": block}


def delta(index: int, d: dict[str, Any]) -> dict[str, Any]:
    return {"type": "content_block_delta", "index": index, "delta": d}


def stop(index: int) -> dict[str, Any]:
    return {"type": "content_block_stop", "index": index}


def end(reason: str = "end_turn", output_tokens: int = 7) -> list[dict[str, Any]]:
    return [{"type": "message_delta", "delta": {"stop_reason": reason, "stop_sequence": None}, "usage": {"output_tokens": output_tokens}},
            {"type": "message_stop"}]


def translate(raw: bytes, cuts: list[int] | None = None) -> list[dict[str, Any]]:
    """Raw upstream bytes, split at `cuts`, through the SSE parser and the translator."""
    parser, translator = SSEParser(), ADAPTER.stream_translator()
    bounds = [0, *sorted(set(cuts or [])), len(raw)]
    out: list[dict[str, Any]] = []
    for a, b in zip(bounds, bounds[1:], strict=False):
        out += [c for ev in parser.feed(raw[a:b]) if isinstance(ev, SSEEvent) for c in translator.feed(ev)]
    out += [c for ev in parser.close() if isinstance(ev, SSEEvent) for c in translator.feed(ev)]
    out += translator.finish()
    assert translator.done
    for chunk in out:
        chunk.pop("created")
    return out


def deltas(chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [c["choices"][0]["delta"] for c in chunks if c["choices"]]


TEXT_STREAM = sse(start(), {"type": "ping"}, block_start(0, {"type": "text", "text": ""}), delta(0, {"type": "text_delta", "text": "Hel"}),
                  delta(0, {"type": "text_delta", "text": "lo"}), stop(0), *end())
TOOL_ARGS = '{"city": "Oslo", "units": "metric"}'
TOOL_STREAM = sse(
    start(), block_start(0, {"type": "text", "text": ""}), delta(0, {"type": "text_delta", "text": "Checking."}), stop(0),
    block_start(1, {"type": "tool_use", "id": "toolu_a", "name": "get_weather", "input": {}}),
    delta(1, {"type": "input_json_delta", "partial_json": ""}),
    *[delta(1, {"type": "input_json_delta", "partial_json": TOOL_ARGS[i:i + 3]}) for i in range(0, len(TOOL_ARGS), 3)],
    stop(1),
    block_start(2, {"type": "tool_use", "id": "toolu_b", "name": "get_time", "input": {}}),
    delta(2, {"type": "input_json_delta", "partial_json": '{"tz":'}), delta(2, {"type": "input_json_delta", "partial_json": '"CET"}'}),
    stop(2), *end("tool_use"))
THINKING_STREAM = sse(
    start(), block_start(0, {"type": "thinking", "thinking": ""}), delta(0, {"type": "thinking_delta", "thinking": "Let me "}),
    delta(0, {"type": "thinking_delta", "thinking": "think."}), delta(0, {"type": "signature_delta", "signature": "sig-1234"}), stop(0),
    block_start(1, {"type": "redacted_thinking", "data": "opaque"}), stop(1),
    block_start(2, {"type": "text", "text": ""}), delta(2, {"type": "text_delta", "text": "42"}), stop(2), *end())


def test_stream_plain_text() -> None:
    chunks = translate(TEXT_STREAM)
    assert deltas(chunks) == [{"role": "assistant", "content": ""}, {"content": "Hel"}, {"content": "lo"}, {}]
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 7
    assert all(c["id"] == "msg_s" and c["object"] == "chat.completion.chunk" and c["model"] == "claude-test" for c in chunks)


def test_stream_tool_calls_split_across_many_deltas() -> None:
    chunks = translate(TOOL_STREAM)
    calls = [d["tool_calls"][0] for d in deltas(chunks) if "tool_calls" in d]
    assert calls[0] == {"index": 0, "id": "toolu_a", "type": "function", "function": {"name": "get_weather", "arguments": ""}}
    assert "".join(c["function"].get("arguments", "") for c in calls if c["index"] == 0) == TOOL_ARGS
    assert all("id" not in c for c in calls[1:] if c["index"] == 0)
    second = [c for c in calls if c["index"] == 1]
    assert second[0]["id"] == "toolu_b" and "".join(c["function"]["arguments"] for c in second) == '{"tz":"CET"}'
    assert deltas(chunks)[1] == {"content": "Checking."}
    assert chunks[-2]["choices"][0]["finish_reason"] == "tool_calls"


def test_stream_thinking_and_signature() -> None:
    ds = deltas(translate(THINKING_STREAM))
    assert [d["reasoning_content"] for d in ds if "reasoning_content" in d] == ["Let me ", "think."]
    blocks = [b for d in ds for b in d.get("thinking_blocks", [])]
    assert blocks == [{"type": "thinking", "thinking": "Let me think.", "signature": "sig-1234"}, {"type": "redacted_thinking", "data": "opaque"}]
    # what the client accumulates goes back upstream unchanged on the next turn
    sent = wire({"messages": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "42", "thinking_blocks": blocks},
                              {"role": "user", "content": "Q2"}]})
    assert sent["messages"][1]["content"][:2] == blocks


@pytest.mark.parametrize(("reason", "finish"), [("end_turn", "stop"), ("stop_sequence", "stop"), ("max_tokens", "length"),
                                                ("tool_use", "tool_calls"), ("refusal", "content_filter"), ("pause_turn", "stop")])
def test_stream_stop_reasons(reason: str, finish: str) -> None:
    raw = sse(start(), block_start(0, {"type": "text", "text": ""}), delta(0, {"type": "text_delta", "text": "x"}), stop(0), *end(reason))
    assert translate(raw)[-2]["choices"][0]["finish_reason"] == finish


def test_stream_usage_with_cache_tokens() -> None:
    raw = sse(start(input_tokens=4, cache_read_input_tokens=300, cache_creation_input_tokens=50), *end(output_tokens=12))
    usage = translate(raw)[-1]["usage"]
    assert usage == {"prompt_tokens": 354, "completion_tokens": 12, "total_tokens": 366, "prompt_tokens_details": {"cached_tokens": 300},
                     "cache_read_input_tokens": 300, "cache_creation_input_tokens": 50}


def test_stream_overloaded_error_event_is_retriable() -> None:
    raw = sse(start(), block_start(0, {"type": "text", "text": ""}), delta(0, {"type": "text_delta", "text": "x"}),
              {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    with pytest.raises(UpstreamError) as info:
        translate(raw)
    assert info.value.retriable and info.value.status == 503 and info.value.code == "overloaded"
    assert info.value.message == "Overloaded"


def test_stream_cut_short_raises() -> None:
    raw = sse(start(), block_start(0, {"type": "text", "text": ""}), delta(0, {"type": "text_delta", "text": "x"}))
    with pytest.raises(UpstreamError) as info:
        translate(raw)
    assert info.value.code == "stream_truncated" and info.value.retriable


def test_stream_missing_message_stop_still_ends_with_usage() -> None:
    raw = TEXT_STREAM[: TEXT_STREAM.rindex(b"event: message_stop")]
    chunks = translate(raw)
    assert chunks[-1]["usage"]["completion_tokens"] == 7


@settings(max_examples=60, deadline=None)
@given(data=st.data(), raw=st.sampled_from([TEXT_STREAM, TOOL_STREAM, THINKING_STREAM]))
def test_any_chunk_boundaries_give_the_same_chunks(data: st.DataObject, raw: bytes) -> None:
    cuts = data.draw(st.lists(st.integers(min_value=1, max_value=len(raw) - 1), max_size=40))
    assert translate(raw, cuts) == translate(raw)


# -- inbound: the Anthropic Messages API in front of the gateway ---------------------------------

INBOUND_CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("system and plain text", {"system": "Be brief.", "messages": [{"role": "user", "content": "Hi"}]},
     {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]}),
    ("image blocks", {"messages": [{"role": "user", "content": [
        {"type": "text", "text": "What?"}, {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/c.jpg"}}]}]},
     {"messages": [{"role": "user", "content": [{"type": "text", "text": "What?"},
                                                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
                                                {"type": "image_url", "image_url": {"url": "https://example.com/c.jpg"}}]}]}),
    ("tool use and results become tool messages first", {"messages": [
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": [{"type": "thinking", "thinking": "t", "signature": "s"}, {"type": "text", "text": "Checking."},
                                          {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Oslo"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "4C"}]},
                                     {"type": "text", "text": "And tomorrow?"}]}],
        "tools": [{"name": "get_weather", "input_schema": {"type": "object"}}], "tool_choice": {"type": "any", "disable_parallel_tool_use": True}},
     {"messages": [
         {"role": "user", "content": "Weather?"},
         {"role": "assistant", "content": "Checking.", "reasoning_content": "t", "thinking_blocks": [{"type": "thinking", "thinking": "t", "signature": "s"}],
          "tool_calls": [{"id": "toolu_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'}}]},
         {"role": "tool", "tool_call_id": "toolu_1", "content": "4C"},
         {"role": "user", "content": "And tomorrow?"}],
      "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}],
      "tool_choice": "required", "parallel_tool_calls": False}),
    ("named tool, stop sequences, thinking, stream", {"messages": [{"role": "user", "content": "x"}], "stop_sequences": ["END"], "stream": True,
                                                      "tools": [{"name": "f", "input_schema": {"type": "object"}}], "tool_choice": {"type": "tool", "name": "f"},
                                                      "thinking": {"type": "enabled", "budget_tokens": 8000}, "metadata": {"user_id": "u"}},
     {"stop": ["END"], "tool_choice": {"type": "function", "function": {"name": "f"}}, "reasoning_effort": "medium", "user": "u",
      "stream": True, "stream_options": {"include_usage": True}}),
]


@pytest.mark.parametrize(("body", "expected"), [c[1:] for c in INBOUND_CASES], ids=[c[0] for c in INBOUND_CASES])
def test_inbound_request_translation(body: dict[str, Any], expected: dict[str, Any]) -> None:
    from proxy.api.anthropic_inbound import to_internal_request

    out = to_internal_request({"model": "auto", "max_tokens": 100, **body})
    assert out["model"] == "auto" and out["max_tokens"] == 100
    for key, value in expected.items():
        assert out[key] == value, key


@pytest.mark.parametrize(("finish", "stop_reason"), [("stop", "end_turn"), ("length", "max_tokens"), ("tool_calls", "tool_use"),
                                                     ("content_filter", "refusal")])
def test_inbound_response_translation(finish: str, stop_reason: str) -> None:
    from proxy.api.anthropic_inbound import to_anthropic_message

    completion = {"id": "chatcmpl-7", "model": "m", "choices": [{"index": 0, "finish_reason": finish, "message": {
        "role": "assistant", "content": "Hi", "reasoning_content": "r",
        "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"a":1}'}}]}}],
        "usage": {"prompt_tokens": 50, "completion_tokens": 9, "total_tokens": 59, "prompt_tokens_details": {"cached_tokens": 20}}}
    message = to_anthropic_message(completion)
    assert message["id"] == "msg_7" and message["stop_reason"] == stop_reason
    assert message["content"] == [{"type": "thinking", "thinking": "r", "signature": ""}, {"type": "text", "text": "Hi"},
                                  {"type": "tool_use", "id": "call_1", "name": "f", "input": {"a": 1}}]
    assert message["usage"] == {"input_tokens": 30, "output_tokens": 9, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 20}


def replay(raw: bytes) -> list[dict[str, Any]]:
    """Anthropic events -> internal chunks -> Anthropic events again, as the inbound API serves them."""
    from proxy.api.anthropic_inbound import AnthropicEventEncoder

    chunks = translate(raw)
    encoder = AnthropicEventEncoder("claude-test")
    out = b"".join(encoder.encode(c) for c in chunks if c["choices"]) + encoder.finish_events(chunks[-1]["usage"])
    parser = SSEParser()
    return [orjson.loads(e.data) for e in parser.feed(out) if isinstance(e, SSEEvent)]


def blocks_from_events(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Content blocks accumulated from events, as an SDK would."""
    blocks: dict[int, dict[str, Any]] = {}
    for ev in events:
        if ev["type"] == "content_block_start":
            blocks[ev["index"]] = {**ev["content_block"], "_json": ""}
        elif ev["type"] == "content_block_delta":
            block, d = blocks[ev["index"]], ev["delta"]
            key = {"text_delta": "text", "thinking_delta": "thinking", "signature_delta": "signature", "input_json_delta": "_json"}[d["type"]]
            block[key] = block.get(key, "") + d[{"_json": "partial_json"}.get(key, key)]
    out = []
    for i in sorted(blocks):
        block = blocks[i]
        raw_json = block.pop("_json")
        if block["type"] == "tool_use":
            block["input"] = orjson.loads(raw_json or "{}")
        out.append(block)
    return out


@pytest.mark.parametrize("raw", [TEXT_STREAM, TOOL_STREAM, THINKING_STREAM], ids=["text", "tools", "thinking"])
def test_inbound_events_round_trip_an_anthropic_stream(raw: bytes) -> None:
    original = [orjson.loads(e.data) for e in SSEParser().feed(raw) if isinstance(e, SSEEvent)]
    replayed = replay(raw)
    assert [e["type"] for e in replayed][:2] == ["message_start", "ping"] and [e["type"] for e in replayed][-2:] == ["message_delta", "message_stop"]
    assert blocks_from_events(replayed) == blocks_from_events(original)
    assert replayed[-2]["delta"]["stop_reason"] == next(e for e in original if e["type"] == "message_delta")["delta"]["stop_reason"]
    assert replayed[-2]["usage"]["output_tokens"] == 7
