"""Every field of both inbound APIs is checked before any attempt, for every wire format behind them:
a wrong type or value is a 400 in the API's own error shape that names the field, never a 500 from an
adapter or a 502 from an upstream that got it passed on (issue: `stop: 5` crashed the Claude and
Gemini adapters; `tools: [{"type": "function"}]` went upstream)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import FAST
from tests.gateway_harness import GatewayHarness, simple_model
from tests.hostile_input import CHAT, MESSAGES, chat_body, messages_body

MODELS = {"openai": "test/gpt", "anthropic": "test/claude", "gemini": "test/gemini"}


@pytest.fixture(scope="module")
def gateway() -> Iterator[GatewayHarness]:
    harness = GatewayHarness(
        providers={"oai": {"wire": "openai", "knobs": FAST}, "claude": {"wire": "anthropic", "knobs": FAST},
                   "gem": {"wire": "gemini", "knobs": FAST}},
        models={
            "test/gpt": simple_model({"oai": "gpt-x"}, max_output=4096),
            "test/claude": simple_model({"claude": "claude-x"}, max_output=4096),
            "test/gemini": simple_model({"gem": "gemini-x"}, max_output=4096),
            "test/text-only": simple_model({"oai": "text-x"}, context_window=1000,
                                           capabilities={"tools": True, "vision": False, "json": True}),
        },
    ).start()
    yield harness
    harness.stop()


def upstream_requests(h: GatewayHarness) -> int:
    return sum(h.counters(p).requests for p in h.mocks)


@pytest.mark.parametrize("wire", list(MODELS))
@pytest.mark.parametrize(("patch", "field"), [pytest.param(p, f, id=i) for i, p, f in CHAT])
def test_chat_fields(gateway: GatewayHarness, wire: str, patch: dict[str, Any], field: str) -> None:
    before = upstream_requests(gateway)
    status, _, payload = gateway.raw("POST", "/v1/chat/completions", chat_body(MODELS[wire], **patch))
    assert status == 400, payload
    assert payload["error"]["param"] == field and payload["error"]["type"] == "invalid_request_error", payload
    assert field.split("[")[0].split(".")[0] in payload["error"]["message"]
    assert upstream_requests(gateway) == before  # refused at the gateway, before any attempt


@pytest.mark.parametrize("wire", list(MODELS))
@pytest.mark.parametrize(("patch", "field"), [pytest.param(p, f, id=i) for i, p, f in MESSAGES])
def test_messages_fields(gateway: GatewayHarness, wire: str, patch: dict[str, Any], field: str) -> None:
    before = upstream_requests(gateway)
    status, _, payload = gateway.raw("POST", "/v1/messages", messages_body(MODELS[wire], **patch))
    assert status == 400, payload
    assert payload["type"] == "error" and payload["error"]["type"] == "invalid_request_error", payload  # Anthropic's shape
    assert payload["error"]["message"].startswith(field), payload
    assert upstream_requests(gateway) == before


@pytest.mark.parametrize("wire", list(MODELS))
@pytest.mark.parametrize("patch", [
    {"temperature": 2, "top_p": 1, "stop": ["a", "b", "c", "d"]},
    {"temperature": 0, "top_p": 0, "stop": "END", "max_tokens": 4096},
    {"tools": [{"type": "function", "function": {"name": "get-weather_2", "parameters": {"type": "object"}}}], "tool_choice": "required"},
    {"tools": [{"type": "function", "function": {"name": "f"}}], "tool_choice": {"type": "function", "function": {"name": "f"}}},
    {"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}}},
    {"response_format": {"type": "text"}, "n": 1, "seed": 7, "user": "u-1"},
], ids=["bounds", "low-bounds", "tools", "tool-choice", "json-schema", "text"])
def test_valid_edges_still_pass(gateway: GatewayHarness, wire: str, patch: dict[str, Any]) -> None:
    status, _, payload = gateway.raw("POST", "/v1/chat/completions", chat_body(MODELS[wire], **patch))
    assert status == 200, payload


def test_image_to_a_model_without_vision(gateway: GatewayHarness) -> None:
    content = [{"type": "text", "text": "what is this?"}, {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}]
    status, _, payload = gateway.raw("POST", "/v1/chat/completions", chat_body("test/text-only", messages=[{"role": "user", "content": content}]))
    assert status == 400 and payload["error"]["param"] == "messages[0].content[1]", payload
    assert "test/text-only" in payload["error"]["message"] and "image" in payload["error"]["message"]


def test_prompt_over_the_context_window(gateway: GatewayHarness) -> None:
    long = [{"role": "user", "content": "word " * 5000}]
    status, _, payload = gateway.raw("POST", "/v1/chat/completions", chat_body("test/text-only", messages=long))
    assert status == 400 and payload["error"]["param"] == "messages", payload
    assert "1000" in payload["error"]["message"] and "test/text-only" in payload["error"]["message"]


def test_stop_sequences_wrong_type_answers_in_anthropics_shape(gateway: GatewayHarness) -> None:
    """The issue's case: `stop_sequences: 5` on /v1/messages was a 500 in OpenAI's shape."""
    status, _, payload = gateway.raw("POST", "/v1/messages", messages_body("test/claude", stop_sequences=5))
    assert status == 400 and set(payload) == {"type", "error"} and payload["error"]["type"] == "invalid_request_error"
