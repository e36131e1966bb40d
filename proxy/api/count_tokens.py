"""POST /v1/messages/count_tokens: the gateway's estimate of a Messages request's input tokens, in
Anthropic's shape (`{"input_tokens": N}`), for any catalogue model; nothing is sent upstream.

The estimate is the router's o200k count of the system prompt, the messages' text, tool calls and
results and tool definitions, plus a flat 1,600 tokens for each image or document (Claude's cost for a
picture of about 1.15 megapixels; a document's page count is not known here). Providers count with
their own tokenizers: expect the estimate within some 10-20% of theirs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import web

from proxy.api.anthropic_checks import check_messages_request
from proxy.api.body import read_json_object
from proxy.appkeys import GATEWAY
from proxy.call import AUTO_MODEL

IMAGE_TOKENS = 1600
MEDIA_BLOCKS = ("image", "document")


def block_texts(content: Any) -> tuple[list[str], int]:
    """The text of a content field (a string or blocks, tool uses and results included) and its media count."""
    if isinstance(content, str):
        return [content], 0
    texts: list[str] = []
    media = 0
    for block in content if isinstance(content, list) else ():
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            texts.append(block.get("text") or "")
        elif kind in MEDIA_BLOCKS:
            media += 1
        elif kind == "tool_use":
            texts.append(str(block.get("name") or "") + orjson.dumps(block.get("input") or {}).decode())
        elif kind == "tool_result":
            inner, inner_media = block_texts(block.get("content"))
            texts += inner
            media += inner_media
        elif kind == "thinking":
            texts.append(block.get("thinking") or "")
    return texts, media


def estimate_input_tokens(body: dict[str, Any], count_tokens: Callable[[str], int]) -> int:
    """Input tokens of a Messages request: its text counted once, its media at a flat rate."""
    texts, media = block_texts(body.get("system"))
    for message in body.get("messages") or ():
        more, more_media = block_texts(message.get("content"))
        texts += more
        media += more_media
    if body.get("tools"):
        texts.append(orjson.dumps(body["tools"]).decode())
    text = "\n".join(t for t in texts if t)
    return (count_tokens(text) if text else 0) + media * IMAGE_TOKENS


def check_count_request(body: dict[str, Any]) -> None:
    """The same checks as a Messages request; `max_tokens` is not part of this one."""
    check_messages_request({**body, "max_tokens": body.get("max_tokens") or 1})


async def count_tokens(request: web.Request) -> web.Response:
    """Errors leave in Anthropic's shape: app.py files this path under the Messages front end."""
    gw = request.app[GATEWAY]
    body = await read_json_object(request, gw.settings.server.max_body_bytes)
    check_count_request(body)
    if body["model"] != AUTO_MODEL:
        gw.catalog.resolve(body["model"])  # an unknown model is a 404, as on /v1/messages
    tokens = estimate_input_tokens(body, gw.count_tokens)
    return web.Response(body=orjson.dumps({"input_tokens": tokens}), content_type="application/json",
                        headers={"x-switchyard-estimate": "o200k"})
