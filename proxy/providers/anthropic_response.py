"""Anthropic's answers in the gateway's internal (OpenAI) shape: a whole message, usage, stop
reasons and error bodies. The stream's events are translated in `anthropic_stream`.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from typing import Any

import orjson

from proxy.providers.anthropic_structured import STRUCTURED_TOOLS, structured_text
from proxy.providers.anthropic_wire import (
    ERROR_TYPES,
    OVERLOADED_AS,
    OVERLOADED_STATUS,
    STATUS_TO_ERROR_TYPE,
    STOP_TO_FINISH,
)
from proxy.providers.base import UpstreamError

THINKING_TYPES = ("thinking", "redacted_thinking")


def to_openai_usage(usage: Mapping[str, Any]) -> dict[str, Any]:
    """OpenAI counts cached prompt tokens inside prompt_tokens; Anthropic reports them apart."""
    fresh = int(usage.get("input_tokens") or 0)
    cache_read = int(usage.get("cache_read_input_tokens") or 0)
    cache_write = int(usage.get("cache_creation_input_tokens") or 0)
    prompt = fresh + cache_read + cache_write
    completion = int(usage.get("output_tokens") or 0)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cache_read},
        "cache_read_input_tokens": cache_read,
        "cache_creation_input_tokens": cache_write,
    }


def finish_reason(stop_reason: Any) -> str | None:
    if stop_reason is None:
        return None
    return STOP_TO_FINISH.get(str(stop_reason), "stop")


def to_openai_message(content: list[dict[str, Any]]) -> dict[str, Any]:
    texts: list[str] = []
    structured: str | None = None
    reasoning: list[str] = []
    thinking: list[dict[str, Any]] = []
    calls: list[dict[str, Any]] = []
    for block in content:
        kind = block.get("type")
        if kind == "text":
            texts.append(block.get("text") or "")
        elif kind in THINKING_TYPES:
            thinking.append(block)
            if kind == "thinking":
                reasoning.append(block.get("thinking") or "")
        elif kind == "tool_use" and block.get("name") in STRUCTURED_TOOLS:
            structured = structured_text(block.get("name"), block.get("input"))
        elif kind == "tool_use":
            args = orjson.dumps(block.get("input") or {}).decode()
            calls.append({"id": block.get("id"), "type": "function", "function": {"name": block.get("name"), "arguments": args}})
    if structured is not None:  # the structured answer is the reply; text beside it was preamble
        texts = [structured]
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts or not calls else None}
    if calls:
        message["tool_calls"] = calls
    if thinking:
        message["reasoning_content"] = "".join(reasoning)
        message["thinking_blocks"] = thinking
    return message


def to_openai_completion(data: dict[str, Any]) -> dict[str, Any]:
    message = to_openai_message(data.get("content") or [])
    finish = finish_reason(data.get("stop_reason")) or "stop"
    structured = any(b.get("name") in STRUCTURED_TOOLS for b in data.get("content") or [] if isinstance(b, dict))
    if finish == "tool_calls" and structured and not message.get("tool_calls"):  # only the structured answer's tool
        finish = "stop"
    return {
        "id": str(data.get("id") or f"msg_{uuid.uuid4().hex[:24]}"),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": data.get("model", ""),
        "choices": [{
            "index": 0,
            "message": message,
            "logprobs": None,
            "finish_reason": finish,
        }],
        "usage": to_openai_usage(data.get("usage") or {}),
    }


def error_from_body(status: int | None, data: Any, retry_after_s: float | None) -> UpstreamError:
    """`{"type": "error", "error": {"type": ..., "message": ...}}` in OpenAI's shape and status.

    `status` is None for an error event inside a 200 stream: the error type then gives it.
    """
    err = data.get("error") if isinstance(data, dict) else None
    err = err if isinstance(err, dict) else {}
    kind = str(err.get("type") or STATUS_TO_ERROR_TYPE.get(status or 500, "api_error"))
    type_status, openai_type, code = ERROR_TYPES.get(kind, (status or 500, "upstream_error", kind))
    status = status or type_status
    message = str(err.get("message") or f"Anthropic returned HTTP {status}.")
    overloaded = status == OVERLOADED_STATUS or kind == "overloaded_error"
    return UpstreamError(OVERLOADED_AS if status == OVERLOADED_STATUS else status, message, type=openai_type,
                         code=code, retry_after_s=retry_after_s, retriable=True if overloaded else None)
