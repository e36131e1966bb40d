"""Anthropic Messages API upstream: OpenAI chat requests in, Anthropic messages out, and back.

Extended thinking survives the round trip. A response's thinking blocks are exposed as
`reasoning_content` (their text, for display) and as `thinking_blocks` (the exact blocks with
their signatures, `redacted_thinking` included). A client passes `thinking_blocks` back on the
assistant message of the next turn and they are sent upstream verbatim, so signatures stay intact.
A single `reasoning_content` with a `reasoning_signature` is accepted too; unsigned reasoning is
dropped, as Anthropic would reject it. Streams carry `reasoning_content` deltas as the thinking
arrives, then one `thinking_blocks` delta with the complete block when it closes.

`response_format` becomes a forced tool (see `anthropic_structured`). Answers are translated back in
`anthropic_response` (whole) and `anthropic_stream` (events).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import orjson

from proxy.providers.anthropic_response import THINKING_TYPES, error_from_body, to_openai_completion
from proxy.providers.anthropic_stream import AnthropicStreamTranslator
from proxy.providers.anthropic_structured import apply_structured_output, requested_schema
from proxy.providers.anthropic_wire import (
    API_VERSION,
    MESSAGES_PATH,
    THINKING_BUDGETS,
    Message,
    MessagesRequest,
)
from proxy.providers.base import AdapterTarget, UpstreamError, UpstreamRequest, parse_retry_after


def bad_request(message: str, param: str | None = None) -> UpstreamError:
    return UpstreamError(400, message, type="invalid_request_error", code="invalid_value", param=param, retriable=False)


# -- request: OpenAI -> Anthropic ---------------------------------------------------------------


def parse_data_url(url: str) -> tuple[str, str] | None:
    """`data:<mime>;base64,<data>` -> (mime, data); None for any other URL."""
    if not url.startswith("data:"):
        return None
    head, sep, data = url[5:].partition(",")
    if not sep or not head.endswith(";base64"):
        return None
    return head[: -len(";base64")] or "application/octet-stream", data


def media_block(url: str, param: str) -> dict[str, Any]:
    """An image (or PDF) from an OpenAI image_url/file part: base64 from data: URLs, else by URL."""
    inline = parse_data_url(url)
    if inline is not None:
        mime, data = inline
        kind = "document" if mime == "application/pdf" else "image"
        return {"type": kind, "source": {"type": "base64", "media_type": mime, "data": data}}
    if url.startswith(("http://", "https://")):
        kind = "document" if url.lower().split("?")[0].endswith(".pdf") else "image"
        return {"type": kind, "source": {"type": "url", "url": url}}
    raise bad_request(f"{param}: expected a data: URL or an http(s) URL.", param)


def content_blocks(content: Any, param: str) -> list[dict[str, Any]]:
    """OpenAI message content (string or parts) as Anthropic content blocks."""
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    blocks: list[dict[str, Any]] = []
    for i, part in enumerate(content):
        where = f"{param}[{i}]"
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            if part.get("text"):
                blocks.append({"type": "text", "text": part["text"]})
        elif kind == "image_url":
            ref = part.get("image_url")
            url = ref.get("url") if isinstance(ref, dict) else ref
            blocks.append(media_block(str(url or ""), f"{where}.image_url.url"))
        elif kind == "file":
            blocks.append(media_block(str((part.get("file") or {}).get("file_data") or ""), f"{where}.file.file_data"))
        else:
            raise bad_request(f"{where}.type: {kind!r} content parts are not supported by Anthropic models.", f"{where}.type")
    return blocks


def system_blocks(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    for i, msg in enumerate(messages):
        if msg.get("role") in ("system", "developer"):
            blocks += content_blocks(msg.get("content"), f"messages[{i}].content")
    return blocks


def thinking_blocks_of(msg: dict[str, Any]) -> list[dict[str, Any]]:
    """Signed thinking from a previous assistant turn, exactly as Anthropic issued it."""
    given = msg.get("thinking_blocks")
    if isinstance(given, list):
        return [dict(b) for b in given if isinstance(b, dict) and b.get("type") in THINKING_TYPES]
    signature = msg.get("reasoning_signature")
    if msg.get("reasoning_content") and signature:
        return [{"type": "thinking", "thinking": msg["reasoning_content"], "signature": signature}]
    return []


def tool_use_blocks(msg: dict[str, Any], index: int) -> list[dict[str, Any]]:
    blocks = []
    for j, call in enumerate(msg.get("tool_calls") or ()):
        fn = call.get("function") or {}
        raw = fn.get("arguments") or "{}"
        try:
            args = orjson.loads(raw)
        except orjson.JSONDecodeError:
            param = f"messages[{index}].tool_calls[{j}].function.arguments"
            raise bad_request(f"{param}: not valid JSON.", param) from None
        blocks.append({"type": "tool_use", "id": call.get("id") or f"toolu_{j}", "name": fn.get("name", ""),
                       "input": args if isinstance(args, dict) else {"value": args}})
    return blocks


def tool_result_block(msg: dict[str, Any], index: int) -> dict[str, Any]:
    content = msg.get("content")
    result: Any = content if isinstance(content, str) else content_blocks(content, f"messages[{index}].content")
    return {"type": "tool_result", "tool_use_id": str(msg.get("tool_call_id") or ""), "content": result}


def to_messages(messages: list[dict[str, Any]]) -> list[Message]:
    """Conversation turns, with consecutive same-role turns merged (tool results join one user turn)."""
    out: list[Message] = []
    for i, msg in enumerate(messages):
        role = msg.get("role")
        if role in ("system", "developer"):
            continue
        if role in ("tool", "function"):
            wire_role, blocks = "user", [tool_result_block(msg, i)]
        elif role == "assistant":
            wire_role = "assistant"
            blocks = thinking_blocks_of(msg) + content_blocks(msg.get("content"), f"messages[{i}].content")
            blocks += tool_use_blocks(msg, i)
        else:
            wire_role, blocks = "user", content_blocks(msg.get("content"), f"messages[{i}].content")
        if not blocks:
            continue
        if out and out[-1]["role"] == wire_role:
            prev = out[-1]["content"]
            assert isinstance(prev, list)
            prev.extend(blocks)
        else:
            out.append({"role": wire_role, "content": blocks})  # type: ignore[typeddict-item]
    return out


def to_tools(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for tool in tools:
        fn = tool.get("function") or {}
        entry: dict[str, Any] = {"name": fn.get("name", ""), "input_schema": fn.get("parameters") or {"type": "object", "properties": {}}}
        if fn.get("description"):
            entry["description"] = fn["description"]
        out.append(entry)
    return out


def to_tool_choice(choice: Any, parallel: Any) -> dict[str, Any] | None:
    if choice is None and parallel is not False:
        return None
    if isinstance(choice, dict):
        out: dict[str, Any] = {"type": "tool", "name": (choice.get("function") or {}).get("name", "")}
    else:
        out = {"type": {"none": "none", "required": "any"}.get(str(choice), "auto")}
    if parallel is False and out["type"] != "none":
        out["disable_parallel_tool_use"] = True
    return out


def thinking_config(body: dict[str, Any], max_tokens: int) -> tuple[dict[str, Any] | None, int]:
    """`thinking` passed through, or derived from reasoning_effort; max_tokens raised above the budget."""
    thinking = body.get("thinking")
    effort = body.get("reasoning_effort")
    if thinking is None and effort in THINKING_BUDGETS:
        thinking = {"type": "enabled", "budget_tokens": THINKING_BUDGETS[effort]}
    if isinstance(thinking, dict) and thinking.get("type") == "enabled":
        budget = int(thinking.get("budget_tokens") or THINKING_BUDGETS["low"])
        max_tokens = max(max_tokens, budget + 1024)
    return thinking, max_tokens


def to_anthropic_request(body: dict[str, Any], target: AdapterTarget, *, stream: bool) -> MessagesRequest:
    messages = body.get("messages") or []
    max_tokens = body.get("max_completion_tokens") or body.get("max_tokens") or target.default_max_tokens
    thinking, max_tokens = thinking_config(body, int(max_tokens))
    out: MessagesRequest = {"model": target.upstream_model, "max_tokens": max_tokens, "messages": to_messages(messages)}
    system = system_blocks(messages)
    if system:
        out["system"] = system[0]["text"] if len(system) == 1 else system  # type: ignore[typeddict-item]
    if body.get("tools"):
        out["tools"] = to_tools(body["tools"])
        choice = to_tool_choice(body.get("tool_choice"), body.get("parallel_tool_calls"))
        if choice is not None:
            out["tool_choice"] = choice
    schema = requested_schema(body.get("response_format"))
    if schema is not None:
        apply_structured_output(out, schema, thinking=isinstance(thinking, dict) and thinking.get("type") == "enabled")  # type: ignore[arg-type]
    stop = body.get("stop")
    if stop:
        out["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    if thinking is not None:
        out["thinking"] = thinking
    elif body.get("temperature") is not None:  # thinking requires the default temperature
        out["temperature"] = min(1.0, max(0.0, float(body["temperature"])))
    if body.get("top_p") is not None and thinking is None:
        out["top_p"] = body["top_p"]
    if body.get("top_k") is not None:
        out["top_k"] = body["top_k"]
    if body.get("user"):
        out["metadata"] = {"user_id": str(body["user"])}
    if stream:
        out["stream"] = True
    return out


class AnthropicAdapter:
    wire: ClassVar[str] = "anthropic"

    def build_request(self, body: dict[str, Any], target: AdapterTarget, *, stream: bool) -> UpstreamRequest:
        headers = {"content-type": "application/json", "anthropic-version": API_VERSION, **target.extra_headers}
        if stream:
            headers["accept"] = "text/event-stream"
        if target.api_key:
            headers["x-api-key"] = target.api_key
        payload = orjson.dumps(to_anthropic_request(body, target, stream=stream))
        return UpstreamRequest(url=f"{target.base_url}{MESSAGES_PATH}", headers=headers, body=payload)

    def parse_response(self, payload: bytes) -> dict[str, Any]:
        try:
            data = orjson.loads(payload)
        except orjson.JSONDecodeError:
            raise UpstreamError(502, "Anthropic returned a body that is not JSON.", code="bad_upstream_response") from None
        if not isinstance(data, dict) or data.get("type") == "error":
            raise error_from_body(502, data, None)
        if not isinstance(data.get("content"), list):
            raise UpstreamError(502, "Anthropic response has no 'content'.", code="bad_upstream_response")
        return to_openai_completion(data)

    def parse_error(self, status: int, payload: bytes, headers: Mapping[str, str]) -> UpstreamError:
        try:
            data = orjson.loads(payload) if payload else {}
        except orjson.JSONDecodeError:
            data = {}
        return error_from_body(status, data, parse_retry_after(headers))

    def stream_translator(self) -> AnthropicStreamTranslator:
        return AnthropicStreamTranslator()
