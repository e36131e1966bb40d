"""Stored Responses API conversations through the real openai SDK against a running gateway:
previous_response_id across turns answered by different providers and wire formats, GET and DELETE
/v1/responses/{id}, 404s in OpenAI's shape, store:false, the operator's `store.responses: false`, and
one key never reading another's conversations."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from tests.gateway_harness import GatewayHarness, simple_model

FAST = {"ttft_ms": 5.0, "tokens_per_s": 5000.0, "chunks": 4}
GPT, CLAUDE, GEMINI = "openai/gpt-test", "anthropic/claude-test", "google/gemini-test"
KEY_A, KEY_B = "sk-gw-alice-0123456789", "sk-gw-bob-0123456789"
WEATHER: dict[str, Any] = {"type": "function", "name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}


def start(extra_config: dict[str, Any] | None = None) -> GatewayHarness:
    return GatewayHarness(
        providers={"router": {"wire": "openai", "knobs": FAST}, "claude-direct": {"wire": "anthropic", "knobs": FAST},
                   "gemini-direct": {"wire": "gemini", "knobs": FAST}},
        models={GPT: simple_model({"router": "gpt-test-1"}), CLAUDE: simple_model({"claude-direct": "claude-test-1"}),
                GEMINI: simple_model({"gemini-direct": "gemini-test-1"})},
        extra_config={"server": {"api_keys": [KEY_A, KEY_B]}, **(extra_config or {})},
    ).start()


@pytest.fixture(scope="module")
def gateway() -> Iterator[GatewayHarness]:
    harness = start()
    yield harness
    harness.stop()


def client(h: GatewayHarness, key: str = KEY_A) -> Any:
    return openai.OpenAI(base_url=h.url, api_key=key, max_retries=0, timeout=20)


def test_three_turns_across_providers(gateway: GatewayHarness) -> None:
    sdk = client(gateway)
    first = sdk.responses.create(model=GPT, input="My name is Ada.", instructions="Answer in one line.")
    second = sdk.responses.create(model=CLAUDE, input="Weather in Oslo?", previous_response_id=first.id, tools=[WEATHER],
                                  tool_choice="required")
    call = next(item for item in second.output if item.type == "function_call")
    third = sdk.responses.create(model=GEMINI, previous_response_id=second.id, stream=True,
                                 input=[{"type": "function_call_output", "call_id": call.call_id, "output": "minus 3C"}])
    events = list(third)
    assert events[-1].type == "response.completed" and events[-1].response.previous_response_id == second.id
    sent = json.dumps(gateway.counters("gemini-direct").last_body)
    # the Gemini turn saw the first user turn, the OpenAI answer, the Claude tool call and its result
    assert "My name is Ada." in sent and first.output_text.split()[0] in sent and "minus 3C" in sent and "get_weather" in sent
    assert "Answer in one line." not in sent  # instructions belong to their own turn, as in OpenAI's API
    claude_sent = json.dumps(gateway.counters("claude-direct").last_body)
    assert "My name is Ada." in claude_sent and first.output_text in claude_sent


def test_a_streamed_turn_is_kept_before_it_completes(gateway: GatewayHarness) -> None:
    sdk = client(gateway)
    with sdk.responses.stream(model=CLAUDE, input="Remember: the code word is heron.") as stream:
        for event in stream:
            if event.type == "response.completed":  # chain at once, before the stream has even closed
                follow = sdk.responses.create(model=GPT, input="What was the code word?", previous_response_id=event.response.id)
    assert follow.previous_response_id == event.response.id
    assert "heron" in json.dumps(gateway.counters("router").last_body)


def test_get_and_delete(gateway: GatewayHarness) -> None:
    sdk = client(gateway)
    made = sdk.responses.create(model=GPT, input="Remember this.", metadata={"topic": "memo"})
    fetched = sdk.responses.retrieve(made.id)
    assert fetched.id == made.id and fetched.output_text == made.output_text and fetched.metadata == {"topic": "memo"}
    sdk.responses.delete(made.id)
    with pytest.raises(openai.NotFoundError):
        sdk.responses.retrieve(made.id)
    with pytest.raises(openai.NotFoundError):
        sdk.responses.delete(made.id)


def test_input_items_are_listed(gateway: GatewayHarness) -> None:
    sdk = client(gateway)
    made = sdk.responses.create(model=GPT, input=[
        {"role": "developer", "content": "Be terse."},
        {"role": "user", "content": [{"type": "input_text", "text": "Hi"}], "id": "msg_client_1"},
        {"type": "function_call", "call_id": "c1", "name": "get_weather", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "sunny"}], tools=[WEATHER])
    newest_first = list(sdk.responses.input_items.list(made.id))
    assert [item.type for item in newest_first] == ["function_call_output", "function_call", "message", "message"]
    assert newest_first[2].id == "msg_client_1" and all(item.id for item in newest_first)
    assert newest_first[3].content[0].type == "input_text" and newest_first[3].content[0].text == "Be terse."  # type: ignore[union-attr]
    first = sdk.responses.input_items.list(made.id, order="asc", limit=1)
    assert [item.type for item in first.data] == ["message"] and first.has_more
    rest = sdk.responses.input_items.list(made.id, order="asc", limit=10, after=first.data[0].id)
    assert [item.id for item in rest.data] == [item.id for item in reversed(newest_first)][1:] and not rest.has_more
    with pytest.raises(openai.NotFoundError):
        client(gateway, KEY_B).responses.input_items.list(made.id)


def test_unknown_ids_are_404s_in_openai_shape(gateway: GatewayHarness) -> None:
    sdk = client(gateway)
    with pytest.raises(openai.NotFoundError) as caught:
        sdk.responses.retrieve("resp_unknown")
    assert caught.value.code == "not_found"
    with pytest.raises(openai.NotFoundError) as caught:
        sdk.responses.create(model=GPT, input="x", previous_response_id="resp_unknown")
    assert caught.value.param == "previous_response_id"


def test_store_false_keeps_nothing(gateway: GatewayHarness) -> None:
    sdk = client(gateway)
    made = sdk.responses.create(model=GPT, input="Forget this.", store=False)
    assert made.store is False
    with pytest.raises(openai.NotFoundError):
        sdk.responses.retrieve(made.id)


def test_a_key_reads_only_its_own_responses(gateway: GatewayHarness) -> None:
    alice, bob = client(gateway, KEY_A), client(gateway, KEY_B)
    made = alice.responses.create(model=GPT, input="Alice's secret.")
    with pytest.raises(openai.NotFoundError):
        bob.responses.retrieve(made.id)
    with pytest.raises(openai.NotFoundError):
        bob.responses.create(model=GPT, input="What did she say?", previous_response_id=made.id)
    with pytest.raises(openai.NotFoundError):
        bob.responses.delete(made.id)
    assert alice.responses.retrieve(made.id).id == made.id


def test_operator_can_refuse_to_keep_conversations() -> None:
    harness = start({"store": {"responses": False, "data_dir": tempfile.mkdtemp(prefix="switchyard-test-")}})
    try:
        sdk = client(harness)
        made = sdk.responses.create(model=GPT, input="Hi")
        assert made.store is False
        with pytest.raises(openai.NotFoundError):
            sdk.responses.retrieve(made.id)
        with pytest.raises(openai.BadRequestError) as caught:
            sdk.responses.create(model=GPT, input="again", previous_response_id=made.id)
        assert caught.value.param == "previous_response_id" and "store.responses" in caught.value.message
    finally:
        harness.stop()


def test_another_replica_answers_the_next_turn(postgres: Any) -> None:
    """Two gateways on one PostgreSQL store: a conversation begun at one goes on at the other."""
    url = postgres.new_database()
    one, two = start({"store": {"url": url}}), start({"store": {"url": url}})
    try:
        first = client(one).responses.create(model=GPT, input="My name is Ada.")
        second = client(two).responses.create(model=CLAUDE, input="What is my name?", previous_response_id=first.id)
        assert second.previous_response_id == first.id
        assert "My name is Ada." in json.dumps(two.counters("claude-direct").last_body)
        assert client(two).responses.retrieve(first.id).output_text == first.output_text
        with pytest.raises(openai.NotFoundError):
            client(two, KEY_B).responses.retrieve(first.id)
    finally:
        one.stop()
        two.stop()


def test_a_store_outage_is_a_clear_503_and_store_false_still_answers(postgres: Any) -> None:
    harness = start({"store": {"url": postgres.new_database()}})
    try:
        postgres.stop()
        sdk = client(harness)
        with pytest.raises(openai.InternalServerError) as caught:
            sdk.responses.create(model=GPT, input="Hi")
        assert caught.value.status_code == 503 and caught.value.code == "store_unavailable"
        assert sdk.responses.create(model=GPT, input="Hi", store=False).output_text
    finally:
        postgres.start()
        harness.stop()
