"""Embeddings, one adapter per wire format that has them, each implementing the chat `Adapter`
protocol so embeddings ride the same attempts, timeouts and fallback loop as chat.

The internal shape is OpenAI's: a request `{"model", "input", "dimensions"?, "encoding_format"?,
"user"?}` and a response `{"object": "list", "data": [{"object": "embedding", "index", "embedding"}],
"usage": {"prompt_tokens", "total_tokens"}}`. Gemini speaks `batchEmbedContents` and reports no token
counts, so its usage is estimated (and marked so). Anthropic has no embeddings API.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Mapping
from typing import Any, ClassVar

import orjson

from proxy.config import EMBEDDING_WIRES
from proxy.providers.base import AdapterTarget, StreamTranslator, UpstreamError, UpstreamRequest
from proxy.providers.gemini import GeminiAdapter
from proxy.providers.gemini_wire import API_KEY_HEADER
from proxy.providers.openai_compat import OpenAIAdapter


def texts_of(body: dict[str, Any]) -> list[str]:
    value = body["input"]
    return [value] if isinstance(value, str) else list(value)


def as_base64(vector: list[float]) -> str:
    """OpenAI's `encoding_format: base64`: the vector as little-endian float32 bytes."""
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()


def estimated_tokens(texts: list[str]) -> int:
    return sum(max(1, len(text) // 4) for text in texts)


def not_json(provider_wire: str) -> UpstreamError:
    return UpstreamError(502, f"The {provider_wire} embeddings endpoint returned a body that is not JSON.", code="bad_upstream_response")


class OpenAIEmbeddingsAdapter:
    """`POST {base}/embeddings`, passed through with the upstream model id."""

    wire: ClassVar[str] = "openai"

    def __init__(self, auth_header: str = "Authorization", auth_scheme: str = "Bearer") -> None:
        self.errors = OpenAIAdapter(auth_header, auth_scheme)
        self.auth_header = auth_header
        self.auth_scheme = auth_scheme

    def build_request(self, body: dict[str, Any], target: AdapterTarget, *, stream: bool) -> UpstreamRequest:
        out = {k: body[k] for k in ("input", "dimensions", "encoding_format", "user") if body.get(k) is not None}
        out["model"] = target.upstream_model
        headers = {"Content-Type": "application/json", **target.extra_headers}
        if target.api_key:
            headers[self.auth_header] = f"{self.auth_scheme} {target.api_key}".strip()
        return UpstreamRequest(url=f"{target.base_url}/embeddings", headers=headers, body=orjson.dumps(out))

    def parse_response(self, payload: bytes) -> dict[str, Any]:
        try:
            data = orjson.loads(payload)
        except orjson.JSONDecodeError:
            raise not_json("OpenAI-format") from None
        if not isinstance(data, dict) or not isinstance(data.get("data"), list):
            raise UpstreamError(502, "The embeddings response has no 'data' list.", code="bad_upstream_response")
        return data

    def parse_error(self, status: int, payload: bytes, headers: Mapping[str, str]) -> UpstreamError:
        return self.errors.parse_error(status, payload, headers)

    def stream_translator(self) -> StreamTranslator:
        raise UpstreamError(400, "Embeddings are not streamed.", retriable=False)


class GeminiEmbeddingsAdapter:
    """`POST {base}/models/{id}:batchEmbedContents`, one request per input text."""

    wire: ClassVar[str] = "gemini"

    def __init__(self) -> None:
        self.errors = GeminiAdapter()

    def build_request(self, body: dict[str, Any], target: AdapterTarget, *, stream: bool) -> UpstreamRequest:
        texts = texts_of(body)
        if not all(isinstance(t, str) for t in texts):
            raise UpstreamError(400, "input: token arrays cannot be sent to a Gemini embedding model; send text.",
                                type="invalid_request_error", param="input", retriable=False)
        model = f"models/{target.upstream_model}"
        one: dict[str, Any] = {"model": model}
        if body.get("dimensions") is not None:
            one["outputDimensionality"] = body["dimensions"]
        requests = [{**one, "content": {"parts": [{"text": text}]}} for text in texts]
        headers = {"Content-Type": "application/json", **target.extra_headers}
        if target.api_key:
            headers[API_KEY_HEADER] = target.api_key
        return UpstreamRequest(url=f"{target.base_url}/{model}:batchEmbedContents", headers=headers,
                               body=orjson.dumps({"requests": requests}))

    def parse_response(self, payload: bytes) -> dict[str, Any]:
        try:
            data = orjson.loads(payload)
        except orjson.JSONDecodeError:
            raise not_json("Gemini") from None
        embeddings = data.get("embeddings") if isinstance(data, dict) else None
        if not isinstance(embeddings, list):
            raise UpstreamError(502, "Gemini's embeddings response has no 'embeddings' list.", code="bad_upstream_response")
        return {"object": "list", "data": [{"object": "embedding", "index": i, "embedding": e.get("values") or []}
                                           for i, e in enumerate(embeddings)], "usage": None}

    def parse_error(self, status: int, payload: bytes, headers: Mapping[str, str]) -> UpstreamError:
        return self.errors.parse_error(status, payload, headers)

    def stream_translator(self) -> StreamTranslator:
        raise UpstreamError(400, "Embeddings are not streamed.", retriable=False)


__all__ = ["EMBEDDING_WIRES", "GeminiEmbeddingsAdapter", "OpenAIEmbeddingsAdapter", "embeddings_adapter_for"]


def embeddings_adapter_for(wire: str, auth_header: str | None = None, auth_scheme: str = "Bearer") -> OpenAIEmbeddingsAdapter | GeminiEmbeddingsAdapter:
    if wire == "openai":
        return OpenAIEmbeddingsAdapter(auth_header or "Authorization", auth_scheme)
    if wire == "gemini":
        return GeminiEmbeddingsAdapter()
    raise ValueError(f"the {wire} wire format has no embeddings API")
