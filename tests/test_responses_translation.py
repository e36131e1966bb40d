"""The OpenAI Responses API translation, pure: `/v1/responses` bodies -> internal chat requests, and
internal completions -> Response objects checked against the openai SDK's own model. No sockets.
(The event stream's tests are in test_responses_events.py.)"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from proxy.api.responses_inbound import to_responses_request
from proxy.api.responses_output import pack_reasoning, to_response, unpack_reasoning
from proxy.errors import GatewayError

EVENTS: TypeAdapter[Any] = TypeAdapter(ResponseStreamEvent)
WEATHER = {"type": "function", "name": "get_weather", "description": "Weather by city",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
CHAT_WEATHER = {"type": "function", "function": {"name": "get_weather", "description": "Weather by city",
                                                 "parameters": WEATHER["parameters"]}}
IMAGE = "data:image/png;base64,iVBORw0KGgo="


def internal(body: dict[str, Any], history: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return to_responses_request({"model": "openai/gpt-4o", **body}).chat_body(history)


# -- request: Responses -> internal ------------------------------------------------------------

REQUEST_CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("input string", {"input": "Hi"}, {"model": "openai/gpt-4o", "messages": [{"role": "user", "content": "Hi"}]}),
    ("instructions first", {"input": "Hi", "instructions": "Be brief."},
     {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]}),
    ("easy messages, all roles", {"input": [{"role": "developer", "content": "D"}, {"role": "system", "content": "S"},
                                            {"role": "user", "content": "U"}, {"role": "assistant", "content": "A"}]},
     {"messages": [{"role": "developer", "content": "D"}, {"role": "system", "content": "S"}, {"role": "user", "content": "U"},
                   {"role": "assistant", "content": "A"}]}),
    ("one input_text part is a string", {"input": [{"type": "message", "role": "user", "content": [
        {"type": "input_text", "text": "a"}]}]}, {"messages": [{"role": "user", "content": "a"}]}),
    ("several input_text parts stay parts", {"input": [{"role": "system", "content": [
        {"type": "input_text", "text": "a"}, {"type": "input_text", "text": "b"}]}]},
     {"messages": [{"role": "system", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}]}),
    ("input_image url and detail", {"input": [{"role": "user", "content": [
        {"type": "input_text", "text": "What?"}, {"type": "input_image", "image_url": IMAGE, "detail": "high"}]}]},
     {"messages": [{"role": "user", "content": [{"type": "text", "text": "What?"},
                                                {"type": "image_url", "image_url": {"url": IMAGE, "detail": "high"}}]}]}),
    ("input_file inline", {"input": [{"role": "user", "content": [
        {"type": "input_file", "file_data": "data:application/pdf;base64,JVBERi0=", "filename": "a.pdf"}]}]},
     {"messages": [{"role": "user", "content": [{"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0=",
                                                                           "filename": "a.pdf"}}]}]}),
    ("assistant output_text", {"input": [{"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Hey"}]}]},
     {"messages": [{"role": "assistant", "content": "Hey"}]}),
    ("function tool round trip", {"input": [
        {"role": "user", "content": "Weather in Paris?"},
        {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": "{\"city\":\"Paris\"}"},
        {"type": "function_call", "call_id": "call_2", "name": "get_weather", "arguments": "{\"city\":\"Rome\"}"},
        {"type": "function_call_output", "call_id": "call_1", "output": "18C"},
        {"type": "function_call_output", "call_id": "call_2", "output": [{"type": "input_text", "text": "21C"}]}]},
     {"messages": [{"role": "user", "content": "Weather in Paris?"},
                   {"role": "assistant", "content": None, "tool_calls": [
                       {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
                       {"id": "call_2", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Rome\"}"}}]},
                   {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
                   {"role": "tool", "tool_call_id": "call_2", "content": "21C"}]}),
    ("text before a call joins its assistant message", {"input": [
        {"role": "assistant", "content": "Let me check."},
        {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"}]},
     {"messages": [{"role": "assistant", "content": "Let me check.",
                    "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}]}),
    ("reasoning item becomes the next assistant's reasoning", {"input": [
        {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "Think."}],
         "encrypted_content": pack_reasoning([{"type": "thinking", "thinking": "Think.", "signature": "sig"}])},
        {"role": "assistant", "content": "Done."}]},
     {"messages": [{"role": "assistant", "content": "Done.", "reasoning_content": "Think.",
                    "thinking_blocks": [{"type": "thinking", "thinking": "Think.", "signature": "sig"}]}]}),
    ("function tools and tool_choice", {"input": "x", "tools": [WEATHER], "tool_choice": "required", "parallel_tool_calls": False},
     {"tools": [CHAT_WEATHER], "tool_choice": "required", "parallel_tool_calls": False}),
    ("tool_choice naming a function", {"input": "x", "tools": [WEATHER], "tool_choice": {"type": "function", "name": "get_weather"}},
     {"tool_choice": {"type": "function", "function": {"name": "get_weather"}}}),
    ("allowed_tools narrows the list", {"input": "x", "tools": [WEATHER, {"type": "function", "name": "other", "strict": True}],
                                        "tool_choice": {"type": "allowed_tools", "mode": "auto",
                                                        "tools": [{"type": "function", "name": "get_weather"}]}},
     {"tools": [CHAT_WEATHER], "tool_choice": "auto"}),
    ("text.format json_object", {"input": "x", "text": {"format": {"type": "json_object"}}}, {"response_format": {"type": "json_object"}}),
    ("text.format json_schema strict", {"input": "x", "text": {"format": {
        "type": "json_schema", "name": "Person", "schema": {"type": "object"}, "strict": True, "description": "d"}}},
     {"response_format": {"type": "json_schema", "json_schema": {"name": "Person", "schema": {"type": "object"}, "strict": True,
                                                                 "description": "d"}}}),
    ("sampling and limits", {"input": "x", "temperature": 0.2, "top_p": 0.9, "max_output_tokens": 64, "user": "u1",
                             "reasoning": {"effort": "low", "summary": "auto"}},
     {"temperature": 0.2, "top_p": 0.9, "max_completion_tokens": 64, "user": "u1", "reasoning_effort": "low"}),
    ("stream asks the pipeline for usage", {"input": "x", "stream": True}, {"stream": True, "stream_options": {"include_usage": True}}),
    ("gateway fields pass through", {"input": "x", "provider": {"routing": {"type": "order", "providers": ["azure"]}}},
     {"provider": {"routing": {"type": "order", "providers": ["azure"]}}}),
]


@pytest.mark.parametrize(("name", "body", "expected"), REQUEST_CASES, ids=[c[0] for c in REQUEST_CASES])
def test_request_translation(name: str, body: dict[str, Any], expected: dict[str, Any]) -> None:
    out = internal(body)
    for key, value in expected.items():
        assert out[key] == value, f"{name}: {key}"


def test_tool_choice_without_tools_is_not_sent() -> None:
    out = internal({"input": "x", "tool_choice": "none", "parallel_tool_calls": False})
    assert "tool_choice" not in out and "parallel_tool_calls" not in out and "tools" not in out


def test_history_goes_between_instructions_and_input() -> None:
    history = [{"role": "user", "content": "1"}, {"role": "assistant", "content": "2"}]
    out = internal({"input": "3", "instructions": "I"}, history)
    assert [m["content"] for m in out["messages"]] == ["I", "1", "2", "3"]


def test_input_items_as_listed() -> None:
    items = to_responses_request({"model": "m", "input": "Hi"}).input_items()
    assert items[0]["type"] == "message" and items[0]["content"] == [{"type": "input_text", "text": "Hi"}]
    assert items[0]["id"].startswith("msg_") and items[0]["status"] == "completed"
    given = [{"role": "assistant", "content": "Yo"}, {"type": "function_call_output", "call_id": "c", "output": "1", "id": "fco_1"}]
    listed = to_responses_request({"model": "m", "input": given}).input_items()
    assert listed[0]["content"] == [{"type": "output_text", "text": "Yo", "annotations": []}] and listed[1]["id"] == "fco_1"
    assert given[0] == {"role": "assistant", "content": "Yo"}  # the client's objects are not changed


def test_echo_and_store_flags() -> None:
    req = to_responses_request({"model": "m", "input": "x", "store": False, "previous_response_id": "resp_1",
                                "metadata": {"k": "v"}, "include": ["reasoning.encrypted_content"]})
    assert (req.store, req.previous_response_id, req.include) == (False, "resp_1", ("reasoning.encrypted_content",))
    assert req.echo["metadata"] == {"k": "v"}
    assert to_responses_request({"model": "m", "input": "x"}).store is True  # OpenAI's default


ERROR_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("no model", {"input": "x"}, "model"),
    ("no input", {"model": "m"}, "input"),
    ("input a number", {"model": "m", "input": 3}, "input"),
    ("empty input list", {"model": "m", "input": []}, "input"),
    ("bad role", {"model": "m", "input": [{"role": "tool", "content": "x"}]}, "input[0].role"),
    ("empty content parts", {"model": "m", "input": [{"role": "user", "content": []}]}, "input[0].content"),
    ("bad part type", {"model": "m", "input": [{"role": "user", "content": [{"type": "text", "text": "x"}]}]}, "input[0].content[0].type"),
    ("image without url", {"model": "m", "input": [{"role": "user", "content": [{"type": "input_image", "detail": "auto"}]}]},
     "input[0].content[0].image_url"),
    ("image by file id", {"model": "m", "input": [{"role": "user", "content": [{"type": "input_image", "file_id": "file_1"}]}]},
     "input[0].content[0].file_id"),
    ("function_call without call_id", {"model": "m", "input": [{"type": "function_call", "name": "f", "arguments": "{}"}]},
     "input[0].call_id"),
    ("function_call_output without output", {"model": "m", "input": [{"type": "function_call_output", "call_id": "c"}]},
     "input[0].output"),
    ("hosted tool item", {"model": "m", "input": [{"type": "web_search_call", "id": "ws", "status": "completed"}]}, "input[0].type"),
    ("item reference", {"model": "m", "input": [{"type": "item_reference", "id": "msg_1"}]}, "input[0].type"),
    ("web_search tool", {"model": "m", "input": "x", "tools": [{"type": "web_search"}]}, "tools[0].type"),
    ("file_search tool", {"model": "m", "input": "x", "tools": [WEATHER, {"type": "file_search", "vector_store_ids": []}]}, "tools[1].type"),
    ("custom tool", {"model": "m", "input": "x", "tools": [{"type": "custom", "name": "shell"}]}, "tools[0].type"),
    ("function tool without name", {"model": "m", "input": "x", "tools": [{"type": "function"}]}, "tools[0].name"),
    ("tool_choice unknown string", {"model": "m", "input": "x", "tool_choice": "any"}, "tool_choice"),
    ("tool_choice names a missing function", {"model": "m", "input": "x", "tools": [WEATHER],
                                              "tool_choice": {"type": "function", "name": "nope"}}, "tool_choice.name"),
    ("tool_choice hosted", {"model": "m", "input": "x", "tool_choice": {"type": "web_search_preview"}}, "tool_choice.type"),
    ("parallel_tool_calls a string", {"model": "m", "input": "x", "parallel_tool_calls": "yes"}, "parallel_tool_calls"),
    ("text.format unknown", {"model": "m", "input": "x", "text": {"format": {"type": "xml"}}}, "text.format.type"),
    ("json_schema without name", {"model": "m", "input": "x", "text": {"format": {"type": "json_schema", "schema": {}}}},
     "text.format.name"),
    ("json_schema without schema", {"model": "m", "input": "x", "text": {"format": {"type": "json_schema", "name": "n"}}},
     "text.format.schema"),
    ("strict not a bool", {"model": "m", "input": "x", "text": {"format": {"type": "json_schema", "name": "n", "schema": {},
                                                                            "strict": "true"}}}, "text.format.strict"),
    ("reasoning effort unknown", {"model": "m", "input": "x", "reasoning": {"effort": "extreme"}}, "reasoning.effort"),
    ("reasoning summary unknown", {"model": "m", "input": "x", "reasoning": {"summary": "long"}}, "reasoning.summary"),
    ("max_output_tokens too small", {"model": "m", "input": "x", "max_output_tokens": 5}, "max_output_tokens"),
    ("max_output_tokens a bool", {"model": "m", "input": "x", "max_output_tokens": True}, "max_output_tokens"),
    ("temperature out of range", {"model": "m", "input": "x", "temperature": 3}, "temperature"),
    ("top_p a string", {"model": "m", "input": "x", "top_p": "0.5"}, "top_p"),
    ("metadata value not a string", {"model": "m", "input": "x", "metadata": {"k": 1}}, "metadata.k"),
    ("metadata too many keys", {"model": "m", "input": "x", "metadata": {str(i): "v" for i in range(17)}}, "metadata"),
    ("store a string", {"model": "m", "input": "x", "store": "no"}, "store"),
    ("stream an int", {"model": "m", "input": "x", "stream": 1}, "stream"),
    ("previous_response_id a number", {"model": "m", "input": "x", "previous_response_id": 7}, "previous_response_id"),
    ("background", {"model": "m", "input": "x", "background": True}, "background"),
    ("conversation", {"model": "m", "input": "x", "conversation": "conv_1"}, "conversation"),
    ("prompt template", {"model": "m", "input": "x", "prompt": {"id": "pmpt_1"}}, "prompt"),
    ("truncation auto", {"model": "m", "input": "x", "truncation": "auto"}, "truncation"),
    ("top_logprobs", {"model": "m", "input": "x", "top_logprobs": 3}, "top_logprobs"),
    ("include unknown", {"model": "m", "input": "x", "include": ["everything"]}, "include[0]"),
    ("include logprobs", {"model": "m", "input": "x", "include": ["reasoning.encrypted_content", "message.output_text.logprobs"]},
     "include[1]"),
    ("unknown parameter", {"model": "m", "input": "x", "messages": []}, "messages"),
]


@pytest.mark.parametrize(("name", "body", "param"), ERROR_CASES, ids=[c[0] for c in ERROR_CASES])
def test_bad_requests_name_the_field(name: str, body: dict[str, Any], param: str) -> None:
    with pytest.raises(GatewayError) as caught:
        to_responses_request(body)
    err = caught.value
    assert err.status == 400 and err.param == param, f"{name}: {err.message}"
    assert err.type == "invalid_request_error"


def test_hosted_tool_refusal_says_what_to_do() -> None:
    with pytest.raises(GatewayError) as caught:
        to_responses_request({"model": "m", "input": "x", "tools": [{"type": "web_search"}]})
    assert "'web_search'" in caught.value.message and "function tool" in caught.value.message


JSONISH = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
                       lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=8), kids, max_size=3), max_leaves=12)
FIELDS = st.sampled_from(["model", "input", "instructions", "tools", "tool_choice", "text", "reasoning", "metadata", "store",
                          "stream", "max_output_tokens", "temperature", "include", "parallel_tool_calls", "previous_response_id"])


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(FIELDS, JSONISH, max_size=6))
def test_any_body_is_translated_or_refused_with_a_400(body: dict[str, Any]) -> None:
    try:
        req = to_responses_request(body)
    except GatewayError as exc:
        assert exc.status == 400 and exc.message
        return
    assert req.chat_body()["messages"]


# -- response: internal -> Response ------------------------------------------------------------


def completion(message: dict[str, Any], finish: str = "stop", usage: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"id": "chatcmpl-1", "object": "chat.completion", "created": 1700000000, "model": "openai/gpt-4o",
            "choices": [{"index": 0, "message": {"role": "assistant", **message}, "finish_reason": finish}],
            "usage": usage or {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15, "cost_usd": 0.0001}}


def test_text_answer_as_a_response() -> None:
    usage = {"prompt_tokens": 100, "completion_tokens": 40, "total_tokens": 140, "cost_usd": 0.0012,
             "prompt_tokens_details": {"cached_tokens": 64}, "completion_tokens_details": {"reasoning_tokens": 12}}
    data = to_response(completion({"content": "Hello!"}, usage=usage), "resp_abc", {"instructions": "I", "metadata": {"k": "v"}})
    parsed = Response.model_validate(data)
    assert parsed.id == "resp_abc" and parsed.status == "completed" and parsed.output_text == "Hello!"
    assert parsed.model == "openai/gpt-4o" and parsed.instructions == "I" and parsed.metadata == {"k": "v"}
    assert parsed.usage is not None
    assert (parsed.usage.input_tokens, parsed.usage.output_tokens, parsed.usage.total_tokens) == (100, 40, 140)
    assert parsed.usage.input_tokens_details.cached_tokens == 64
    assert parsed.usage.output_tokens_details.reasoning_tokens == 12
    assert data["usage"]["cost_usd"] == 0.0012 and data["output_text"] == "Hello!"
    assert parsed.output[0].id.startswith("msg_")


def test_tool_calls_and_reasoning_as_output_items() -> None:
    message = {"content": None, "reasoning_content": "Need weather.",
               "thinking_blocks": [{"type": "thinking", "thinking": "Need weather.", "signature": "s1"}],
               "tool_calls": [{"id": "call_9", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Oslo\"}"}}]}
    data = to_response(completion(message, "tool_calls"), "resp_x", {}, include_packed=True)
    parsed = Response.model_validate(data)
    kinds = [item.type for item in parsed.output]
    assert kinds == ["reasoning", "function_call"]
    reasoning, call = parsed.output
    assert reasoning.type == "reasoning" and reasoning.summary[0].text == "Need weather."
    assert reasoning.encrypted_content and unpack_reasoning(reasoning.encrypted_content)[0]["signature"] == "s1"
    assert call.type == "function_call" and call.call_id == "call_9" and call.arguments == "{\"city\":\"Oslo\"}"
    assert parsed.output_text == ""
    assert "encrypted_content" not in to_response(completion(message, "tool_calls"), "resp_x", {})["output"][0]


@pytest.mark.parametrize(("finish", "status", "reason"), [("stop", "completed", None), ("tool_calls", "completed", None),
                                                          ("length", "incomplete", "max_output_tokens"),
                                                          ("content_filter", "incomplete", "content_filter")])
def test_status_follows_the_finish_reason(finish: str, status: str, reason: str | None) -> None:
    parsed = Response.model_validate(to_response(completion({"content": "cut"}, finish), "resp_1", {}))
    assert parsed.status == status
    assert (parsed.incomplete_details.reason if parsed.incomplete_details else None) == reason


def test_refusal_is_its_own_part() -> None:
    parsed = Response.model_validate(to_response(completion({"content": None, "refusal": "No."}), "resp_1", {}))
    assert parsed.output[0].type == "message" and parsed.output[0].content[0].type == "refusal"


def test_foreign_encrypted_content_is_ignored() -> None:
    assert unpack_reasoning("gAAAAABo-openai-ciphertext") == [] and unpack_reasoning("swy1.!!!") == []
