"""Bodies a careless or hostile client sends, each with the field a 400 must name: shared by the
field-validation, ejection and fuzz tests. `CHAT` cases go to /v1/chat/completions, `MESSAGES`
cases to /v1/messages; each is a patch over a valid body for a named model."""

from __future__ import annotations

from typing import Any

USER = [{"role": "user", "content": "hi"}]
FN = {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}
CALL = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}


def chat_body(model: str, **patch: Any) -> dict[str, Any]:
    return {"model": model, "messages": USER, **patch}


def messages_body(model: str, **patch: Any) -> dict[str, Any]:
    return {"model": model, "max_tokens": 64, "messages": USER, **patch}


# (id, patch, the field the 400 names)
CHAT: list[tuple[str, dict[str, Any], str]] = [
    ("stop-int", {"stop": 5}, "stop"),
    ("stop-five-strings", {"stop": ["a", "b", "c", "d", "e"]}, "stop"),
    ("stop-list-of-ints", {"stop": [1, 2]}, "stop"),
    ("temperature-high", {"temperature": 2.5}, "temperature"),
    ("temperature-string", {"temperature": "hot"}, "temperature"),
    ("top-p-high", {"top_p": 1.5}, "top_p"),
    ("n-zero", {"n": 0}, "n"),
    ("n-string", {"n": "2"}, "n"),
    ("response-format-type", {"response_format": {"type": "xml"}}, "response_format.type"),
    ("response-format-no-schema", {"response_format": {"type": "json_schema", "json_schema": {"name": "x"}}},
     "response_format.json_schema.schema"),
    ("response-format-schema-string", {"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": "s"}}},
     "response_format.json_schema.schema"),
    ("tools-not-a-list", {"tools": {"type": "function"}}, "tools"),
    ("tool-without-function", {"tools": [{"type": "function"}]}, "tools[0].function"),
    ("tool-type", {"tools": [{"type": "retrieval", "function": FN}]}, "tools[0].type"),
    ("tool-name-missing", {"tools": [{"type": "function", "function": {"parameters": {"type": "object"}}}]}, "tools[0].function.name"),
    ("tool-name-pattern", {"tools": [{"type": "function", "function": {**FN, "name": "get weather!"}}]}, "tools[0].function.name"),
    ("tool-parameters-string", {"tools": [{"type": "function", "function": {**FN, "parameters": "notaschema"}}]},
     "tools[0].function.parameters"),
    ("tool-choice-word", {"tools": [{"type": "function", "function": FN}], "tool_choice": "sometimes"}, "tool_choice"),
    ("tool-choice-unknown-function", {"tools": [{"type": "function", "function": FN}],
                                      "tool_choice": {"type": "function", "function": {"name": "nope"}}}, "tool_choice.function.name"),
    ("tool-message-without-id", {"messages": [*USER, {"role": "assistant", "content": None, "tool_calls": [CALL]},
                                              {"role": "tool", "content": "sunny"}]}, "messages[2].tool_call_id"),
    ("logprobs-string", {"logprobs": "yes"}, "logprobs"),
    ("top-logprobs-high", {"logprobs": True, "top_logprobs": 50}, "top_logprobs"),
    ("max-tokens-over-limit", {"max_tokens": 10_000_000}, "max_tokens"),
    ("max-completion-tokens-over-limit", {"max_completion_tokens": 10_000_000}, "max_completion_tokens"),
]

MESSAGES: list[tuple[str, dict[str, Any], str]] = [
    ("stop-sequences-int", {"stop_sequences": 5}, "stop_sequences"),
    ("stop-sequences-ints", {"stop_sequences": [1]}, "stop_sequences"),
    ("temperature-high", {"temperature": 1.5}, "temperature"),
    ("top-p-string", {"top_p": "x"}, "top_p"),
    ("top-k-negative", {"top_k": -1}, "top_k"),
    ("tools-not-a-list", {"tools": "all"}, "tools"),
    ("tool-name-missing", {"tools": [{"input_schema": {"type": "object"}}]}, "tools[0].name"),
    ("tool-name-pattern", {"tools": [{"name": "bad name!", "input_schema": {"type": "object"}}]}, "tools[0].name"),
    ("tool-input-schema-string", {"tools": [{"name": "f", "input_schema": "notaschema"}]}, "tools[0].input_schema"),
    ("tool-name-twice", {"tools": [{"name": "f", "input_schema": {"type": "object"}}] * 2}, "tools[1].name"),
    ("tool-choice-type", {"tools": [{"name": "f", "input_schema": {"type": "object"}}], "tool_choice": {"type": "maybe"}},
     "tool_choice.type"),
    ("tool-choice-string", {"tools": [{"name": "f", "input_schema": {"type": "object"}}], "tool_choice": "auto"}, "tool_choice"),
    ("system-number", {"system": 5}, "system"),
    ("max-tokens-over-limit", {"max_tokens": 10_000_000}, "max_tokens"),
    ("metadata-string", {"metadata": "me"}, "metadata"),
    ("thinking-string", {"thinking": "hard"}, "thinking"),
]
