"""The embeddings adapters, pure: the internal (OpenAI-shaped) embeddings request to each wire format
and back. No sockets."""

from __future__ import annotations

import base64
import struct

import orjson
import pytest

from proxy.config import load_settings
from proxy.providers.base import AdapterTarget, UpstreamError
from proxy.providers.embeddings import (
    GeminiEmbeddingsAdapter,
    OpenAIEmbeddingsAdapter,
    as_base64,
    embeddings_adapter_for,
)

TARGET = AdapterTarget(base_url="https://upstream.test/v1", upstream_model="embed-1", api_key="sk-secret")


def test_openai_request_keeps_only_embedding_fields() -> None:
    body = {"model": "openai/text-embedding-3-small", "input": ["a", "b"], "dimensions": 64, "encoding_format": "base64",
            "user": "u", "provider": {"routing": {"type": "order", "providers": ["x"]}}, "switchyard": {"timeouts": {}}}
    req = OpenAIEmbeddingsAdapter().build_request(body, TARGET, stream=False)
    assert req.url == "https://upstream.test/v1/embeddings" and req.headers["Authorization"] == "Bearer sk-secret"
    assert orjson.loads(req.body) == {"model": "embed-1", "input": ["a", "b"], "dimensions": 64, "encoding_format": "base64", "user": "u"}


def test_azure_style_auth_header() -> None:
    req = embeddings_adapter_for("openai", "api-key", "").build_request({"input": "x"}, TARGET, stream=False)
    assert req.headers["api-key"] == "sk-secret" and "Authorization" not in req.headers


def test_gemini_request_is_one_batch() -> None:
    req = GeminiEmbeddingsAdapter().build_request({"input": ["a", "b"], "dimensions": 8}, TARGET, stream=False)
    assert req.url == "https://upstream.test/v1/models/embed-1:batchEmbedContents" and req.headers["x-goog-api-key"] == "sk-secret"
    assert orjson.loads(req.body) == {"requests": [
        {"model": "models/embed-1", "outputDimensionality": 8, "content": {"parts": [{"text": "a"}]}},
        {"model": "models/embed-1", "outputDimensionality": 8, "content": {"parts": [{"text": "b"}]}}]}


def test_gemini_refuses_token_arrays_without_fallback() -> None:
    with pytest.raises(UpstreamError) as caught:
        GeminiEmbeddingsAdapter().build_request({"input": [[1, 2, 3]]}, TARGET, stream=False)
    assert caught.value.status == 400 and caught.value.retriable is False and caught.value.param == "input"


def test_gemini_response_as_openai_list() -> None:
    data = GeminiEmbeddingsAdapter().parse_response(orjson.dumps({"embeddings": [{"values": [0.1, 0.2]}, {"values": [0.3]}]}))
    assert data["data"] == [{"object": "embedding", "index": 0, "embedding": [0.1, 0.2]},
                            {"object": "embedding", "index": 1, "embedding": [0.3]}]


@pytest.mark.parametrize("payload", [b"not json", b'{"object": "list"}', b"[]"])
def test_malformed_upstream_bodies_are_502s(payload: bytes) -> None:
    for adapter in (OpenAIEmbeddingsAdapter(), GeminiEmbeddingsAdapter()):
        with pytest.raises(UpstreamError) as caught:
            adapter.parse_response(payload)
        assert caught.value.status == 502


def test_base64_is_little_endian_float32() -> None:
    raw = base64.b64decode(as_base64([1.0, -0.5, 0.25]))
    assert struct.unpack("<3f", raw) == (1.0, -0.5, 0.25)


def test_embedding_models_need_a_wire_with_embeddings() -> None:
    from proxy.config import ConfigError

    bad = {"embedding_models": {"x/e": {"dimensions": 8, "max_input_tokens": 8, "providers": {"anthropic": {"id": "e", "input": 0}}}}}
    with pytest.raises(ConfigError, match=r"embedding_models\.x/e\.providers\.anthropic: the anthropic wire format has no embeddings API"):
        load_settings(None, environ={}, overrides=bad)
