"""What the gateway cannot pass on it does itself or says so, never drops: `n > 1` goes through where the
wire format has `n` and fans out as parallel attempts where it does not (usage and cost summed);
`logprobs` goes to providers that return them and is a 400 where none can; streamed `n` likewise."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import openai
import pytest

from tests.conftest import FAST
from tests.gateway_harness import GatewayHarness, simple_model

MESSAGES = [{"role": "user", "content": "Name a colour."}]


@pytest.fixture(scope="module")
def gateway() -> Iterator[GatewayHarness]:
    harness = GatewayHarness(
        providers={"oai": {"wire": "openai", "knobs": FAST}, "claude": {"wire": "anthropic", "knobs": FAST},
                   "gem": {"wire": "gemini", "knobs": FAST}, "router": {"wire": "openai", "knobs": FAST}},
        models={
            "test/gpt": simple_model({"oai": "gpt-x"}),
            "test/claude": simple_model({"claude": "claude-x"}),
            "test/gemini": simple_model({"gem": "gemini-x"}),
            "test/claude-anywhere": simple_model({"claude": "claude-y", "router": "vendor/claude-y"}),
        },
    ).start()
    yield harness
    harness.stop()


@pytest.fixture(autouse=True)
def healthy(gateway: GatewayHarness) -> Iterator[None]:
    yield
    gateway.heal()


def client(h: GatewayHarness) -> Any:
    return openai.OpenAI(base_url=h.url, api_key="k", max_retries=0, timeout=20)


@pytest.mark.parametrize("model", ["test/gpt", "test/claude", "test/gemini"])
def test_n_choices_for_every_wire_format(gateway: GatewayHarness, model: str) -> None:
    one = client(gateway).chat.completions.create(model=model, messages=MESSAGES)
    three = client(gateway).chat.completions.create(model=model, messages=MESSAGES, n=3)
    assert [c.index for c in three.choices] == [0, 1, 2]
    assert all(c.message.content and c.finish_reason == "stop" for c in three.choices)
    assert three.usage.completion_tokens == 3 * one.usage.completion_tokens
    # the cost is that of the usage, at the test prices ($1 in, $2 out per 1M): one prompt where the API
    # has `n`, three where the gateway fanned out three requests
    cost = (three.usage.model_extra or {})["cost_usd"]
    assert cost == pytest.approx((three.usage.prompt_tokens * 1.0 + three.usage.completion_tokens * 2.0) / 1e6)
    prompts = 1 if model == "test/gpt" else 3
    assert three.usage.prompt_tokens == prompts * one.usage.prompt_tokens


@pytest.mark.parametrize(("model", "provider"), [("test/claude", "claude"), ("test/gemini", "gem")])
def test_fan_out_sends_n_single_requests(gateway: GatewayHarness, model: str, provider: str) -> None:
    before = gateway.counters(provider).requests
    client(gateway).chat.completions.create(model=model, messages=MESSAGES, n=4)
    assert gateway.counters(provider).requests - before == 4
    assert "n" not in gateway.counters(provider).last_body


def test_a_failed_fan_out_counts_once(gateway: GatewayHarness) -> None:
    gateway.set_knobs("claude", status=503)
    before = gateway.stats("test/claude", "claude")["failures"]
    with pytest.raises(openai.APIStatusError):
        client(gateway).chat.completions.create(model="test/claude", messages=MESSAGES, n=3)
    assert gateway.stats("test/claude", "claude")["failures"] == before + 1


def test_n_streamed_from_an_openai_format_provider(gateway: GatewayHarness) -> None:
    texts: dict[int, str] = {}
    for chunk in client(gateway).chat.completions.create(model="test/gpt", messages=MESSAGES, n=2, stream=True):
        for choice in chunk.choices:
            texts[choice.index] = texts.get(choice.index, "") + (choice.delta.content or "")
    assert sorted(texts) == [0, 1] and all(texts.values())


@pytest.mark.parametrize("model", ["test/claude", "test/gemini"])
def test_n_streamed_where_no_provider_can_is_a_400(gateway: GatewayHarness, model: str) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        client(gateway).chat.completions.create(model=model, messages=MESSAGES, n=2, stream=True)
    assert err.value.body["param"] == "n" and model in err.value.body["message"]  # type: ignore[index]


def test_logprobs_from_an_openai_format_provider(gateway: GatewayHarness) -> None:
    completion = client(gateway).chat.completions.create(model="test/gpt", messages=MESSAGES, logprobs=True, top_logprobs=2)
    tokens = completion.choices[0].logprobs.content
    assert tokens and all(t.logprob <= 0 and len(t.top_logprobs) == 2 for t in tokens)
    streamed = [c for c in client(gateway).chat.completions.create(model="test/gpt", messages=MESSAGES, logprobs=True, stream=True)
                if c.choices and c.choices[0].logprobs]
    assert streamed


@pytest.mark.parametrize("model", ["test/claude", "test/gemini"])
def test_logprobs_where_no_provider_returns_them_is_a_400(gateway: GatewayHarness, model: str) -> None:
    before = sum(gateway.counters(p).requests for p in gateway.mocks)
    with pytest.raises(openai.BadRequestError) as err:
        client(gateway).chat.completions.create(model=model, messages=MESSAGES, logprobs=True)
    assert err.value.body["param"] == "logprobs"  # type: ignore[index]
    assert sum(gateway.counters(p).requests for p in gateway.mocks) == before


def test_logprobs_pick_the_provider_that_returns_them(gateway: GatewayHarness) -> None:
    """A Claude model also served through an OpenAI-format router goes there for logprobs."""
    raw = client(gateway).chat.completions.with_raw_response.create(model="test/claude-anywhere", messages=MESSAGES, logprobs=True)
    assert raw.headers["x-switchyard-provider"] == "router" and raw.parse().choices[0].logprobs.content
