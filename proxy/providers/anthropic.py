"""Anthropic Messages API upstream: OpenAI chat requests in, Anthropic messages out, and back.

Extended thinking survives the round trip. A response's thinking blocks are exposed as
`reasoning_content` (their text, for display) and as `thinking_blocks` (the exact blocks with
their signatures, `redacted_thinking` included). A client passes `thinking_blocks` back on the
assistant message of the next turn and they are sent upstream verbatim, so signatures stay intact.
A single `reasoning_content` with a `reasoning_signature` is accepted too; unsigned reasoning is
dropped, as Anthropic would reject it. Streams carry `reasoning_content` deltas as the thinking
arrives, then one `thinking_blocks` delta with the complete block when it closes.

`response_format` travels as a forced tool (see `anthropic_structured`); its call comes back here as
the answer's text, streamed as it arrives.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from typing import Any, ClassVar

import orjson

from proxy.providers.anthropic_request import to_anthropic_request
from proxy.providers.anthropic_structured import STRUCTURED_TOOLS, WRAPPED_TOOL, structured_text
from proxy.providers.anthropic_wire import (
    API_VERSION,
    ERROR_TYPES,
    MESSAGES_PATH,
    OVERLOADED_AS,
    OVERLOADED_STATUS,
    STATUS_TO_ERROR_TYPE,
    STOP_TO_FINISH,
)
from proxy.providers.base import AdapterTarget, UpstreamError, UpstreamRequest, parse_retry_after
from proxy.providers.common import (
    THINKING_TYPES,
    VendorStream,
    error_json,
    response_json,
)
from proxy.streaming import SSEEvent

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
        data = response_json(payload, "Anthropic")
        if not isinstance(data, dict) or data.get("type") == "error":
            raise error_from_body(502, data, None)
        if not isinstance(data.get("content"), list):
            raise UpstreamError(502, "Anthropic response has no 'content'.", code="bad_upstream_response")
        return to_openai_completion(data)

    def parse_error(self, status: int, payload: bytes, headers: Mapping[str, str]) -> UpstreamError:
        data = error_json(payload)
        return error_from_body(status, data, parse_retry_after(headers))

    def stream_translator(self) -> AnthropicStreamTranslator:
        return AnthropicStreamTranslator()


class AnthropicStreamTranslator(VendorStream):
    """Anthropic stream events to OpenAI chunks; ends with a usage chunk at message_stop."""

    openai_usage = staticmethod(to_openai_usage)

    def __init__(self) -> None:
        super().__init__("msg_")
        self.blocks: dict[int, dict[str, Any]] = {}  # Anthropic block index -> block so far
        self.tool_index: dict[int, int] = {}  # Anthropic block index -> OpenAI tool_calls index
        self.structured: dict[int, str] = {}  # block index -> partial JSON of a structured answer's tool
        self.stop_reason: str | None = None

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
        if kind == "tool_use" and block.get("name") in STRUCTURED_TOOLS:
            self.structured[index] = ""
            return []
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
            if index in self.structured:
                return self.on_structured_delta(index, partial)
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

    def on_structured_delta(self, index: int, partial: str) -> list[dict[str, Any]]:
        """An object answer streams as content as it comes; a wrapped one waits for its block's end."""
        if self.blocks[index].get("name") == WRAPPED_TOOL:
            self.structured[index] += partial
            return []
        return [self.chunk({"content": partial})] if partial else []

    def on_block_stop(self, index: int) -> list[dict[str, Any]]:
        block = self.blocks.get(index) or {}
        if block.get("name") == WRAPPED_TOOL and index in self.structured:
            try:
                tool_input = orjson.loads(self.structured[index] or "{}")
            except orjson.JSONDecodeError:
                raise UpstreamError(502, "Anthropic sent a structured answer that is not JSON.", code="bad_upstream_stream") from None
            return [self.chunk({"content": structured_text(WRAPPED_TOOL, tool_input)})]
        if block.get("type") in THINKING_TYPES:
            return [self.chunk({"thinking_blocks": [block]})]
        return []

    def on_message_delta(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        self.raw_usage.update({k: v for k, v in (data.get("usage") or {}).items() if v is not None})
        stop = (data.get("delta") or {}).get("stop_reason")
        if stop is None:
            return []
        self.stop_reason = str(stop)
        finish = finish_reason(stop)
        if finish == "tool_calls" and self.structured and not self.tool_index:  # only the structured answer's tool
            finish = "stop"
        return [self.chunk({}, finish)]

    def finish(self) -> list[dict[str, Any]]:
        if self._done:
            return []
        if self.stop_reason is None:
            raise UpstreamError(502, "Anthropic closed the stream before it was complete.", code="stream_truncated", retriable=True)
        self._done = True  # message_delta arrived, only message_stop is missing: the answer is whole
        return [self.usage_chunk()]
