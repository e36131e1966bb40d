"""The inbound Anthropic Messages API, as pure translation: an Anthropic request becomes the
gateway's internal (OpenAI-shaped) request, and the internal answer, whole or as chunks, becomes an
Anthropic message or its event sequence. Any provider can then answer an Anthropic-format client.

Thinking blocks cross in both directions as `thinking_blocks` (see `proxy.providers.anthropic`), so
a Claude upstream gets its signatures back intact whichever API the client used.
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson

from proxy.api.anthropic_checks import check_messages_request
from proxy.call import invalid
from proxy.errors import GatewayError
from proxy.providers.anthropic_wire import FINISH_TO_STOP, THINKING_BUDGETS
from proxy.providers.common import GATEWAY_FIELDS, THINKING_TYPES
from proxy.streaming import sse_frame

# HTTP status -> Anthropic error type, for errors this API answers with.
STATUS_ERROR_TYPES: dict[int, str] = {
    400: "invalid_request_error", 401: "authentication_error", 402: "billing_error", 403: "permission_error",
    404: "not_found_error", 413: "request_too_large", 415: "invalid_request_error", 422: "invalid_request_error",
    429: "rate_limit_error", 503: "overloaded_error", 529: "overloaded_error", 504: "timeout_error",
}


def error_type_for(status: int) -> str:
    return STATUS_ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")


def error_body(status: int, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": error_type_for(status), "message": message}}


# -- request: Anthropic -> internal ------------------------------------------------------------


def media_url(source: dict[str, Any], param: str) -> str:
    kind = source.get("type")
    if kind == "base64":
        return f"data:{source.get('media_type') or 'application/octet-stream'};base64,{source.get('data') or ''}"
    if kind == "url" and isinstance(source.get("url"), str):
        return str(source["url"])
    raise invalid(f"{param}.source.type", f"expected 'base64' or 'url', got {kind!r}.")


def user_part(block: dict[str, Any], param: str) -> dict[str, Any]:
    kind = block.get("type")
    if kind == "text":
        return {"type": "text", "text": str(block.get("text") or "")}
    if kind == "image":
        return {"type": "image_url", "image_url": {"url": media_url(block.get("source") or {}, param)}}
    if kind == "document":
        return {"type": "file", "file": {"file_data": media_url(block.get("source") or {}, param)}}
    raise invalid(f"{param}.type", f"content blocks of type {kind!r} are not supported here.")


def tool_message(block: dict[str, Any], param: str) -> dict[str, Any]:
    content = block.get("content")
    if isinstance(content, list):
        parts = [user_part(b, f"{param}.content[{k}]") for k, b in enumerate(content) if isinstance(b, dict)]
        content = "".join(p["text"] for p in parts) if all(p["type"] == "text" for p in parts) else parts
    if block.get("is_error") and isinstance(content, str):
        content = f"Error: {content}"
    return {"role": "tool", "tool_call_id": str(block.get("tool_use_id") or ""), "content": content if content is not None else ""}


def blocks_of(content: Any, param: str) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if not isinstance(content, list) or not all(isinstance(b, dict) for b in content):
        raise invalid(param, "expected a string or a list of content blocks.")
    return content


def user_messages(content: Any, param: str) -> list[dict[str, Any]]:
    """Tool results become tool messages (first, as OpenAI wants them); the rest one user message."""
    out: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for k, block in enumerate(blocks_of(content, param)):
        if block.get("type") == "tool_result":
            out.append(tool_message(block, f"{param}[{k}]"))
        else:
            parts.append(user_part(block, f"{param}[{k}]"))
    if parts:
        text_only = all(p["type"] == "text" for p in parts)
        out.append({"role": "user", "content": "".join(p["text"] for p in parts) if text_only and len(parts) == 1 else parts})
    return out


def assistant_message(content: Any, param: str) -> dict[str, Any]:
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    thinking: list[dict[str, Any]] = []
    for block in blocks_of(content, param):
        kind = block.get("type")
        if kind == "text":
            texts.append(str(block.get("text") or ""))
        elif kind == "tool_use":
            calls.append({"id": block.get("id"), "type": "function",
                          "function": {"name": block.get("name"), "arguments": orjson.dumps(block.get("input") or {}).decode()}})
        elif kind in THINKING_TYPES:
            thinking.append(block)
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts else None}
    if calls:
        message["tool_calls"] = calls
    if thinking:
        message["thinking_blocks"] = thinking
        message["reasoning_content"] = "".join(b.get("thinking") or "" for b in thinking if b.get("type") == "thinking")
    return message


def to_tools(tools: Any) -> list[dict[str, Any]]:
    out = []
    for i, tool in enumerate(tools if isinstance(tools, list) else []):
        if tool.get("type") not in (None, "custom"):
            raise invalid(f"tools[{i}].type", f"server tools ({tool.get('type')!r}) are not supported through the gateway.")
        fn: dict[str, Any] = {"name": tool.get("name"), "parameters": tool.get("input_schema") or {"type": "object", "properties": {}}}
        if tool.get("description"):
            fn["description"] = tool["description"]
        out.append({"type": "function", "function": fn})
    return out


def apply_tool_choice(choice: dict[str, Any], out: dict[str, Any]) -> None:
    kind = choice.get("type")
    if kind == "tool":
        out["tool_choice"] = {"type": "function", "function": {"name": choice.get("name")}}
    elif kind in ("auto", "any", "none"):
        out["tool_choice"] = {"auto": "auto", "any": "required", "none": "none"}[kind]
    if choice.get("disable_parallel_tool_use"):
        out["parallel_tool_calls"] = False


def reasoning_effort(thinking: Any) -> str | None:
    """Thinking's budget as the nearest reasoning_effort, which every wire format understands."""
    if not isinstance(thinking, dict) or thinking.get("type") != "enabled":
        return None
    budget = int(thinking.get("budget_tokens") or 0)
    return next((name for name, limit in THINKING_BUDGETS.items() if budget <= limit), "high")


def to_internal_request(body: dict[str, Any]) -> dict[str, Any]:
    """An Anthropic `/v1/messages` body as the gateway's OpenAI-shaped chat request."""
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise GatewayError(400, "model: Field required", param="model", code="missing_required_parameter")
    if not isinstance(body.get("max_tokens"), int) or isinstance(body["max_tokens"], bool) or body["max_tokens"] < 1:
        raise GatewayError(400, "max_tokens: Field required (a positive integer)", param="max_tokens", code="missing_required_parameter")
    if not isinstance(body.get("messages"), list) or not body["messages"]:
        raise GatewayError(400, "messages: at least one message is required", param="messages", code="missing_required_parameter")
    check_messages_request(body)
    messages: list[dict[str, Any]] = []
    system = body.get("system")
    if system:
        texts = [b.get("text", "") for b in blocks_of(system, "system") if b.get("type") == "text"]
        messages.append({"role": "system", "content": "\n\n".join(texts) if isinstance(system, list) else system})
    for i, msg in enumerate(body["messages"]):
        role = msg.get("role") if isinstance(msg, dict) else None
        if role == "user":
            messages += user_messages(msg.get("content"), f"messages[{i}].content")
        elif role == "assistant":
            messages.append(assistant_message(msg.get("content"), f"messages[{i}].content"))
        else:
            raise invalid(f"messages[{i}].role", "expected 'user' or 'assistant'.")
    out: dict[str, Any] = {"model": body["model"], "messages": messages, "max_tokens": body["max_tokens"]}
    for name in ("temperature", "top_p", "top_k", *GATEWAY_FIELDS):
        if body.get(name) is not None:
            out[name] = body[name]
    if body.get("stop_sequences"):
        out["stop"] = list(body["stop_sequences"])
    if body.get("tools"):
        out["tools"] = to_tools(body["tools"])
    if isinstance(body.get("tool_choice"), dict) and out.get("tools"):
        apply_tool_choice(body["tool_choice"], out)
    user_id = (body.get("metadata") or {}).get("user_id")
    if user_id:
        out["user"] = str(user_id)
    effort = reasoning_effort(body.get("thinking"))
    if effort:
        out["reasoning_effort"] = effort
    if body.get("stream") is True:
        out["stream"] = True
        out["stream_options"] = {"include_usage": True}
    return out


# -- response: internal -> Anthropic -----------------------------------------------------------


def to_anthropic_usage(usage: dict[str, Any] | None) -> dict[str, Any]:
    usage = usage or {}
    prompt = int(usage.get("prompt_tokens") or 0)
    if "cache_read_input_tokens" in usage:  # from a Claude upstream: its own counts, exactly
        read = int(usage.get("cache_read_input_tokens") or 0)
        write = int(usage.get("cache_creation_input_tokens") or 0)
    else:
        read, write = int((usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0), 0
    return {"input_tokens": max(0, prompt - read - write), "output_tokens": int(usage.get("completion_tokens") or 0),
            "cache_creation_input_tokens": write, "cache_read_input_tokens": read}


def stop_reason(finish: str | None) -> str:
    return FINISH_TO_STOP.get(finish or "stop", "end_turn")


def parse_arguments(raw: str | None) -> dict[str, Any]:
    try:
        value = orjson.loads(raw or "{}")
    except orjson.JSONDecodeError:
        return {"_raw_arguments": raw}
    return value if isinstance(value, dict) else {"value": value}


def message_id(completion_id: Any) -> str:
    raw = str(completion_id or "")
    return raw if raw.startswith("msg_") else f"msg_{raw.removeprefix('chatcmpl-') or uuid.uuid4().hex[:24]}"


def to_anthropic_message(completion: dict[str, Any]) -> dict[str, Any]:
    choice = (completion.get("choices") or [{}])[0]
    msg = choice.get("message") or {}
    content: list[dict[str, Any]] = []
    if msg.get("thinking_blocks"):
        content += [dict(b) for b in msg["thinking_blocks"]]
    elif msg.get("reasoning_content"):
        content.append({"type": "thinking", "thinking": msg["reasoning_content"], "signature": ""})
    if msg.get("content"):
        content.append({"type": "text", "text": msg["content"]})
    for call in msg.get("tool_calls") or ():
        fn = call.get("function") or {}
        content.append({"type": "tool_use", "id": call.get("id"), "name": fn.get("name"), "input": parse_arguments(fn.get("arguments"))})
    return {
        "id": message_id(completion.get("id")), "type": "message", "role": "assistant", "model": completion.get("model", ""),
        "content": content, "stop_reason": stop_reason(choice.get("finish_reason")), "stop_sequence": None,
        "usage": to_anthropic_usage(completion.get("usage")),
    }


def sse(event: str, data: dict[str, Any]) -> bytes:
    return sse_frame(orjson.dumps(data), event)


class AnthropicEventEncoder:
    """Internal stream chunks in, Anthropic events out: message_start, then content blocks
    (content_block_start/delta/stop), then message_delta with the stop reason and usage, and message_stop."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.started = False
        self.open: tuple[int, str] | None = None  # (block index, kind)
        self.blocks = 0
        self.tool_blocks: dict[int, int] = {}  # OpenAI tool_calls index -> block index
        self.finish: str | None = None

    def encode(self, chunk: dict[str, Any]) -> bytes:
        out = [] if self.started else [self.message_start(chunk)]
        for choice in chunk.get("choices") or ():
            delta = choice.get("delta") or {}
            if delta.get("reasoning_content"):
                out.append(self.into_block("thinking", {"type": "thinking", "thinking": "", "signature": ""}))
                out.append(self.delta({"type": "thinking_delta", "thinking": delta["reasoning_content"]}))
            for block in delta.get("thinking_blocks") or ():
                out.append(self.whole_thinking_block(block))
            if delta.get("content"):
                out.append(self.into_block("text", {"type": "text", "text": ""}))
                out.append(self.delta({"type": "text_delta", "text": delta["content"]}))
            for call in delta.get("tool_calls") or ():
                out.append(self.tool_call(call))
            if choice.get("finish_reason"):
                self.finish = choice["finish_reason"]
        return b"".join(out)

    def message_start(self, chunk: dict[str, Any]) -> bytes:
        self.started = True
        message: dict[str, Any] = {"id": message_id(chunk.get("id")), "type": "message", "role": "assistant", "model": self.model, "content": [],
                   "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 0, "output_tokens": 0}}
        return sse("message_start", {"type": "message_start", "message": message}) + sse("ping", {"type": "ping"})

    def close_block(self) -> bytes:
        if self.open is None:
            return b""
        index, _ = self.open
        self.open = None
        return sse("content_block_stop", {"type": "content_block_stop", "index": index})

    def start_block(self, kind: str, block: dict[str, Any]) -> bytes:
        out = self.close_block()
        self.open = (self.blocks, kind)
        self.blocks += 1
        return out + sse("content_block_start", {"type": "content_block_start", "index": self.open[0], "content_block": block})

    def into_block(self, kind: str, block: dict[str, Any]) -> bytes:
        return b"" if self.open is not None and self.open[1] == kind else self.start_block(kind, block)

    def delta(self, delta: dict[str, Any], index: int | None = None) -> bytes:
        assert self.open is not None or index is not None
        where = index if index is not None else self.open[0]  # type: ignore[index]
        return sse("content_block_delta", {"type": "content_block_delta", "index": where, "delta": delta})

    def whole_thinking_block(self, block: dict[str, Any]) -> bytes:
        """A finished thinking block: signs the one being streamed, or arrives whole."""
        if block.get("type") == "redacted_thinking":
            return self.start_block("redacted_thinking", dict(block)) + self.close_block()
        out = b""
        if self.open is None or self.open[1] != "thinking":
            out = self.start_block("thinking", {"type": "thinking", "thinking": "", "signature": ""})
            out += self.delta({"type": "thinking_delta", "thinking": block.get("thinking") or ""})
        if block.get("signature"):
            out += self.delta({"type": "signature_delta", "signature": block["signature"]})
        return out + self.close_block()

    def tool_call(self, call: dict[str, Any]) -> bytes:
        out = b""
        position = int(call.get("index") or 0)
        fn = call.get("function") or {}
        if call.get("id") or position not in self.tool_blocks:
            block: dict[str, Any] = {"type": "tool_use", "id": call.get("id") or f"toolu_{uuid.uuid4().hex[:24]}", "name": fn.get("name") or "", "input": {}}
            out = self.start_block("tool_use", block)
            self.tool_blocks[position] = self.blocks - 1
        if fn.get("arguments"):
            out += self.delta({"type": "input_json_delta", "partial_json": fn["arguments"]}, self.tool_blocks[position])
        return out

    def finish_events(self, usage: dict[str, Any] | None) -> bytes:
        """The closing events; `usage` is the internal (OpenAI-shaped) usage for the whole answer."""
        out = b"" if self.started else self.message_start({})
        delta = {"type": "message_delta", "delta": {"stop_reason": stop_reason(self.finish), "stop_sequence": None},
                 "usage": to_anthropic_usage(usage)}
        return out + self.close_block() + sse("message_delta", delta) + sse("message_stop", {"type": "message_stop"})

    def error_event(self, status: int, message: str) -> bytes:
        return sse("error", error_body(status, message))
