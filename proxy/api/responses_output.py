"""The inbound OpenAI Responses API, answer side: the internal (chat-shaped) completion as a Response
object, with the usage, status and ids OpenAI's SDKs expect. The stream encoder
(`proxy.api.responses_events`) builds its items with the same functions, so a streamed answer
ends in the same object a plain one returns.
"""

from __future__ import annotations

import base64
import binascii
import os
import time
from typing import Any

import orjson

# finish_reason -> incomplete_details.reason; any other finish completes the response
INCOMPLETE_REASONS = {"length": "max_output_tokens", "content_filter": "content_filter"}
# The prefix marks reasoning blocks the gateway packed for a stateless client to send back.
PACKED_PREFIX = "swy1."
# HTTP status of a failure -> ResponseError.code (the SDK accepts only OpenAI's codes)
FAILURE_CODES = {429: "rate_limit_exceeded"}


def new_id(prefix: str) -> str:
    """OpenAI-like ids: `resp_`, `msg_`, `fc_`, `rs_` and 48 random hex digits (one read of the OS's
    random source: several ids are made per request)."""
    return f"{prefix}_{os.urandom(24).hex()}"


def pack_reasoning(blocks: list[dict[str, Any]]) -> str:
    """Upstream reasoning blocks (Claude's signed thinking) as an opaque `encrypted_content` string,
    so a client that keeps no server state can hand them back on its next turn."""
    return PACKED_PREFIX + base64.urlsafe_b64encode(orjson.dumps(blocks)).decode()


def unpack_reasoning(packed: str) -> list[dict[str, Any]]:
    """The blocks `pack_reasoning` packed; nothing for another gateway's or OpenAI's own ciphertext."""
    if not packed.startswith(PACKED_PREFIX):
        return []
    try:
        blocks = orjson.loads(base64.urlsafe_b64decode(packed[len(PACKED_PREFIX):]))
    except (binascii.Error, ValueError):
        return []
    return [b for b in blocks if isinstance(b, dict)] if isinstance(blocks, list) else []


def to_response_usage(usage: dict[str, Any] | None) -> dict[str, Any]:
    """Chat usage as Responses usage; cached and reasoning tokens are counted inside input and output, as OpenAI does."""
    usage = usage or {}
    prompt = int(usage.get("prompt_tokens") or 0)
    completion = int(usage.get("completion_tokens") or 0)
    cached = int((usage.get("prompt_tokens_details") or {}).get("cached_tokens") or usage.get("cache_read_input_tokens") or 0)
    out: dict[str, Any] = {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": cached, "cache_write_tokens": int(usage.get("cache_creation_input_tokens") or 0)},
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": int((usage.get("completion_tokens_details") or {}).get("reasoning_tokens") or 0)},
        "total_tokens": int(usage.get("total_tokens") or prompt + completion),
    }
    if "cost_usd" in usage:
        out["cost_usd"] = usage["cost_usd"]
    if usage.get("estimated"):
        out["estimated"] = True
    return out


def status_of(finish: str | None) -> tuple[str, dict[str, Any] | None]:
    reason = INCOMPLETE_REASONS.get(finish or "")
    return ("incomplete", {"reason": reason}) if reason else ("completed", None)


def reasoning_item(text: str, blocks: list[dict[str, Any]] | None, include_packed: bool, item_id: str | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {"id": item_id or new_id("rs"), "type": "reasoning",
                            "summary": [{"type": "summary_text", "text": text}] if text else []}
    if include_packed and blocks:
        item["encrypted_content"] = pack_reasoning(blocks)
    return item


def text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def refusal_part(text: str) -> dict[str, Any]:
    return {"type": "refusal", "refusal": text}


def message_item(parts: list[dict[str, Any]], status: str, item_id: str | None = None) -> dict[str, Any]:
    return {"id": item_id or new_id("msg"), "type": "message", "role": "assistant", "status": status, "content": parts}


def function_call_item(call_id: str, name: str, arguments: str, status: str, item_id: str | None = None,
                       extra_content: dict[str, Any] | None = None) -> dict[str, Any]:
    """`extra_content` carries what a provider needs back with the call (Gemini's thought signature):
    the SDKs keep unknown fields, so a client that sends the output back as input returns it."""
    item: dict[str, Any] = {"id": item_id or new_id("fc"), "type": "function_call", "call_id": call_id, "name": name,
            "arguments": arguments, "status": status}
    if extra_content:
        item["extra_content"] = extra_content
    return item


def output_items(message: dict[str, Any], status: str, include_packed: bool) -> list[dict[str, Any]]:
    """An internal assistant message as output items: reasoning, then the message, then function calls."""
    items: list[dict[str, Any]] = []
    if message.get("reasoning_content") or message.get("thinking_blocks"):
        items.append(reasoning_item(str(message.get("reasoning_content") or ""), message.get("thinking_blocks"), include_packed))
    parts = [text_part(message["content"])] if message.get("content") else []
    if message.get("refusal"):
        parts.append(refusal_part(message["refusal"]))
    if parts:
        items.append(message_item(parts, "incomplete" if status == "incomplete" else "completed"))
    for call in message.get("tool_calls") or ():
        fn = call.get("function") or {}
        items.append(function_call_item(str(call.get("id") or new_id("call")), str(fn.get("name") or ""),
                                        str(fn.get("arguments") or ""), "completed", extra_content=call.get("extra_content")))
    return items


def output_text(items: list[dict[str, Any]]) -> str:
    return "".join(part["text"] for item in items if item["type"] == "message"
                   for part in item["content"] if part["type"] == "output_text")


def response_object(
    response_id: str, created_at: int, model: str, echo: dict[str, Any], *, status: str,
    output: list[dict[str, Any]] | None = None, usage: dict[str, Any] | None = None,
    incomplete: dict[str, Any] | None = None, error: dict[str, Any] | None = None,
    store: bool = True, previous_response_id: str | None = None,
) -> dict[str, Any]:
    """A Response object; `echo` holds the request fields it repeats (tools, text, reasoning...)."""
    output = output or []
    return {
        "id": response_id, "object": "response", "created_at": created_at, "status": status,
        "background": False, "error": error, "incomplete_details": incomplete,
        "instructions": echo.get("instructions"), "max_output_tokens": echo.get("max_output_tokens"), "model": model,
        "output": output, "output_text": output_text(output),
        "parallel_tool_calls": echo.get("parallel_tool_calls", True), "previous_response_id": previous_response_id,
        "reasoning": echo.get("reasoning") or {"effort": None, "summary": None}, "store": store,
        "temperature": echo.get("temperature"), "text": echo.get("text") or {"format": {"type": "text"}},
        "tool_choice": echo.get("tool_choice", "auto"), "tools": echo.get("tools") or [], "top_p": echo.get("top_p"),
        "truncation": "disabled", "usage": usage, "user": echo.get("user"), "metadata": echo.get("metadata") or {},
    }


def to_response(
    completion: dict[str, Any], response_id: str, echo: dict[str, Any], *, store: bool = True,
    previous_response_id: str | None = None, include_packed: bool = False, created_at: int | None = None,
) -> dict[str, Any]:
    """An internal chat completion (already shaped: catalogue model, usage with cost) as a Response."""
    choice = (completion.get("choices") or [{}])[0]
    status, incomplete = status_of(choice.get("finish_reason"))
    return response_object(
        response_id, created_at or int(completion.get("created") or time.time()), str(completion.get("model") or ""), echo,
        status=status, output=output_items(choice.get("message") or {}, status, include_packed),
        usage=to_response_usage(completion.get("usage")), incomplete=incomplete, store=store,
        previous_response_id=previous_response_id,
    )


def failure_error(status: int, message: str) -> dict[str, Any]:
    """The `error` of a failed Response, with one of the codes OpenAI's SDKs accept."""
    return {"code": FAILURE_CODES.get(status, "server_error"), "message": message}
