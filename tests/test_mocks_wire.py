"""The Anthropic and Gemini mock upstreams over real sockets: event order, framing, headers, error
bodies and the checks they make; then each adapter against its mock, several turns deep."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web

from proxy.providers.anthropic import AnthropicAdapter
from proxy.providers.base import Adapter, AdapterTarget
from proxy.providers.gemini import GeminiAdapter
from proxy.simulated.anthropic_mock import create_anthropic_mock
from proxy.simulated.gemini_mock import create_gemini_mock
from proxy.simulated.knobs import Knobs
from proxy.simulated.server import MockServer
from proxy.streaming import SSEEvent, SSEParser

KEY = "test-key-123"
FAST = {"ttft_ms": 1.0, "tokens_per_s": 1e6, "chunks": 5}
WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"], "additionalProperties": False}}}
ANTHROPIC_HEADERS = {"x-api-key": KEY, "anthropic-version": "2023-06-01", "content-type": "application/json"}
CLAUDE_BODY = {"model": "claude-test", "max_tokens": 100, "messages": [{"role": "user", "content": "Hello there"}]}
GEMINI_BODY = {"contents": [{"role": "user", "parts": [{"text": "Hello there"}]}]}


@asynccontextmanager
async def serve(factory: Callable[..., web.Application], **knobs: Any) -> AsyncIterator[MockServer]:
    server = await MockServer.start(factory(Knobs(api_key=KEY, **{**FAST, **knobs})))
    try:
        yield server
    finally:
        await server.stop()


async def post(url: str, body: Any, headers: dict[str, str]) -> tuple[int, Mapping[str, str], bytes]:
    async with aiohttp.ClientSession() as session, session.post(url, data=orjson.dumps(body), headers=headers) as resp:
        return resp.status, resp.headers.copy(), await resp.read()  # case-insensitive, as HTTP is


def events(raw: bytes) -> list[SSEEvent]:
    parser = SSEParser()
    return [e for e in parser.feed(raw) + parser.close() if isinstance(e, SSEEvent)]


# -- Anthropic mock -----------------------------------------------------------------------------


async def test_anthropic_stream_event_sequence() -> None:
    async with serve(create_anthropic_mock) as mock:
        status, headers, raw = await post(mock.url + "/v1/messages", {**CLAUDE_BODY, "stream": True}, ANTHROPIC_HEADERS)
    assert status == 200 and headers["Content-Type"].startswith("text/event-stream") and headers["request-id"].startswith("req_")
    evs = events(raw)
    names = [e.event for e in evs]
    assert all(orjson.loads(e.data)["type"] == e.event for e in evs)
    assert names[:3] == ["message_start", "ping", "content_block_start"]
    assert names[3:-3] == ["content_block_delta"] * 5
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    start = orjson.loads(evs[0].data)["message"]
    assert start["role"] == "assistant" and start["content"] == [] and start["stop_reason"] is None and start["usage"]["input_tokens"] > 0
    final = orjson.loads(evs[-2].data)
    assert final["delta"]["stop_reason"] == "end_turn" and final["usage"]["output_tokens"] > 0


async def test_anthropic_tool_use_stream_and_json() -> None:
    body = {**CLAUDE_BODY, "tools": [{"name": "get_weather", "input_schema": WEATHER["function"]["parameters"]}]}
    async with serve(create_anthropic_mock) as mock:
        _, _, raw = await post(mock.url + "/v1/messages", {**body, "stream": True}, ANTHROPIC_HEADERS)
        status, _, payload = await post(mock.url + "/v1/messages", body, ANTHROPIC_HEADERS)
    data = [orjson.loads(e.data) for e in events(raw)]
    starts = [d["content_block"]["type"] for d in data if d["type"] == "content_block_start"]
    assert starts == ["text", "tool_use"]
    partial = "".join(d["delta"]["partial_json"] for d in data if d["type"] == "content_block_delta" and d["delta"]["type"] == "input_json_delta")
    assert orjson.loads(partial) == {"city": "sample city"}
    message = orjson.loads(payload)
    assert status == 200 and message["type"] == "message" and message["stop_reason"] == "tool_use"
    assert message["content"][1]["type"] == "tool_use" and message["content"][1]["input"] == {"city": "sample city"}


@pytest.mark.parametrize(("headers", "body", "status", "etype"), [
    ({**ANTHROPIC_HEADERS, "x-api-key": "wrong"}, CLAUDE_BODY, 401, "authentication_error"),
    ({"x-api-key": KEY, "content-type": "application/json"}, CLAUDE_BODY, 400, "invalid_request_error"),
    (ANTHROPIC_HEADERS, {"model": "claude-test", "messages": CLAUDE_BODY["messages"]}, 400, "invalid_request_error"),
    (ANTHROPIC_HEADERS, {**CLAUDE_BODY, "messages": [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_x", "content": "1"}]}]},
     400, "invalid_request_error"),
    (ANTHROPIC_HEADERS, {**CLAUDE_BODY, "messages": [
        {"role": "user", "content": "q"}, {"role": "assistant", "content": [{"type": "thinking", "thinking": "t", "signature": "forged"}]},
        {"role": "user", "content": "q2"}]}, 400, "invalid_request_error"),
], ids=["bad key", "no version", "no max_tokens", "orphan tool_result", "forged signature"])
async def test_anthropic_rejects_what_the_real_api_rejects(headers: dict[str, str], body: dict[str, Any], status: int, etype: str) -> None:
    async with serve(create_anthropic_mock) as mock:
        got, resp_headers, payload = await post(mock.url + "/v1/messages", body, headers)
    err = orjson.loads(payload)
    assert got == status and err["type"] == "error" and err["error"]["type"] == etype and err["error"]["message"]
    assert "request-id" in resp_headers


@pytest.mark.parametrize(("status", "etype"), [(429, "rate_limit_error"), (500, "api_error"), (529, "overloaded_error"), (403, "permission_error")])
async def test_anthropic_error_knobs(status: int, etype: str) -> None:
    async with serve(create_anthropic_mock, status=status, retry_after_s=3) as mock:
        got, headers, payload = await post(mock.url + "/v1/messages", CLAUDE_BODY, ANTHROPIC_HEADERS)
    assert got == status and orjson.loads(payload)["error"]["type"] == etype
    assert (headers.get("retry-after") == "3") == (status in (429, 529))


async def test_anthropic_error_event_inside_the_stream() -> None:
    async with serve(create_anthropic_mock, stream_error_after_chunks=2) as mock:
        status, _, raw = await post(mock.url + "/v1/messages", {**CLAUDE_BODY, "stream": True}, ANTHROPIC_HEADERS)
    evs = events(raw)
    assert status == 200 and evs[-1].event == "error"
    assert orjson.loads(evs[-1].data) == {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    assert [e.event for e in evs].count("content_block_delta") == 2


async def test_anthropic_keepalive_is_ping_events() -> None:
    async with serve(create_anthropic_mock, ttft_ms=60, keepalive_every_ms=10) as mock:
        _, _, raw = await post(mock.url + "/v1/messages", {**CLAUDE_BODY, "stream": True}, ANTHROPIC_HEADERS)
    assert [e.event for e in events(raw)].count("ping") >= 4 and b"\n:" not in raw


# -- Gemini mock --------------------------------------------------------------------------------


def gemini_url(mock: MockServer, method: str) -> str:
    return f"{mock.url}/v1beta/models/gemini-test:{method}"


GEMINI_HEADERS = {"x-goog-api-key": KEY, "Content-Type": "application/json"}


async def test_gemini_sse_framing_and_usage() -> None:
    async with serve(create_gemini_mock) as mock:
        status, headers, raw = await post(gemini_url(mock, "streamGenerateContent?alt=sse"), GEMINI_BODY, GEMINI_HEADERS)
    assert status == 200 and headers["Content-Type"].startswith("text/event-stream")
    assert b"event:" not in raw and raw.count(b"data: ") == 5 and raw.endswith(b"\r\n\r\n")
    chunks = [orjson.loads(e.data) for e in events(raw)]
    assert all(c["responseId"] == chunks[0]["responseId"] and c["modelVersion"] == "gemini-test" for c in chunks)
    assert all(len(c["candidates"][0]["content"]["parts"]) == 1 for c in chunks)  # each chunk holds only its new text
    assert [("finishReason" in c["candidates"][0]) for c in chunks] == [False] * 4 + [True]
    meta = chunks[-1]["usageMetadata"]
    assert meta["totalTokenCount"] == meta["promptTokenCount"] + meta["candidatesTokenCount"]


async def test_gemini_stream_without_sse_is_a_json_array_and_generate_is_one_object() -> None:
    async with serve(create_gemini_mock) as mock:
        _, _, array = await post(gemini_url(mock, "streamGenerateContent"), GEMINI_BODY, GEMINI_HEADERS)
        _, _, single = await post(gemini_url(mock, "generateContent"), GEMINI_BODY, GEMINI_HEADERS)
    assert isinstance(orjson.loads(array), list) and len(orjson.loads(array)) == 5
    one = orjson.loads(single)
    assert one["candidates"][0]["finishReason"] == "STOP" and one["candidates"][0]["content"]["role"] == "model"
    assert "".join(p["text"] for p in one["candidates"][0]["content"]["parts"]).startswith("[gemini-test]")


async def test_gemini_key_in_query_works() -> None:
    async with serve(create_gemini_mock) as mock:
        status, _, _ = await post(gemini_url(mock, "generateContent") + f"?key={KEY}", GEMINI_BODY, {"Content-Type": "application/json"})
    assert status == 200


@pytest.mark.parametrize(("headers", "body", "status", "rpc"), [
    ({"Content-Type": "application/json"}, GEMINI_BODY, 403, "PERMISSION_DENIED"),
    ({**GEMINI_HEADERS, "x-goog-api-key": "wrong"}, GEMINI_BODY, 400, "INVALID_ARGUMENT"),
    (GEMINI_HEADERS, {"contents": []}, 400, "INVALID_ARGUMENT"),
    (GEMINI_HEADERS, {"contents": [{"role": "assistant", "parts": [{"text": "x"}]}]}, 400, "INVALID_ARGUMENT"),
    (GEMINI_HEADERS, {**GEMINI_BODY, "tools": [{"functionDeclarations": [{"name": "f", "parameters": WEATHER["function"]["parameters"]}]}]},
     400, "INVALID_ARGUMENT"),
    (GEMINI_HEADERS, {"contents": [{"role": "user", "parts": [{"text": "q"}]},
                                   {"role": "model", "parts": [{"functionCall": {"name": "f", "args": {}}}, {"functionCall": {"name": "f", "args": {}}}]},
                                   {"role": "user", "parts": [{"functionResponse": {"name": "f", "response": {}}}]}]}, 400, "INVALID_ARGUMENT"),
], ids=["no key", "bad key", "no contents", "bad role", "unsupported schema key", "missing function response"])
async def test_gemini_rejects_what_the_real_api_rejects(headers: dict[str, str], body: dict[str, Any], status: int, rpc: str) -> None:
    async with serve(create_gemini_mock) as mock:
        got, _, payload = await post(gemini_url(mock, "generateContent"), body, headers)
    err = orjson.loads(payload)["error"]
    assert got == status and err["status"] == rpc and err["code"] == status and err["message"]


@pytest.mark.parametrize(("status", "rpc"), [(429, "RESOURCE_EXHAUSTED"), (500, "INTERNAL"), (503, "UNAVAILABLE"), (404, "NOT_FOUND")])
async def test_gemini_error_knobs(status: int, rpc: str) -> None:
    async with serve(create_gemini_mock, status=status, retry_after_s=4) as mock:
        got, _, payload = await post(gemini_url(mock, "generateContent"), GEMINI_BODY, GEMINI_HEADERS)
    err = orjson.loads(payload)["error"]
    assert got == status and err["status"] == rpc
    retry = [d["retryDelay"] for d in err.get("details", []) if d["@type"].endswith("RetryInfo")]
    assert retry == (["4s"] if status == 429 else [])


async def test_gemini_error_inside_the_stream() -> None:
    async with serve(create_gemini_mock, stream_error_after_chunks=2) as mock:
        status, _, raw = await post(gemini_url(mock, "streamGenerateContent?alt=sse"), GEMINI_BODY, GEMINI_HEADERS)
    chunks = [orjson.loads(e.data) for e in events(raw)]
    assert status == 200 and len(chunks) == 3 and chunks[-1]["error"]["status"] == "UNAVAILABLE"


# -- each adapter against its mock, several turns ------------------------------------------------


async def converse(adapter: Adapter, url: str, body: dict[str, Any], stream: bool) -> dict[str, Any]:
    """One chat turn through the adapter; a stream is folded back into a chat.completion message."""
    request = adapter.build_request(body, AdapterTarget(base_url=url, upstream_model="model-x", api_key=KEY), stream=stream)
    async with aiohttp.ClientSession() as session, session.post(request.url, data=request.body, headers=request.headers) as resp:
        raw = await resp.read()
        if resp.status >= 400:
            raise adapter.parse_error(resp.status, raw, resp.headers)
    if not stream:
        return adapter.parse_response(raw)["choices"][0]  # type: ignore[no-any-return]
    translator = adapter.stream_translator()
    chunks = [c for e in events(raw) for c in translator.feed(e)] + translator.finish()
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] > 0
    message: dict[str, Any] = {"role": "assistant", "content": ""}
    calls: dict[int, dict[str, Any]] = {}
    finish = None
    for chunk in chunks:
        for choice in chunk["choices"]:
            delta = choice["delta"]
            finish = choice["finish_reason"] or finish
            message["content"] += delta.get("content") or ""
            if delta.get("reasoning_content"):
                message["reasoning_content"] = message.get("reasoning_content", "") + delta["reasoning_content"]
            message.setdefault("thinking_blocks", []).extend(delta.get("thinking_blocks") or [])
            for call in delta.get("tool_calls") or []:
                slot = calls.setdefault(call["index"], {"type": "function", "function": {"name": "", "arguments": ""}})
                slot.update({k: v for k, v in call.items() if k not in ("index", "function")})
                slot["function"]["name"] += (call.get("function") or {}).get("name") or ""
                slot["function"]["arguments"] += (call.get("function") or {}).get("arguments") or ""
    if calls:
        message["tool_calls"] = [calls[i] for i in sorted(calls)]
    return {"message": message, "finish_reason": finish}


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize(("adapter", "factory", "prefix", "effort"), [
    (AnthropicAdapter(), create_anthropic_mock, "", "low"),
    (GeminiAdapter(), create_gemini_mock, "/v1beta", "low"),
], ids=["anthropic", "gemini"])
async def test_adapter_tool_round_trip_with_reasoning(adapter: Adapter, factory: Callable[..., web.Application], prefix: str, effort: str,
                                                      stream: bool) -> None:
    """Turn 1 calls a tool (with reasoning and its signature); turn 2 sends the call, its signature and
    the result back, and the mock, which checks signatures and call/result pairing, answers."""
    messages: list[dict[str, Any]] = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Weather in Oslo?"}]
    async with serve(factory) as mock:
        body = {"model": "m", "messages": messages, "tools": [WEATHER], "reasoning_effort": effort}
        first = await converse(adapter, mock.url + prefix, body, stream)
        assert first["finish_reason"] == "tool_calls" and first["message"]["reasoning_content"]
        call = first["message"]["tool_calls"][0]
        assert call["function"]["name"] == "get_weather" and orjson.loads(call["function"]["arguments"]) == {"city": "sample city"}
        messages += [first["message"], {"role": "tool", "tool_call_id": call["id"], "content": '{"temp": 4}'}]
        second = await converse(adapter, mock.url + prefix, {**body, "messages": messages}, stream)
    assert second["finish_reason"] == "stop" and second["message"]["content"]
    assert "tool_calls" not in second["message"]
