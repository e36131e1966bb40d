"""Demo mode tells the truth about structured output: with every provider simulated, the real
`openai` SDK's `parse()` and `stream()` with a pydantic model, and `json_object` mode, work through
the gateway for each wire format (OpenAI, Anthropic via a forced tool, Gemini's responseJsonSchema).
"""

from __future__ import annotations

import datetime
import enum
import json
from collections.abc import Iterator
from typing import Any, Literal

import anthropic
import openai
import pytest
from pydantic import BaseModel, Field

from tests.gateway_harness import SimulatedGateway

# one model per wire format, pinned to the provider that speaks it
MODELS = {
    "openai": "openai/gpt-4o-mini:openai",
    "anthropic": "anthropic/claude-3.5-haiku:anthropic",
    "gemini": "google/gemini-2.5-flash:google",
}


class Priority(enum.Enum):
    low = "low"
    high = "high"


class Step(BaseModel):
    title: str = Field(min_length=3, max_length=40)
    minutes: int = Field(ge=5, le=90)
    tags: list[str]


class Plan(BaseModel):
    """Nested models ($defs and $ref), an enum, a literal, optionals, a date-time and bounds."""

    goal: str
    priority: Priority
    kind: Literal["trip", "project"]
    due: datetime.datetime
    steps: list[Step] = Field(min_length=2)
    budget: float | None = Field(ge=0)
    code: str = Field(pattern=r"^[A-Z]{2}-\d{3}$")
    parent: Step | None


@pytest.fixture(scope="module")
def demo() -> Iterator[SimulatedGateway]:
    harness = SimulatedGateway().start()
    yield harness
    harness.stop()


def client(h: SimulatedGateway) -> Any:
    return openai.OpenAI(base_url=h.url, api_key="unused", max_retries=0, timeout=20)


MESSAGES = [{"role": "user", "content": "Plan a weekend trip to Lisbon."}]


@pytest.mark.parametrize("wire", list(MODELS))
def test_parse_with_a_pydantic_model(demo: SimulatedGateway, wire: str) -> None:
    completion = client(demo).chat.completions.parse(model=MODELS[wire], messages=MESSAGES, response_format=Plan)
    message = completion.choices[0].message
    assert isinstance(message.parsed, Plan), message.content
    assert len(message.parsed.steps) >= 2 and message.parsed.code[2] == "-"
    assert completion.choices[0].finish_reason == "stop" and not message.tool_calls
    assert completion.usage is not None and completion.usage.completion_tokens > 0


@pytest.mark.parametrize("wire", list(MODELS))
def test_stream_with_a_pydantic_model(demo: SimulatedGateway, wire: str) -> None:
    with client(demo).chat.completions.stream(model=MODELS[wire], messages=MESSAGES, response_format=Plan) as stream:
        deltas = [e for e in stream if e.type == "content.delta"]
        final = stream.get_final_completion()
    assert isinstance(final.choices[0].message.parsed, Plan)
    assert len(deltas) > 1  # streamed in pieces, not one blob at the end
    assert final.choices[0].finish_reason == "stop"


@pytest.mark.parametrize("wire", list(MODELS))
def test_json_object_mode(demo: SimulatedGateway, wire: str) -> None:
    completion = client(demo).chat.completions.create(
        model=MODELS[wire], messages=[{"role": "user", "content": "Reply in JSON."}], response_format={"type": "json_object"})
    assert isinstance(json.loads(completion.choices[0].message.content), dict)


@pytest.mark.parametrize("wire", list(MODELS))
def test_a_non_object_root_schema(demo: SimulatedGateway, wire: str) -> None:
    """Anthropic's tools take objects only: an array root travels wrapped and comes back unwrapped."""
    schema = {"type": "array", "items": {"type": "integer", "minimum": 10}, "minItems": 2}
    fmt = {"type": "json_schema", "json_schema": {"name": "numbers", "schema": schema}}
    completion = client(demo).chat.completions.create(model=MODELS[wire], messages=MESSAGES, response_format=fmt)
    numbers = json.loads(completion.choices[0].message.content)
    assert isinstance(numbers, list) and len(numbers) >= 2 and all(n >= 10 for n in numbers)


def test_structured_output_beside_the_clients_own_tools(demo: SimulatedGateway) -> None:
    """With tools and a response format, a Claude model may call the client's tool: it is not hidden."""
    weather = {"type": "function", "function": {"name": "get_weather", "strict": True, "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"], "additionalProperties": False}}}
    completion = client(demo).chat.completions.parse(
        model=MODELS["anthropic"], messages=MESSAGES, response_format=Plan, tools=[weather])
    call = completion.choices[0].message.tool_calls[0]
    assert call.function.name == "get_weather" and call.function.parsed_arguments == {"city": "sample city"}


def test_anthropic_sdk_gets_json_through_messages(demo: SimulatedGateway) -> None:
    """The same answers reach an Anthropic-format client: a Claude model's forced tool, whole."""
    sdk = anthropic.Anthropic(base_url=demo.base, api_key="unused", max_retries=0, timeout=20)
    tool = {"name": "record_plan", "input_schema": Plan.model_json_schema()}
    message = sdk.messages.create(model="anthropic/claude-3.5-haiku", max_tokens=500, messages=MESSAGES,
                                  tools=[tool], tool_choice={"type": "tool", "name": "record_plan"})
    blocks = [b for b in message.content if b.type == "tool_use"]
    assert blocks and Plan.model_validate(blocks[0].input)



@pytest.mark.parametrize("wire", list(MODELS))
@pytest.mark.parametrize("method", ["json_schema", "function_calling", "json_mode"])
def test_langchain_with_structured_output(demo: SimulatedGateway, wire: str, method: str) -> None:
    """langchain-openai's `with_structured_output`, in each of its methods."""
    from langchain_openai import ChatOpenAI

    llm = ChatOpenAI(model=MODELS[wire], base_url=demo.url, api_key="unused", max_retries=0, timeout=20)  # type: ignore[arg-type]
    schema: Any = Step if method != "json_mode" else {"title": "Step", "type": "object", "properties": {"title": {"type": "string"}}}
    result = llm.with_structured_output(schema, method=method).invoke("Plan one step of a trip.")
    assert isinstance(result, Step) if method != "json_mode" else isinstance(result, dict)
