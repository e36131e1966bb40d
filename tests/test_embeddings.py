"""POST /v1/embeddings end to end: the real openai SDK against a running gateway, answered by
simulated OpenAI-format and Gemini providers, with pins, fallback and usage with cost; and the
legacy /v1/completions answered with a 400 that points to chat completions."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from tests.gateway_harness import GatewayHarness, simple_model

FAST = {"ttft_ms": 2.0}
SMALL, GEMINI_EMBED, BACKED = "openai/text-embedding-3-small", "google/gemini-embedding-001", "openai/text-embedding-3-large"


@pytest.fixture(scope="module")
def gateway() -> Iterator[GatewayHarness]:
    embedding_models = {
        SMALL: {"dimensions": 1536, "max_input_tokens": 8191, "providers": {"router": {"id": "text-embedding-3-small", "input": 0.02}}},
        GEMINI_EMBED: {"dimensions": 3072, "max_input_tokens": 2048,
                       "providers": {"gemini-direct": {"id": "gemini-embedding-001", "input": 0.15}}},
        BACKED: {"dimensions": 3072, "max_input_tokens": 8191, "providers": {
            "flaky": {"id": "text-embedding-3-large", "input": 0.01}, "router": {"id": "text-embedding-3-large", "input": 0.13}}},
    }
    harness = GatewayHarness(
        providers={"router": {"wire": "openai", "knobs": FAST}, "flaky": {"wire": "openai", "knobs": FAST},
                   "gemini-direct": {"wire": "gemini", "knobs": FAST}},
        models={"openai/gpt-test": simple_model({"router": "gpt-test-1"})},
        extra_config={"embedding_models": embedding_models},
    ).start()
    yield harness
    harness.stop()


def client(h: GatewayHarness) -> Any:
    return openai.OpenAI(base_url=h.url, api_key="k", max_retries=0, timeout=20)


def norm(vector: list[float]) -> float:
    return math.sqrt(sum(v * v for v in vector))


def test_openai_format_embeddings(gateway: GatewayHarness) -> None:
    sdk = client(gateway)
    first = sdk.embeddings.create(model=SMALL, input="The quick brown fox")  # the SDK asks for base64 and decodes it
    again = sdk.embeddings.create(model=SMALL, input=["The quick brown fox", "jumps"], encoding_format="float")
    assert first.model == SMALL and len(first.data) == 1 and len(first.data[0].embedding) == 1536
    assert abs(norm(first.data[0].embedding) - 1.0) < 1e-4
    assert [d.index for d in again.data] == [0, 1]
    assert max(abs(a - b) for a, b in zip(first.data[0].embedding, again.data[0].embedding, strict=True)) < 1e-6
    assert first.usage.prompt_tokens > 0 and (first.usage.model_extra or {})["cost_usd"] > 0
    assert gateway.counters("router").last_body["model"] == "text-embedding-3-small"


def test_dimensions_are_passed_on(gateway: GatewayHarness) -> None:
    resp = client(gateway).embeddings.create(model=SMALL, input=["a", "b", "c"], dimensions=256, encoding_format="float")
    assert [len(d.embedding) for d in resp.data] == [256, 256, 256]


def test_gemini_embeddings_through_batch_embed_contents(gateway: GatewayHarness) -> None:
    resp = client(gateway).embeddings.create(model=GEMINI_EMBED, input=["Hello", "world"], dimensions=768)
    assert resp.model == GEMINI_EMBED and [len(d.embedding) for d in resp.data] == [768, 768]
    sent = gateway.counters("gemini-direct").last_body
    assert [r["content"]["parts"][0]["text"] for r in sent["requests"]] == ["Hello", "world"]
    assert sent["requests"][0]["outputDimensionality"] == 768
    extra = resp.usage.model_extra or {}
    assert extra["estimated"] is True and extra["cost_usd"] > 0 and resp.usage.prompt_tokens > 0


def test_fallback_to_the_next_provider(gateway: GatewayHarness) -> None:
    gateway.set_knobs("flaky", status=503)
    try:
        raw = client(gateway).embeddings.with_raw_response.create(model=BACKED, input="hi")
        assert raw.headers["x-switchyard-attempts"] == "2" and raw.headers["x-switchyard-provider"] == "router"
        assert len(raw.parse().data[0].embedding) == 3072
    finally:
        gateway.set_knobs("flaky", status=None)


def test_pin_a_provider(gateway: GatewayHarness) -> None:
    raw = client(gateway).embeddings.with_raw_response.create(model=f"{BACKED}:router", input="hi")
    assert raw.headers["x-switchyard-provider"] == "router"


@pytest.mark.parametrize(("kwargs", "param", "error"), [
    ({"model": "openai/gpt-test", "input": "x"}, "model", openai.BadRequestError),
    ({"model": "openai/text-embedding-9", "input": "x"}, "model", openai.NotFoundError),
    ({"model": SMALL, "input": ""}, "input", openai.BadRequestError),
    ({"model": SMALL, "input": ["ok", 3]}, "input[1]", openai.BadRequestError),
    ({"model": SMALL, "input": "x", "dimensions": 5000}, "dimensions", openai.BadRequestError),
    ({"model": SMALL, "input": "x", "encoding_format": "int8"}, "encoding_format", openai.BadRequestError),
])
def test_bad_requests_name_the_field(gateway: GatewayHarness, kwargs: dict[str, Any], param: str, error: type[Exception]) -> None:
    with pytest.raises(error) as caught:
        client(gateway).embeddings.create(**kwargs)
    assert caught.value.param == param  # type: ignore[attr-defined]


def test_embedding_models_are_listed(gateway: GatewayHarness) -> None:
    listed = {m.id: m for m in client(gateway).models.list()}
    assert SMALL in listed and (listed[SMALL].model_extra or {})["dimensions"] == 1536
    assert (listed["openai/gpt-test"].model_extra or {}).get("type") != "embedding"
    status, _, one = gateway.raw("GET", f"/v1/models/{GEMINI_EMBED}")
    assert status == 200 and one["type"] == "embedding" and one["providers"][0]["provider"] == "gemini-direct"


def test_legacy_completions_point_to_chat(gateway: GatewayHarness) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client(gateway).completions.create(model="openai/gpt-test", prompt="Once upon a time")
    assert "/v1/chat/completions" in caught.value.message and caught.value.code == "unsupported_endpoint"


def test_langchain_embeddings(gateway: GatewayHarness) -> None:
    from langchain_openai import OpenAIEmbeddings

    embedder = OpenAIEmbeddings(model=SMALL, base_url=gateway.url, api_key="k", check_embedding_ctx_length=False, max_retries=0)  # type: ignore[arg-type]
    vectors = embedder.embed_documents(["alpha", "beta"])
    assert len(vectors) == 2 and len(vectors[0]) == 1536 and embedder.embed_query("alpha") == pytest.approx(vectors[0])
