"""POST /v1/embeddings: OpenAI's embeddings API over the embedding models of the catalogue, with
provider pins (`model:provider`), provider routing, and fallback across providers like chat.

Only `embedding_models` answer here, and only they: a chat model is a 400 that says which API it is
for. The answer is OpenAI's list of embeddings, with the catalogue model name and usage with cost
(estimated, and marked so, where the provider reports none, as Gemini does not).
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from aiohttp import web

from proxy.api.body import read_json_object
from proxy.api.frontend import request_id
from proxy.api.key_limits import enter_embedding_limits
from proxy.api.responses_checks import expect_int, expect_one_of, expect_str, invalid
from proxy.appkeys import GATEWAY, IDENTITY
from proxy.call import parse_tags, parse_timeouts
from proxy.errors import GatewayError
from proxy.pipeline import fail, new_outcome
from proxy.pipeline.embeddings import embed
from proxy.providers.embeddings import as_base64

NAME = "openai_embeddings"
MAX_INPUTS = 2048  # OpenAI's limit on the inputs of one request
FIELDS = frozenset({"model", "input", "encoding_format", "dimensions", "user", "provider", "switchyard"})


def check_input(value: Any) -> list[Any]:
    """A string, strings, or token arrays (integers), as OpenAI takes them; never empty."""
    texts = [value] if isinstance(value, str) else value
    if not isinstance(texts, list) or not texts:
        raise invalid("input", "expected a string or a non-empty array of strings or token arrays.")
    if len(texts) > MAX_INPUTS:
        raise invalid("input", f"at most {MAX_INPUTS} inputs per request, got {len(texts)}.")
    for i, text in enumerate(texts):
        tokens = isinstance(text, list) and text and all(isinstance(t, int) and not isinstance(t, bool) for t in text)
        if not (isinstance(text, str) and text) and not tokens:
            raise invalid(f"input[{i}]" if not isinstance(value, str) else "input", "expected a non-empty string or array of token ids.")
    return texts


def check_request(body: dict[str, Any]) -> dict[str, Any]:
    for name in body:
        if name not in FIELDS:
            raise GatewayError(400, f"Unknown parameter: '{name}'.", param=name, code="unknown_parameter")
    expect_str(body.get("model"), "model", required=True)
    check_input(body.get("input"))
    if body.get("encoding_format") is not None:
        expect_one_of(body["encoding_format"], ("float", "base64"), "encoding_format")
    if body.get("dimensions") is not None:
        expect_int(body["dimensions"], "dimensions", minimum=1)
    if body.get("user") is not None:
        expect_str(body["user"], "user")
    return body


async def create_embeddings(request: web.Request) -> web.Response:
    gw = request.app[GATEWAY]
    received_at = asyncio.get_running_loop().time()
    outcome = new_outcome(request_id(request), NAME, gw.chat, gw.simulated)
    outcome.key = request[IDENTITY].key_name if IDENTITY in request else None
    try:
        body = check_request(await read_json_object(request, gw.settings.server.max_body_bytes))
        overrides = parse_timeouts(body, request.headers)
        outcome.tags = parse_tags(body, request.headers)
    except BaseException as exc:
        fail(outcome, exc)
        raise
    outcome.model_requested = body["model"]
    outcome.client_request_id = request.headers.get("x-request-id", "")[:200] or None
    limits = await enter_embedding_limits(request, body, outcome)
    done = await embed(body, gw.embeddings, gw.chat, outcome, received_at, overrides, gw.settings.routing.default_factor)
    if body.get("encoding_format") == "base64":  # a provider without base64 (Gemini) gave floats: encode them here
        for item in done.data["data"]:
            if isinstance(item.get("embedding"), list):
                item["embedding"] = as_base64(item["embedding"])
    data = {"object": "list", "data": done.data["data"], "model": done.data["model"], "usage": done.data["usage"]}
    return web.Response(body=orjson.dumps(data), content_type="application/json", headers={**done.notes, **limits})
