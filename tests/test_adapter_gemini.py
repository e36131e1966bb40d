"""The Gemini adapter, both directions: OpenAI request -> generateContent body, and Gemini
responses, SSE streams and errors -> OpenAI's shapes. Pure: no sockets."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.api.openai_chat import error_body
from proxy.providers.base import AdapterTarget, UpstreamError
from proxy.providers.gemini import GeminiAdapter
from proxy.streaming import SSEEvent, SSEParser

ADAPTER = GeminiAdapter()
TARGET = AdapterTarget(base_url="https://generativelanguage.test/v1beta", upstream_model="gemini-test", api_key="AIza-secret")
WEATHER = {"type": "function", "function": {"name": "get_weather", "description": "Weather by city", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"], "additionalProperties": False,
    "$schema": "http://json-schema.org/draft-07/schema#"}}}
PNG = "iVBORw0KGgo="


def wire(body: dict[str, Any], *, stream: bool = False) -> dict[str, Any]:
    return orjson.loads(ADAPTER.build_request({"model": "google/gemini", **body}, TARGET, stream=stream).body)  # type: ignore[no-any-return]


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "parts": [{"text": text}]}


# -- request: OpenAI -> Gemini ------------------------------------------------------------------

REQUEST_CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("plain text", {"messages": [{"role": "user", "content": "Hi"}]}, {"contents": [user("Hi")]}),
    ("system prompt", {"messages": [{"role": "system", "content": "Be brief."}, {"role": "developer", "content": [{"type": "text", "text": "Really."}]},
                                    {"role": "user", "content": "Hi"}]},
     {"systemInstruction": {"parts": [{"text": "Be brief."}, {"text": "Really."}]}, "contents": [user("Hi")]}),
    ("multi-turn", {"messages": [{"role": "user", "content": "1"}, {"role": "assistant", "content": "2"}, {"role": "user", "content": "3"}]},
     {"contents": [user("1"), {"role": "model", "parts": [{"text": "2"}]}, user("3")]}),
    ("image inline and by url", {"messages": [{"role": "user", "content": [
        {"type": "text", "text": "What?"}, {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}}]}]},
     {"contents": [{"role": "user", "parts": [{"text": "What?"}, {"inlineData": {"mimeType": "image/png", "data": PNG}},
                                              {"fileData": {"mimeType": "image/jpeg", "fileUri": "https://example.com/cat.jpg"}}]}]}),
    ("tools with a cleaned schema, tool_choice auto", {"messages": [{"role": "user", "content": "x"}], "tools": [WEATHER], "tool_choice": "auto"},
     {"tools": [{"functionDeclarations": [{"name": "get_weather", "description": "Weather by city", "parameters": {
         "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]}],
      "toolConfig": {"functionCallingConfig": {"mode": "AUTO"}}}),
    ("tool_choice required", {"messages": [{"role": "user", "content": "x"}], "tools": [WEATHER], "tool_choice": "required"},
     {"toolConfig": {"functionCallingConfig": {"mode": "ANY"}}}),
    ("tool_choice none", {"messages": [{"role": "user", "content": "x"}], "tools": [WEATHER], "tool_choice": "none"},
     {"toolConfig": {"functionCallingConfig": {"mode": "NONE"}}}),
    ("tool_choice named", {"messages": [{"role": "user", "content": "x"}], "tools": [WEATHER],
                           "tool_choice": {"type": "function", "function": {"name": "get_weather"}}},
     {"toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}}}),
    ("function calls and their responses, one turn each", {"messages": [
        {"role": "user", "content": "Oslo and Rome?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
             "extra_content": {"google": {"thought_signature": "gsig-1"}}},
            {"id": "call_2", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Rome"}'}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": '{"temp": -3}'},
        {"role": "tool", "tool_call_id": "call_2", "content": "18C"}]},
     {"contents": [user("Oslo and Rome?"),
                   {"role": "model", "parts": [{"functionCall": {"name": "get_weather", "args": {"city": "Oslo"}}, "thoughtSignature": "gsig-1"},
                                               {"functionCall": {"name": "get_weather", "args": {"city": "Rome"}}}]},
                   {"role": "user", "parts": [{"functionResponse": {"name": "get_weather", "response": {"temp": -3}}},
                                              {"functionResponse": {"name": "get_weather", "response": {"result": "18C"}}}]}]}),
    ("generation config", {"messages": [{"role": "user", "content": "x"}], "max_tokens": 50, "temperature": 0.3, "top_p": 0.9,
                           "stop": ["END", "STOP"], "response_format": {"type": "json_object"}},
     {"generationConfig": {"maxOutputTokens": 50, "temperature": 0.3, "topP": 0.9, "stopSequences": ["END", "STOP"],
                           "responseMimeType": "application/json"}}),
    ("json schema and reasoning effort", {"messages": [{"role": "user", "content": "x"}], "reasoning_effort": "low",
                                          "response_format": {"type": "json_schema", "json_schema": {"name": "r", "schema": {"type": "object"}}}},
     {"generationConfig": {"responseMimeType": "application/json", "responseJsonSchema": {"type": "object"},
                           "thinkingConfig": {"thinkingBudget": 1024, "includeThoughts": True}}}),
]


@pytest.mark.parametrize(("body", "expected"), [c[1:] for c in REQUEST_CASES], ids=[c[0] for c in REQUEST_CASES])
def test_request_translation(body: dict[str, Any], expected: dict[str, Any]) -> None:
    out = wire(body)
    for key, value in expected.items():
        assert out[key] == value, key
    assert set(out) <= {"contents", "systemInstruction", "tools", "toolConfig", "generationConfig"}


def test_request_url_and_headers() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "x"}]}
    req = ADAPTER.build_request(body, TARGET, stream=False)
    assert req.url == "https://generativelanguage.test/v1beta/models/gemini-test:generateContent"
    assert req.headers["x-goog-api-key"] == "AIza-secret" and "Authorization" not in req.headers
    assert ADAPTER.build_request(body, TARGET, stream=True).url.endswith("/models/gemini-test:streamGenerateContent?alt=sse")


@pytest.mark.parametrize("body", [
    {"messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}]},
    {"messages": [{"role": "assistant", "tool_calls": [{"id": "t", "function": {"name": "f", "arguments": "nope"}}]}]},
])
def test_request_errors_are_the_clients(body: dict[str, Any]) -> None:
    with pytest.raises(UpstreamError) as info:
        wire(body)
    assert info.value.status == 400 and not info.value.retriable


# -- response: Gemini -> OpenAI -----------------------------------------------------------------


def response(parts: list[dict[str, Any]], finish: str | None = "STOP", **usage: int) -> dict[str, Any]:
    cand: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
    if finish:
        cand["finishReason"] = finish
    meta = {"promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 15, **usage}
    return {"candidates": [cand], "usageMetadata": meta, "modelVersion": "gemini-test", "responseId": "resp-1"}


RESPONSE_CASES: list[tuple[str, dict[str, Any], dict[str, Any], str]] = [
    ("plain text", response([{"text": "Hello"}, {"text": " there"}]), {"role": "assistant", "content": "Hello there"}, "stop"),
    ("thoughts", response([{"text": "Plan", "thought": True}, {"text": "42"}]),
     {"role": "assistant", "content": "42", "reasoning_content": "Plan"}, "stop"),
    ("max tokens", response([{"text": "a"}], "MAX_TOKENS"), {"role": "assistant", "content": "a"}, "length"),
    ("safety", response([], "SAFETY"), {"role": "assistant", "content": ""}, "content_filter"),
    ("recitation", response([{"text": "a"}], "RECITATION"), {"role": "assistant", "content": "a"}, "content_filter"),
    ("blocklist", response([], "BLOCKLIST"), {"role": "assistant", "content": ""}, "content_filter"),
    ("prohibited", response([], "PROHIBITED_CONTENT"), {"role": "assistant", "content": ""}, "content_filter"),
    ("blocked prompt", {"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": {"promptTokenCount": 3, "totalTokenCount": 3}},
     {"role": "assistant", "content": ""}, "content_filter"),
]


@pytest.mark.parametrize(("data", "expected_message", "finish"), [c[1:] for c in RESPONSE_CASES], ids=[c[0] for c in RESPONSE_CASES])
def test_response_translation(data: dict[str, Any], expected_message: dict[str, Any], finish: str) -> None:
    out = ADAPTER.parse_response(orjson.dumps(data))
    assert out["object"] == "chat.completion"
    assert out["choices"][0]["message"] == expected_message
    assert out["choices"][0]["finish_reason"] == finish


def test_response_function_calls_get_stable_ids_and_keep_signatures() -> None:
    data = response([{"functionCall": {"name": "get_weather", "args": {"city": "Oslo"}}, "thoughtSignature": "gsig-9"},
                     {"functionCall": {"name": "get_weather", "args": {"city": "Rome"}}}])
    first = ADAPTER.parse_response(orjson.dumps(data))
    again = ADAPTER.parse_response(orjson.dumps(data))
    calls = first["choices"][0]["message"]["tool_calls"]
    assert first["choices"][0]["finish_reason"] == "tool_calls" and first["choices"][0]["message"]["content"] is None
    assert [c["id"] for c in calls] == [c["id"] for c in again["choices"][0]["message"]["tool_calls"]]
    assert calls[0]["id"] != calls[1]["id"] and all(c["id"].startswith("call_") for c in calls)
    assert calls[0]["function"] == {"name": "get_weather", "arguments": '{"city":"Oslo"}'}
    assert calls[0]["extra_content"] == {"google": {"thought_signature": "gsig-9"}} and "extra_content" not in calls[1]
    # the streamed form of the same response names the calls the same way
    streamed = [c for ch in translate(stream_of([data])) for d in deltas([ch]) for c in d.get("tool_calls", [])]
    assert [c["id"] for c in streamed] == [c["id"] for c in calls]
    # and the next turn sends the signature back with its call, and the results under the call's name
    history = [{"role": "user", "content": "x"}, first["choices"][0]["message"],
               *({"role": "tool", "tool_call_id": c["id"], "content": "ok"} for c in calls)]
    contents = wire({"messages": history})["contents"]
    assert contents[1]["parts"][0]["thoughtSignature"] == "gsig-9"
    assert [p["functionResponse"]["name"] for p in contents[2]["parts"]] == ["get_weather", "get_weather"]


def test_response_usage() -> None:
    data = response([{"text": "a"}], promptTokenCount=100, candidatesTokenCount=20, thoughtsTokenCount=30, cachedContentTokenCount=64,
                    totalTokenCount=150)
    assert ADAPTER.parse_response(orjson.dumps(data))["usage"] == {
        "prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150,
        "prompt_tokens_details": {"cached_tokens": 64}, "completion_tokens_details": {"reasoning_tokens": 30}}


# -- errors ------------------------------------------------------------------------------------

ERROR_CASES: list[tuple[int, str, int, str, str, bool]] = [
    (400, "INVALID_ARGUMENT", 400, "invalid_request_error", "invalid_argument", False),
    (400, "FAILED_PRECONDITION", 400, "invalid_request_error", "failed_precondition", False),
    (401, "UNAUTHENTICATED", 401, "authentication_error", "invalid_api_key", False),
    (403, "PERMISSION_DENIED", 403, "permission_error", "permission_denied", False),
    (404, "NOT_FOUND", 404, "invalid_request_error", "model_not_found", False),
    (429, "RESOURCE_EXHAUSTED", 429, "rate_limit_error", "rate_limit_exceeded", True),
    (500, "INTERNAL", 500, "server_error", "internal", True),
    (503, "UNAVAILABLE", 503, "server_error", "unavailable", True),
    (504, "DEADLINE_EXCEEDED", 504, "timeout_error", "upstream_timeout", True),
]


@pytest.mark.parametrize(("status", "rpc", "client_status", "openai_type", "code", "retriable"), ERROR_CASES, ids=[c[1] for c in ERROR_CASES])
def test_error_mapping(status: int, rpc: str, client_status: int, openai_type: str, code: str, retriable: bool) -> None:
    body = orjson.dumps({"error": {"code": status, "message": f"{rpc} happened", "status": rpc}})
    err = ADAPTER.parse_error(status, body, {})
    assert (err.status, err.type, err.code, err.retriable) == (client_status, openai_type, code, retriable)
    assert error_body(err)["error"]["message"] == f"{rpc} happened"


def test_error_bad_key_is_401_and_retry_info_is_read() -> None:
    bad_key = {"error": {"code": 400, "message": "API key not valid.", "status": "INVALID_ARGUMENT",
                         "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}]}}
    err = ADAPTER.parse_error(400, orjson.dumps(bad_key), {})
    assert (err.status, err.code, err.retriable) == (401, "invalid_api_key", False)
    quota = {"error": {"code": 429, "message": "quota", "status": "RESOURCE_EXHAUSTED",
                       "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "31s"}]}}
    assert ADAPTER.parse_error(429, orjson.dumps(quota), {}).retry_after_s == 31.0
    assert ADAPTER.parse_error(429, orjson.dumps(quota), {"retry-after": "2"}).retry_after_s == 2.0


# -- streams ------------------------------------------------------------------------------------


def stream_of(chunks: list[dict[str, Any]], newline: bytes = b"\r\n") -> bytes:
    return b"".join(b"data: " + orjson.dumps(c) + newline + newline for c in chunks)


def translate(raw: bytes, cuts: list[int] | None = None) -> list[dict[str, Any]]:
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


TEXT_STREAM = stream_of([response([{"text": "Hel"}], None, candidatesTokenCount=1), response([{"text": "lo"}], None, candidatesTokenCount=2),
                         response([{"text": "!"}], "STOP", candidatesTokenCount=3, totalTokenCount=13)])
TOOL_STREAM = stream_of([
    response([{"text": "Checking."}], None),
    response([{"functionCall": {"name": "get_weather", "args": {"city": "Oslo"}}, "thoughtSignature": "gsig-1"}], None),
    response([{"functionCall": {"name": "get_weather", "args": {"city": "Rome"}}}], None),
    response([{"functionCall": {"name": "get_time", "args": {"tz": "CET"}}}], "STOP")])
THOUGHT_STREAM = stream_of([response([{"text": "Plan", "thought": True}], None), response([{"text": "42"}], "STOP", thoughtsTokenCount=4)], b"\n")


def test_stream_plain_text() -> None:
    chunks = translate(TEXT_STREAM)
    assert deltas(chunks) == [{"role": "assistant", "content": ""}, {"content": "Hel"}, {"content": "lo"}, {"content": "!"}, {}]
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 3 and chunks[-1]["usage"]["total_tokens"] == 13
    assert all(c["id"] == "chatcmpl-resp-1" and c["model"] == "gemini-test" for c in chunks)


def test_stream_function_calls_across_many_chunks() -> None:
    chunks = translate(TOOL_STREAM)
    calls = [c for d in deltas(chunks) for c in d.get("tool_calls", [])]
    assert [c["index"] for c in calls] == [0, 1, 2]
    assert [c["function"]["name"] for c in calls] == ["get_weather", "get_weather", "get_time"]
    assert [orjson.loads(c["function"]["arguments"]) for c in calls] == [{"city": "Oslo"}, {"city": "Rome"}, {"tz": "CET"}]
    assert len({c["id"] for c in calls}) == 3
    assert calls[0]["extra_content"]["google"]["thought_signature"] == "gsig-1"
    assert deltas(chunks)[1] == {"content": "Checking."}
    assert chunks[-2]["choices"][0]["finish_reason"] == "tool_calls"


def test_stream_thoughts_are_reasoning_content() -> None:
    chunks = translate(THOUGHT_STREAM)
    assert deltas(chunks)[1:3] == [{"reasoning_content": "Plan"}, {"content": "42"}]
    assert chunks[-1]["usage"]["completion_tokens_details"] == {"reasoning_tokens": 4}


@pytest.mark.parametrize(("reason", "finish"), [("STOP", "stop"), ("MAX_TOKENS", "length"), ("SAFETY", "content_filter"),
                                                ("RECITATION", "content_filter"), ("BLOCKLIST", "content_filter"),
                                                ("PROHIBITED_CONTENT", "content_filter"), ("OTHER", "stop")])
def test_stream_finish_reasons(reason: str, finish: str) -> None:
    assert translate(stream_of([response([{"text": "x"}], reason)]))[-2]["choices"][0]["finish_reason"] == finish


def test_stream_error_inside_200_is_retriable() -> None:
    raw = stream_of([response([{"text": "x"}], None), {"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}])
    with pytest.raises(UpstreamError) as info:
        translate(raw)
    assert info.value.retriable and info.value.status == 503 and info.value.message == "The model is overloaded."


def test_stream_cut_short_raises() -> None:
    with pytest.raises(UpstreamError) as info:
        translate(stream_of([response([{"text": "x"}], None)]))
    assert info.value.code == "stream_truncated" and info.value.retriable


@settings(max_examples=60, deadline=None)
@given(data=st.data(), raw=st.sampled_from([TEXT_STREAM, TOOL_STREAM, THOUGHT_STREAM]))
def test_any_chunk_boundaries_give_the_same_chunks(data: st.DataObject, raw: bytes) -> None:
    cuts = data.draw(st.lists(st.integers(min_value=1, max_value=len(raw) - 1), max_size=40))
    assert translate(raw, cuts) == translate(raw)
