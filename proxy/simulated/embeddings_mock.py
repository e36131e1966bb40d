"""Embeddings for the mock upstreams: OpenAI's `/v1/embeddings` and Gemini's `embedContent` /
`batchEmbedContents`. Vectors are deterministic (the same model and text give the same unit vector)
and as long as the real model's, or as the request's `dimensions` / `outputDimensionality` asks."""

from __future__ import annotations

import base64
import hashlib
import math
import random
import struct
from typing import Any

from aiohttp import web

from proxy.simulated.knobs import estimate_tokens
from proxy.simulated.server import json_response

# The real models' vector lengths; any other model id gets DEFAULT_DIMENSIONS.
DIMENSIONS = {"text-embedding-3-small": 1536, "text-embedding-3-large": 3072, "text-embedding-ada-002": 1536,
              "mistral-embed": 1024, "gemini-embedding-001": 3072, "text-embedding-004": 768}
DEFAULT_DIMENSIONS = 768


def unit_vector(model: str, text: str, dimensions: int) -> list[float]:
    rng = random.Random(hashlib.blake2b(f"{model}\0{text}".encode(), digest_size=16).digest())
    values = [rng.gauss(0.0, 1.0) for _ in range(dimensions)]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [v / norm for v in values]


def as_base64(vector: list[float]) -> str:
    """OpenAI's `encoding_format: base64`: little-endian float32 bytes."""
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()


def dimensions_for(model: str, asked: Any) -> int:
    return asked if isinstance(asked, int) and not isinstance(asked, bool) and asked > 0 else DIMENSIONS.get(model, DEFAULT_DIMENSIONS)


def openai_problem(body: Any) -> str | None:
    if not isinstance(body, dict) or not isinstance(body.get("model"), str):
        return "'model' is a required property."
    value = body.get("input")
    texts = [value] if isinstance(value, str) else value
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str | list) for t in texts):
        return "'input' must be a string or an array of strings or token arrays."
    if body.get("encoding_format") not in (None, "float", "base64"):
        return "'encoding_format' must be 'float' or 'base64'."
    return None


def openai_embeddings(body: Any) -> web.Response:
    """The embeddings answer, or a 400 in OpenAI's shape for a malformed body."""
    problem = openai_problem(body)
    if problem is not None:
        return json_response({"error": {"message": problem, "type": "invalid_request_error", "param": "input", "code": None}}, status=400)
    model = body["model"]
    texts = [body["input"]] if isinstance(body["input"], str) else body["input"]
    size = dimensions_for(model, body.get("dimensions"))
    data = []
    for i, text in enumerate(texts):
        vector = unit_vector(model, text if isinstance(text, str) else repr(text), size)
        data.append({"object": "embedding", "index": i, "embedding": as_base64(vector) if body.get("encoding_format") == "base64" else vector})
    tokens = sum(estimate_tokens(t) if isinstance(t, str) else len(t) for t in texts)
    return json_response({"object": "list", "data": data, "model": model, "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})


def gemini_embeddings(model: str, method: str, body: Any) -> web.Response:
    """`embedContent` (one) or `batchEmbedContents` (many); a 400 in Gemini's shape for a malformed body."""
    requests = [body] if method == "embedContent" else (body or {}).get("requests") if isinstance(body, dict) else None
    if not isinstance(requests, list) or not requests or not all(isinstance(r, dict) for r in requests):
        return json_response({"error": {"code": 400, "message": "* BatchEmbedContentsRequest.requests: must not be empty.",
                                         "status": "INVALID_ARGUMENT"}}, status=400)
    out = []
    for r in requests:
        parts = (r.get("content") or {}).get("parts") or []
        text = "".join(str(p.get("text") or "") for p in parts if isinstance(p, dict))
        out.append({"values": unit_vector(model, text, dimensions_for(model, r.get("outputDimensionality")))})
    return json_response({"embedding": out[0]} if method == "embedContent" else {"embeddings": out})
