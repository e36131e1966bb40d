"""The names clients already send resolve to catalogue models: Anthropic's own ids and `-latest`
names from the anthropic SDK's examples, and any provider's native model id."""

from __future__ import annotations

from collections.abc import Iterator

import anthropic
import openai
import pytest

from proxy.catalog import build_catalog
from proxy.config import ConfigError, load_settings
from tests.gateway_harness import SimulatedGateway


@pytest.fixture(scope="module")
def demo() -> Iterator[SimulatedGateway]:
    harness = SimulatedGateway().start()
    yield harness
    harness.stop()


@pytest.mark.parametrize(("name", "slug"), [
    ("claude-sonnet-4-20250514", "anthropic/claude-sonnet-4"),
    ("claude-3-5-haiku-latest", "anthropic/claude-3.5-haiku"),
    ("claude-opus-4-0", "anthropic/claude-opus-4"),
])
def test_anthropic_sdk_with_anthropics_own_model_ids(demo: SimulatedGateway, name: str, slug: str) -> None:
    sdk = anthropic.Anthropic(base_url=demo.base, api_key="unused", max_retries=0, timeout=20)
    message = sdk.messages.create(model=name, max_tokens=64, messages=[{"role": "user", "content": "hi"}])
    assert message.model == slug and message.content[0].type == "text"


@pytest.mark.parametrize(("name", "slug"), [
    ("gpt-4o-2024-08-06", "openai/gpt-4o"),
    ("llama-3.3-70b-versatile", "meta-llama/llama-3.3-70b-instruct"),  # Groq's id
    ("gemini-2.0-flash-001", "google/gemini-2.0-flash"),
    ("claude-3-7-sonnet-latest:anthropic", "anthropic/claude-3.7-sonnet"),  # an alias with a pinned provider
])
def test_openai_sdk_with_provider_native_ids(demo: SimulatedGateway, name: str, slug: str) -> None:
    client = openai.OpenAI(base_url=demo.url, api_key="unused", max_retries=0, timeout=20)
    raw = client.chat.completions.with_raw_response.create(model=name, messages=[{"role": "user", "content": "hi"}])
    assert raw.http_response.status_code == 200 and raw.parse().model == slug


def test_model_endpoint_and_listing_show_aliases(demo: SimulatedGateway) -> None:
    status, _, payload = demo.raw("GET", "/v1/models/claude-3-5-haiku-latest")
    assert status == 200 and payload["id"] == "anthropic/claude-3.5-haiku"
    assert "claude-3-5-haiku-latest" in payload["aliases"]


def test_an_unknown_id_still_suggests(demo: SimulatedGateway) -> None:
    status, _, payload = demo.raw("POST", "/v1/chat/completions", {"model": "claude-3-5-haiku-latets", "messages": [{"role": "user", "content": "x"}]})
    assert status == 404 and "claude-3-5-haiku-latest" in payload["error"]["message"]


def test_an_alias_names_one_model() -> None:
    with pytest.raises(ConfigError, match=r"aliases\[0\]: 'claude-3-5-haiku-latest' already names (openai/gpt-4o-mini|anthropic/claude-3.5-haiku)"):
        load_settings(None, environ={}, overrides={"models": {"openai/gpt-4o-mini": {"aliases": ["claude-3-5-haiku-latest"]}}})


def test_a_native_id_two_models_share_resolves_to_neither() -> None:
    shared = {"id": "same-upstream-id", "input": 1.0, "output": 1.0}
    settings = load_settings(None, environ={}, overrides={"models": {
        "a/one": {"context_window": 1000, "max_output": 100, "providers": {"groq": shared}},
        "b/two": {"context_window": 1000, "max_output": 100, "providers": {"together": shared}},
    }})
    catalog = build_catalog(settings, {}, {})
    with pytest.raises(Exception, match="does not exist"):
        catalog.resolve("same-upstream-id")
    assert catalog.resolve("claude-3-haiku-20240307")[0].slug == "anthropic/claude-3-haiku"
