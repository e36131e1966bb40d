"""The Responses event stream, pure: internal chat chunks -> the documented event sequence, every
event validated as the openai SDK's own model and fed to the SDK's own stream accumulator. No sockets."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st
from openai import omit
from openai.lib.streaming.responses._responses import ResponseStreamState
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from proxy.api.responses_events import ResponsesEventEncoder

EVENTS: TypeAdapter[Any] = TypeAdapter(ResponseStreamEvent)


# -- stream: internal chunks -> Responses events -----------------------------------------------


def chunk(delta: dict[str, Any] | None = None, finish: str | None = None) -> dict[str, Any]:
    return {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "m",
            "choices": [{"index": 0, "delta": delta or {}, "finish_reason": finish}]}


def run_stream(chunks: list[dict[str, Any]], *, fail: bool = False, usage: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    enc = ResponsesEventEncoder("resp_stream", "openai/gpt-4o", {}, 1700000000)
    raw = b"".join(enc.encode(c) for c in chunks)
    raw += enc.failure_events(502, "Provider 'x' failed mid-stream.") if fail else enc.finish_events(
        usage or {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10, "cost_usd": 0.5})
    events = []
    for frame in raw.decode().split("\n\n"):
        if frame:
            name, data = frame.split("\n", 1)
            event = orjson.loads(data.removeprefix("data: "))
            assert name == f"event: {event['type']}"
            events.append(event)
    return events


def check_with_sdk(events: list[dict[str, Any]]) -> Any:
    """Every event validates as the SDK's own model, and the SDK's accumulator accepts the sequence."""
    state: ResponseStreamState[Any] = ResponseStreamState(input_tools=omit, text_format=omit)
    for event in events:
        state.handle_event(EVENTS.validate_python(event))
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    ids = {e["response"]["id"] for e in events if "response" in e}
    assert ids == {"resp_stream"}
    return state


def types(events: list[dict[str, Any]]) -> list[str]:
    return [e["type"].removeprefix("response.") for e in events]


def test_text_stream_in_documented_order() -> None:
    events = run_stream([chunk({"role": "assistant", "content": ""}), chunk({"content": "Hel"}), chunk({"content": "lo"}),
                         chunk({}, "stop")])
    assert types(events) == ["created", "in_progress", "output_item.added", "content_part.added", "output_text.delta",
                             "output_text.delta", "output_text.done", "content_part.done", "output_item.done", "completed"]
    check_with_sdk(events)
    final = Response.model_validate(events[-1]["response"])
    assert final.output_text == "Hello" and final.usage is not None and final.usage.total_tokens == 10
    assert events[-1]["response"]["usage"]["cost_usd"] == 0.5
    item_id = events[2]["item"]["id"]
    assert {e.get("item_id") for e in events[3:8]} == {item_id} == {events[8]["item"]["id"]}


def test_reasoning_then_text_then_tool_calls() -> None:
    events = run_stream([
        chunk({"reasoning_content": "Think"}), chunk({"reasoning_content": "ing."}),
        chunk({"thinking_blocks": [{"type": "thinking", "thinking": "Thinking.", "signature": "sig"}]}),
        chunk({"content": "Checking."}),
        chunk({"tool_calls": [{"index": 0, "id": "call_a", "type": "function", "function": {"name": "f", "arguments": ""}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": "{\"a\":"}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": "1}"}}]}),
        chunk({"tool_calls": [{"index": 1, "id": "call_b", "type": "function", "function": {"name": "g", "arguments": "{}"}}]}),
        chunk({}, "tool_calls")])
    assert types(events) == [
        "created", "in_progress",
        "output_item.added", "reasoning_summary_part.added", "reasoning_summary_text.delta", "reasoning_summary_text.delta",
        "reasoning_summary_text.done", "reasoning_summary_part.done", "output_item.done",
        "output_item.added", "content_part.added", "output_text.delta", "output_text.done", "content_part.done", "output_item.done",
        "output_item.added", "function_call_arguments.delta", "function_call_arguments.delta", "function_call_arguments.done",
        "output_item.done",
        "output_item.added", "function_call_arguments.delta", "function_call_arguments.done", "output_item.done",
        "completed"]
    check_with_sdk(events)
    assert [e["output_index"] for e in events if e["type"] == "response.output_item.added"] == [0, 1, 2, 3]
    final = Response.model_validate(events[-1]["response"])
    assert [i.type for i in final.output] == ["reasoning", "message", "function_call", "function_call"]
    assert final.output[2].arguments == "{\"a\":1}" and final.output[2].call_id == "call_a"  # type: ignore[union-attr]
    assert final.output[0].summary[0].text == "Thinking."  # type: ignore[union-attr]


def test_assistant_message_keeps_the_whole_answer() -> None:
    enc = ResponsesEventEncoder("resp_1", "m", {}, 1)
    for c in [chunk({"reasoning_content": "R"}),
              chunk({"thinking_blocks": [{"type": "thinking", "thinking": "R", "signature": "sig"}]}),
              chunk({"content": "T"}),
              chunk({"tool_calls": [{"index": 0, "id": "c1", "function": {"name": "f", "arguments": "{}"}}]}), chunk({}, "tool_calls")]:
        enc.encode(c)
    enc.finish_events(None)
    assert enc.assistant_message() == {
        "role": "assistant", "content": "T", "reasoning_content": "R",
        "thinking_blocks": [{"type": "thinking", "thinking": "R", "signature": "sig"}],
        "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}


def test_length_ends_incomplete() -> None:
    events = run_stream([chunk({"content": "cut"}), chunk({}, "length")])
    assert events[-1]["type"] == "response.incomplete"
    assert events[-1]["response"]["incomplete_details"] == {"reason": "max_output_tokens"}
    assert events[-2]["item"]["status"] == "incomplete"
    check_with_sdk(events)


def test_failure_after_content_ends_with_response_failed() -> None:
    events = run_stream([chunk({"content": "partial"})], fail=True)
    assert types(events)[-3:] == ["content_part.done", "output_item.done", "failed"]
    failed = Response.model_validate(events[-1]["response"])
    assert failed.status == "failed" and failed.error is not None and failed.error.code == "server_error"
    assert "mid-stream" in failed.error.message and failed.output_text == "partial"
    for event in events:
        EVENTS.validate_python(event)


def test_refusal_streams_as_its_own_part() -> None:
    events = run_stream([chunk({"refusal": "I can't "}), chunk({"refusal": "help with that."}), chunk({}, "stop")])
    assert types(events) == ["created", "in_progress", "output_item.added", "content_part.added", "refusal.delta", "refusal.delta",
                             "refusal.done", "content_part.done", "output_item.done", "completed"]
    check_with_sdk(events)
    final = Response.model_validate(events[-1]["response"])
    part = final.output[0].content[0]  # type: ignore[union-attr]
    assert part.type == "refusal" and part.refusal == "I can't help with that."


def test_an_empty_answer_still_opens_and_closes() -> None:
    events = run_stream([chunk({}, "stop")])
    assert types(events) == ["created", "in_progress", "completed"]
    check_with_sdk(events)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(["text", "reason", "refusal", "call", "args"]), max_size=12))
def test_any_chunk_sequence_is_a_valid_event_sequence(steps: list[str]) -> None:
    chunks, calls = [], 0
    for step in steps:
        if step == "text":
            chunks.append(chunk({"content": "t"}))
        elif step == "reason":
            chunks.append(chunk({"reasoning_content": "r"}))
        elif step == "refusal":
            chunks.append(chunk({"refusal": "no"}))
        elif step == "call":
            chunks.append(chunk({"tool_calls": [{"index": calls, "id": f"c{calls}", "function": {"name": "f", "arguments": "{"}}]}))
            calls += 1
        elif calls:
            chunks.append(chunk({"tool_calls": [{"index": calls - 1, "function": {"arguments": "}"}}]}))
    events = run_stream([*chunks, chunk({}, "stop")])
    check_with_sdk(events)
    added = [e["output_index"] for e in events if e["type"] == "response.output_item.added"]
    done = [e["output_index"] for e in events if e["type"] == "response.output_item.done"]
    assert added == done == list(range(len(added)))
