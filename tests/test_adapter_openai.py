"""The OpenAI-compatible adapter: request building, response and error mapping, stream translation."""

from __future__ import annotations

import orjson
import pytest

from proxy.api.openai_chat import error_body
from proxy.providers.base import AdapterTarget, UpstreamError
from proxy.providers.openai_compat import OpenAIAdapter
from proxy.streaming import SSEEvent

TARGET = AdapterTarget(base_url="https://api.example.test/v1", upstream_model="gpt-4o-2024-08-06", api_key="sk-upstream-123456")
BODY = {
    "model": "openai/gpt-4o",
    "messages": [{"role": "user", "content": "hi"}],
    "provider": {"routing": {"type": "order", "providers": ["openai"]}},
    "model_routing_config": {"preference": "price"},
    "switchyard": {"timeouts": {"total_s": 5}},
    "temperature": 0.3,
}


def test_request_strips_gateway_fields_and_sets_upstream_model() -> None:
    req = OpenAIAdapter().build_request(BODY, TARGET, stream=False)
    sent = orjson.loads(req.body)
    assert req.url == "https://api.example.test/v1/chat/completions"
    assert sent == {"model": "gpt-4o-2024-08-06", "messages": BODY["messages"], "temperature": 0.3}
    assert req.headers["Authorization"] == "Bearer sk-upstream-123456"


def test_stream_request_always_asks_for_usage() -> None:
    sent = orjson.loads(OpenAIAdapter().build_request({**BODY, "stream": True}, TARGET, stream=True).body)
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}


def test_azure_style_auth_header() -> None:
    req = OpenAIAdapter(auth_header="api-key", auth_scheme="").build_request(BODY, TARGET, stream=False)
    assert req.headers["api-key"] == "sk-upstream-123456" and "Authorization" not in req.headers


@pytest.mark.parametrize(
    ("status", "headers", "retriable", "retry_after"),
    [
        (400, {}, False, None),
        (401, {}, False, None),
        (403, {}, False, None),
        (404, {}, False, None),
        (422, {}, False, None),
        (429, {"retry-after": "12"}, True, 12.0),
        (429, {"retry-after-ms": "1500"}, True, 1.5),
        (500, {}, True, None),
        (502, {}, True, None),
        (503, {"retry-after": "soon"}, True, None),
    ],
)
def test_error_mapping(status: int, headers: dict, retriable: bool, retry_after: float | None) -> None:
    body = orjson.dumps({"error": {"message": "nope", "type": "server_error", "param": "x", "code": "c"}})
    err = OpenAIAdapter().parse_error(status, body, headers)
    assert (err.status, err.retriable, err.retry_after_s) == (status, retriable, retry_after)
    assert error_body(err) == {"error": {"message": "nope", "type": "server_error", "param": "x", "code": "c"}}


def test_error_body_not_json() -> None:
    err = OpenAIAdapter().parse_error(502, b"<html>bad gateway</html>", {})
    assert err.status == 502 and "502" in err.message


def test_response_without_choices_is_an_upstream_error() -> None:
    with pytest.raises(UpstreamError):
        OpenAIAdapter().parse_response(b'{"object": "chat.completion"}')
    with pytest.raises(UpstreamError):
        OpenAIAdapter().parse_response(b"not json")


def test_stream_translator_passes_chunks_and_tracks_usage() -> None:
    t = OpenAIAdapter().stream_translator()
    chunk = {"id": "c", "choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": None}]}
    assert t.feed(SSEEvent(orjson.dumps(chunk).decode())) == [chunk]
    t.feed(SSEEvent(orjson.dumps({"id": "c", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}).decode()))
    t.feed(SSEEvent(orjson.dumps({"id": "c", "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 4}}).decode()))
    assert t.usage == {"prompt_tokens": 3, "completion_tokens": 4}
    assert t.feed(SSEEvent("[DONE]")) == [] and t.done


def test_stream_error_event_and_truncation() -> None:
    t = OpenAIAdapter().stream_translator()
    with pytest.raises(UpstreamError) as info:
        t.feed(SSEEvent('{"error": {"message": "overloaded", "type": "server_error"}}'))
    assert info.value.retriable
    t = OpenAIAdapter().stream_translator()
    t.feed(SSEEvent('{"choices": [{"index": 0, "delta": {"content": "par"}}]}'))
    with pytest.raises(UpstreamError, match="before it was complete"):
        t.finish()


def test_reasoning_round_trip_fields_are_not_sent_to_openai_format_upstreams() -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"},
            "extra_content": {"google": {"thought_signature": "sig"}}}
    messages = [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": "a", "reasoning_content": "thought", "tool_calls": [call],
         "thinking_blocks": [{"type": "thinking", "thinking": "t", "signature": "s"}], "reasoning_signature": "s"},
        {"role": "tool", "tool_call_id": "c1", "content": "r"},
    ]
    sent = orjson.loads(OpenAIAdapter().build_request({**BODY, "messages": messages}, TARGET, stream=False).body)
    assistant = sent["messages"][1]
    assert set(assistant) == {"role", "content", "tool_calls"}
    assert assistant["tool_calls"] == [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]
    assert sent["messages"][0] == messages[0] and sent["messages"][2] == messages[2]
    assert "reasoning_content" in messages[1]  # the caller's body is left as it was


def test_plain_messages_are_forwarded_as_is() -> None:
    body = {**BODY}
    sent = orjson.loads(OpenAIAdapter().build_request(body, TARGET, stream=False).body)
    assert sent["messages"] == BODY["messages"]
