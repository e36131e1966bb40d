"""OpenAI chat requests as Anthropic Messages requests (see `proxy.providers.anthropic` for the round trip of thinking)."""

from __future__ import annotations

from typing import Any

import orjson

from proxy.providers.anthropic_structured import apply_structured_output, requested_schema
from proxy.providers.anthropic_wire import (
    THINKING_BUDGETS,
    Message,
    MessagesRequest,
)
from proxy.providers.base import AdapterTarget
from proxy.providers.common import (
    THINKING_TYPES,
    bad_request,
    merge_turn,
    parse_data_url,
    translate_content,
)

# -- request: OpenAI -> Anthropic ---------------------------------------------------------------


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
    return translate_content(content, param, "Anthropic", lambda s: {"type": "text", "text": s}, media_block)


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
        merge_turn(out, wire_role, blocks, "content")
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
