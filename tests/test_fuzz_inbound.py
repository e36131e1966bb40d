"""Fuzzing both inbound APIs over real sockets, to every wire format: arbitrary JSON bodies, and
valid bodies with arbitrary values in one field (top level or nested), find no 5xx that the gateway
itself caused and no crash. A client's own deadline may end in a 504; nothing else may be a 5xx,
because every simulated provider is healthy: a 502 here means the gateway passed on something
that crashed a translator or an upstream.

The example budget is small for CI (~30-60 s for the file). For a long run:
`SWITCHYARD_FUZZ_EXAMPLES=20000 python -m pytest -q tests/test_fuzz_inbound.py --hypothesis-show-statistics`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.conftest import FAST
from tests.gateway_harness import GatewayHarness, simple_model
from tests.hostile_input import chat_body, messages_body

EXAMPLES = int(os.environ.get("SWITCHYARD_FUZZ_EXAMPLES", "300"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
MODELS = ["test/gpt", "test/claude", "test/gemini", "test/text-only", "auto", "test/gpt:oai", "nope/unknown"]

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
# values a field commonly takes, beside arbitrary JSON: they get deeper into the gateway
NEAR = st.sampled_from([0, 1, -1, 2, 5, 4096, 10**9, 0.5, 1.5, "", "auto", "none", "required", "text", [], {}, [""], ["a"] * 5,
                        {"type": "function"}, {"type": "object"}, {"type": "json_schema"}, True, False, None])
VALUES = JSON | NEAR

TOOL = {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {"x": {"type": "string"}}}}}
CHAT_FIELDS = ["model", "messages", "stream", "stream_options", "temperature", "top_p", "n", "stop", "max_tokens",
               "max_completion_tokens", "presence_penalty", "frequency_penalty", "logit_bias", "logprobs", "top_logprobs",
               "response_format", "seed", "tools", "tool_choice", "parallel_tool_calls", "user", "reasoning_effort",
               "provider", "model_routing_config", "switchyard", "metadata", "service_tier", "modalities"]
# nested places: (path, the valid body's value to patch into)
CHAT_PATHS: list[tuple[str, ...]] = [
    ("messages", 0, "role"), ("messages", 0, "content"), ("messages", 0, "content", 0), ("messages", 0, "content", 0, "image_url"),
    ("messages", 1, "tool_calls", 0, "function", "arguments"), ("messages", 1, "tool_calls"), ("messages", 2, "tool_call_id"),
    ("tools", 0, "type"), ("tools", 0, "function"), ("tools", 0, "function", "name"), ("tools", 0, "function", "parameters"),
    ("tools", 0, "function", "parameters", "properties"), ("response_format", "json_schema", "schema"), ("response_format", "type"),
    ("tool_choice", "function", "name"), ("stream_options", "include_usage"), ("provider", "routing"), ("switchyard", "timeouts"),
]
MESSAGES_FIELDS = ["model", "max_tokens", "messages", "system", "stop_sequences", "temperature", "top_p", "top_k", "tools",
                   "tool_choice", "metadata", "thinking", "stream", "provider", "switchyard", "service_tier"]
MESSAGES_PATHS: list[tuple[str, ...]] = [
    ("messages", 0, "role"), ("messages", 0, "content"), ("messages", 0, "content", 0), ("messages", 0, "content", 0, "type"),
    ("messages", 1, "content", 0, "input"), ("messages", 2, "content", 0, "tool_use_id"), ("messages", 2, "content", 0, "content"),
    ("tools", 0, "name"), ("tools", 0, "input_schema"), ("tool_choice", "type"), ("tool_choice", "name"), ("system", 0),
    ("thinking", "budget_tokens"), ("metadata", "user_id"),
]


def rich_chat_body(model: str) -> dict[str, Any]:
    """A valid body that uses most fields, so a patch lands somewhere real."""
    content = [{"type": "text", "text": "look"}, {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}]
    call = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{\"x\": \"1\"}"}}
    messages = [{"role": "user", "content": content}, {"role": "assistant", "content": None, "tool_calls": [call]},
                {"role": "tool", "tool_call_id": "call_1", "content": "done"}]
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    return chat_body(model, messages=messages, tools=[TOOL], tool_choice={"type": "function", "function": {"name": "f"}},
                     response_format={"type": "json_schema", "json_schema": {"name": "r", "schema": schema}},
                     stream_options={"include_usage": True}, provider={"routing": {"type": "priority", "primary_factor": "price"}},
                     switchyard={"timeouts": {"total_s": 30}}, temperature=0.5, max_tokens=50)


def rich_messages_body(model: str) -> dict[str, Any]:
    messages = [{"role": "user", "content": [{"type": "text", "text": "weather?"}]},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"x": "1"}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"}]}]
    tool = {"name": "f", "input_schema": {"type": "object", "properties": {"x": {"type": "string"}}}}
    return messages_body(model, messages=messages, system=[{"type": "text", "text": "be brief"}], tools=[tool],
                         tool_choice={"type": "auto"}, metadata={"user_id": "u"}, thinking={"type": "enabled", "budget_tokens": 1024},
                         temperature=1, max_tokens=2000)


def patched(body: dict[str, Any], path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    """`body` with the value at `path` replaced; a path that is not there leaves the body as it was."""
    out = orjson.loads(orjson.dumps(body))
    node = out
    for key in path[:-1]:
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            return out
    try:
        node[path[-1]] = value
    except (IndexError, TypeError):
        pass
    return out


@pytest.fixture(scope="module")
def gateway() -> Iterator[GatewayHarness]:
    harness = GatewayHarness(
        providers={"oai": {"wire": "openai", "knobs": FAST}, "claude": {"wire": "anthropic", "knobs": FAST},
                   "gem": {"wire": "gemini", "knobs": FAST}},
        models={
            "test/gpt": simple_model({"oai": "gpt-x"}),
            "test/claude": simple_model({"claude": "claude-x"}),
            "test/gemini": simple_model({"gem": "gemini-x"}),
            "test/text-only": simple_model({"oai": "text-x"}, context_window=2000, capabilities={"tools": False, "vision": False, "json": False}),
        },
    ).start()
    yield harness
    harness.stop()


def asked_for_a_short_deadline(body: Any) -> bool:
    """A client's own timeouts (`switchyard.timeouts`) under 10 s: a 504 is then the client's doing."""
    gateway_part = body.get("switchyard") if isinstance(body, dict) else None
    timeouts = gateway_part.get("timeouts") if isinstance(gateway_part, dict) else None
    if not isinstance(timeouts, dict):
        return False
    return any(isinstance(v, int | float) and not isinstance(v, bool) and v < 10 for v in timeouts.values())


def check_answer(path: str, body: Any, status: int, payload: Any) -> None:
    event(f"{path} -> {status}")
    client_deadline = asked_for_a_short_deadline(body)
    assert status < 500 or (status == 504 and client_deadline), (status, body, payload)
    if status >= 400:
        if path.startswith("/v1/messages"):
            assert isinstance(payload, dict) and payload.get("type") == "error" and payload["error"]["message"], payload
        else:
            assert isinstance(payload, dict) and payload["error"]["message"], payload
    elif isinstance(payload, str):  # a stream: no error event of the gateway's own making
        assert "internal_error" not in payload, payload


def send(h: GatewayHarness, path: str, body: Any) -> None:
    status, _, payload = h.raw("POST", path, json.dumps(body).encode())  # json: integers past 64 bits too
    check_answer(path, body, status, payload)


@FUZZ
@given(body=JSON, path=st.sampled_from(["/v1/chat/completions", "/v1/messages", "/v1/messages/count_tokens", "/v1/route"]))
def test_arbitrary_json_bodies(gateway: GatewayHarness, body: Any, path: str) -> None:
    send(gateway, path, body)


@FUZZ
@given(model=st.sampled_from(MODELS), field=st.sampled_from(CHAT_FIELDS), value=VALUES, stream=st.booleans(), rich=st.booleans())
def test_chat_one_field_arbitrary(gateway: GatewayHarness, model: str, field: str, value: Any, stream: bool, rich: bool) -> None:
    body = rich_chat_body(model) if rich else chat_body(model)
    send(gateway, "/v1/chat/completions", {**body, "stream": stream, field: value})


@FUZZ
@given(model=st.sampled_from(MODELS), path=st.sampled_from(CHAT_PATHS), value=VALUES, stream=st.booleans())
def test_chat_nested_value_arbitrary(gateway: GatewayHarness, model: str, path: tuple[str, ...], value: Any, stream: bool) -> None:
    send(gateway, "/v1/chat/completions", patched({**rich_chat_body(model), "stream": stream}, path, value))


@FUZZ
@given(model=st.sampled_from(MODELS), field=st.sampled_from(MESSAGES_FIELDS), value=VALUES, stream=st.booleans(), rich=st.booleans())
def test_messages_one_field_arbitrary(gateway: GatewayHarness, model: str, field: str, value: Any, stream: bool, rich: bool) -> None:
    body = rich_messages_body(model) if rich else messages_body(model)
    send(gateway, "/v1/messages", {**body, "stream": stream, field: value})


@FUZZ
@given(model=st.sampled_from(MODELS), path=st.sampled_from(MESSAGES_PATHS), value=VALUES, stream=st.booleans())
def test_messages_nested_value_arbitrary(gateway: GatewayHarness, model: str, path: tuple[str, ...], value: Any, stream: bool) -> None:
    send(gateway, "/v1/messages", patched({**rich_messages_body(model), "stream": stream}, path, value))


def test_still_serving_after_the_fuzz(gateway: GatewayHarness) -> None:
    for model in ("test/gpt", "test/claude", "test/gemini"):
        status, _, payload = gateway.raw("POST", "/v1/chat/completions", chat_body(model))
        assert status == 200, payload
    assert gateway.gateway.in_flight == 0
