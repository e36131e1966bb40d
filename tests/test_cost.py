"""Cost counts cached prompt tokens at their own price: the unit rule, then through the real SDK."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import openai
import pytest

from proxy.catalog import Route
from proxy.config import ProviderConfig, load_settings
from tests.gateway_harness import GatewayHarness, simple_model


def route(**prices: Any) -> Route:
    fields: dict[str, Any] = dict(model="m", provider="p", upstream_id="u", input_price=2.0, output_price=8.0,
                                  context_window=1000, max_output=100, wire="openai", base_url="http://x",
                                  adapter=None, provider_config=ProviderConfig(base_url="http://x"))
    fields.update(prices)
    return Route(**fields)


def test_cached_tokens_cost_their_own_price() -> None:
    r = route(cached_input_price=0.5, cache_write_price=2.5)
    assert r.cost_usd(1000, 100) == pytest.approx((1000 * 2.0 + 100 * 8.0) / 1e6)
    # 600 of the 1000 prompt tokens were cache reads, 100 cache writes, 300 fresh
    assert r.cost_usd(1000, 100, cached_tokens=600, cache_write_tokens=100) == pytest.approx(
        (300 * 2.0 + 600 * 0.5 + 100 * 2.5 + 100 * 8.0) / 1e6)


def test_no_cache_price_means_the_input_price_and_counts_are_clamped() -> None:
    r = route()
    assert r.cost_usd(1000, 0, cached_tokens=400) == pytest.approx(1000 * 2.0 / 1e6)
    cheap = route(cached_input_price=0.0)
    assert cheap.cost_usd(100, 0, cached_tokens=500) == 0.0  # more cached than prompt: all of it cached
    assert cheap.cost_usd(100, 0, cached_tokens=-5) == pytest.approx(100 * 2.0 / 1e6)


def test_catalogue_carries_cache_prices() -> None:
    models = load_settings(environ={}).models
    gpt = models["openai/gpt-4o"].providers["openai"]
    assert (gpt.input, gpt.cached_input, gpt.cache_write) == (2.50, 1.25, None)
    sonnet = models["anthropic/claude-sonnet-4"].providers["anthropic"]
    assert (sonnet.input, sonnet.cached_input, sonnet.cache_write) == (3.00, 0.30, 3.75)


CACHED = 600
PRICES = {"input": 4.0, "output": 10.0, "cached_input": 0.4, "cache_write": 5.0}


@pytest.fixture(scope="module")
def cached_gateway() -> Iterator[GatewayHarness]:
    knobs = {"ttft_ms": 1.0, "tokens_per_s": 5000.0, "cached_prompt_tokens": CACHED}
    models = {}
    for slug in ("oa", "an"):
        model = simple_model({slug: f"{slug}-model"})
        model["providers"][slug].update(PRICES)
        models[f"test/{slug}"] = model
    harness = GatewayHarness(
        providers={"oa": {"knobs": knobs}, "an": {"wire": "anthropic", "knobs": knobs}},
        models=models,
    ).start()
    yield harness
    harness.stop()


@pytest.mark.parametrize("model", ["test/oa", "test/an"])
@pytest.mark.parametrize("stream", [False, True])
def test_sdk_sees_cost_with_cached_tokens(cached_gateway: GatewayHarness, model: str, stream: bool) -> None:
    client = openai.OpenAI(base_url=cached_gateway.url, api_key="unused", max_retries=0)
    messages = [{"role": "user", "content": "Summarise the plot of Hamlet in two sentences."}]
    if stream:
        chunks = list(client.chat.completions.create(model=model, messages=messages, stream=True,  # type: ignore[arg-type]
                                                     stream_options={"include_usage": True}))
        usage = next(c.usage for c in chunks if c.usage is not None).model_dump()
    else:
        usage = client.chat.completions.create(model=model, messages=messages).model_dump()["usage"]  # type: ignore[arg-type]
    assert usage["prompt_tokens_details"]["cached_tokens"] == CACHED
    fresh = usage["prompt_tokens"] - CACHED
    assert fresh > 0
    expected = (fresh * PRICES["input"] + CACHED * PRICES["cached_input"] + usage["completion_tokens"] * PRICES["output"]) / 1e6
    assert usage["cost_usd"] == pytest.approx(expected)
    naive = (usage["prompt_tokens"] * PRICES["input"] + usage["completion_tokens"] * PRICES["output"]) / 1e6
    assert usage["cost_usd"] < naive  # what it used to charge
