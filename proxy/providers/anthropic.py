"""Anthropic Messages API upstream: OpenAI chat requests in, Anthropic messages out, and back.

Extended thinking survives the round trip. A response's thinking blocks are exposed as
`reasoning_content` (their text, for display) and as `thinking_blocks` (the exact blocks with
their signatures, `redacted_thinking` included). A client passes `thinking_blocks` back on the
assistant message of the next turn and they are sent upstream verbatim, so signatures stay intact.
A single `reasoning_content` with a `reasoning_signature` is accepted too; unsigned reasoning is
dropped, as Anthropic would reject it. Streams carry `reasoning_content` deltas as the thinking
arrives, then one `thinking_blocks` delta with the complete block when it closes.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from typing import Any, ClassVar

import orjson

from proxy.providers.anthropic_wire import (
    API_VERSION,
    ERROR_TYPES,
    MESSAGES_PATH,
    OVERLOADED_AS,
    OVERLOADED_STATUS,
    STATUS_TO_ERROR_TYPE,
    STOP_TO_FINISH,
    THINKING_BUDGETS,
    Message,
    MessagesRequest,
)
from proxy.providers.base import AdapterTarget, UpstreamError, UpstreamRequest, parse_retry_after
from proxy.providers.common import (
    THINKING_TYPES,
    bad_request,
    merge_turn,
    parse_data_url,
    stream_chunk,
    usage_chunk,
)
from proxy.streaming import SSEEvent

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
        merge_turn(out, wire_role, blocks, make_message, message_blocks, message_role)
    return out


def make_message(role: str, blocks: list[Any]) -> Message:
    return {"role": role, "content": blocks}  # type: ignore[typeddict-item]


def message_blocks(message: Message) -> list[Any]:
    return message["content"]  # type: ignore[return-value]


def message_role(message: Message) -> str:
    return message["role"]


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


# -- response: Anthropic -> OpenAI --------------------------------------------------------------


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
        elif kind == "tool_use":
            args = orjson.dumps(block.get("input") or {}).decode()
            calls.append({"id": block.get("id"), "type": "function", "function": {"name": block.get("name"), "arguments": args}})
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts or not calls else None}
    if calls:
        message["tool_calls"] = calls
    if thinking:
        message["reasoning_content"] = "".join(reasoning)
        message["thinking_blocks"] = thinking
    return message


def to_openai_completion(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(data.get("id") or f"msg_{uuid.uuid4().hex[:24]}"),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": data.get("model", ""),
        "choices": [{
            "index": 0,
            "message": to_openai_message(data.get("content") or []),
            "logprobs": None,
            "finish_reason": finish_reason(data.get("stop_reason")) or "stop",
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


class AnthropicStreamTranslator:
    """Anthropic stream events to OpenAI chunks; ends with a usage chunk at message_stop."""

    def __init__(self) -> None:
        self.id = f"msg_{uuid.uuid4().hex[:24]}"
        self.model = ""
        self.created = int(time.time())
        self.raw_usage: dict[str, Any] = {}
        self.blocks: dict[int, dict[str, Any]] = {}  # Anthropic block index -> block so far
        self.tool_index: dict[int, int] = {}  # Anthropic block index -> OpenAI tool_calls index
        self.stop_reason: str | None = None
        self._done = False

    @property
    def done(self) -> bool:
        return self._done

    @property
    def usage(self) -> dict[str, Any] | None:
        return to_openai_usage(self.raw_usage) if self.raw_usage else None

    def chunk(self, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return stream_chunk(self.id, self.created, self.model, delta, finish)

    def usage_chunk(self) -> dict[str, Any]:
        return usage_chunk(self.id, self.created, self.model, to_openai_usage(self.raw_usage))

    def feed(self, event: SSEEvent) -> list[dict[str, Any]]:
        try:
            data = orjson.loads(event.data)
        except orjson.JSONDecodeError:
            raise UpstreamError(502, "Anthropic sent a stream event that is not JSON.", code="bad_upstream_stream") from None
        if not isinstance(data, dict):
            raise UpstreamError(502, "Anthropic sent a stream event that is not an object.", code="bad_upstream_stream")
        kind = data.get("type") or event.event
        if kind == "message_start":
            return self.on_message_start(data.get("message") or {})
        if kind == "content_block_start":
            return self.on_block_start(int(data.get("index") or 0), data.get("content_block") or {})
        if kind == "content_block_delta":
            return self.on_block_delta(int(data.get("index") or 0), data.get("delta") or {})
        if kind == "content_block_stop":
            return self.on_block_stop(int(data.get("index") or 0))
        if kind == "message_delta":
            return self.on_message_delta(data)
        if kind == "message_stop":
            self._done = True
            return [self.usage_chunk()]
        if kind == "error":
            raise error_from_body(None, data, None)
        return []  # ping, and event types added after this adapter was written

    def on_message_start(self, message: dict[str, Any]) -> list[dict[str, Any]]:
        self.id = str(message.get("id") or self.id)
        self.model = str(message.get("model") or "")
        self.raw_usage.update({k: v for k, v in (message.get("usage") or {}).items() if v is not None})
        return [self.chunk({"role": "assistant", "content": ""})]

    def on_block_start(self, index: int, block: dict[str, Any]) -> list[dict[str, Any]]:
        kind = block.get("type")
        self.blocks[index] = dict(block)
        if kind == "tool_use":
            position = self.tool_index[index] = len(self.tool_index)
            call = {"index": position, "id": block.get("id"), "type": "function",
                    "function": {"name": block.get("name"), "arguments": ""}}
            return [self.chunk({"tool_calls": [call]})]
        if kind == "text" and block.get("text"):
            return [self.chunk({"content": block["text"]})]
        if kind == "thinking" and block.get("thinking"):
            return [self.chunk({"reasoning_content": block["thinking"]})]
        return []

    def on_block_delta(self, index: int, delta: dict[str, Any]) -> list[dict[str, Any]]:
        kind = delta.get("type")
        block = self.blocks.setdefault(index, {})
        if kind == "text_delta":
            return [self.chunk({"content": delta.get("text") or ""})] if delta.get("text") else []
        if kind == "input_json_delta":
            partial = delta.get("partial_json") or ""
            if not partial or index not in self.tool_index:
                return []
            return [self.chunk({"tool_calls": [{"index": self.tool_index[index], "function": {"arguments": partial}}]})]
        if kind == "thinking_delta":
            text = delta.get("thinking") or ""
            block["thinking"] = block.get("thinking", "") + text
            return [self.chunk({"reasoning_content": text})] if text else []
        if kind == "signature_delta":
            block["signature"] = block.get("signature", "") + (delta.get("signature") or "")
        return []

    def on_block_stop(self, index: int) -> list[dict[str, Any]]:
        block = self.blocks.get(index) or {}
        if block.get("type") in THINKING_TYPES:
            return [self.chunk({"thinking_blocks": [block]})]
        return []

    def on_message_delta(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        self.raw_usage.update({k: v for k, v in (data.get("usage") or {}).items() if v is not None})
        stop = (data.get("delta") or {}).get("stop_reason")
        if stop is None:
            return []
        self.stop_reason = str(stop)
        return [self.chunk({}, finish_reason(stop))]

    def finish(self) -> list[dict[str, Any]]:
        if self._done:
            return []
        if self.stop_reason is None:
            raise UpstreamError(502, "Anthropic closed the stream before it was complete.", code="stream_truncated", retriable=True)
        self._done = True  # message_delta arrived, only message_stop is missing: the answer is whole
        return [self.usage_chunk()]
