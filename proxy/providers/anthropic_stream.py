"""Anthropic's stream events as OpenAI chunks: text, tool-call argument deltas, thinking with its
signature, structured answers (see `anthropic_structured`), usage, and error events mid-stream.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import orjson

from proxy.providers.anthropic_response import THINKING_TYPES, error_from_body, finish_reason, to_openai_usage
from proxy.providers.anthropic_structured import STRUCTURED_TOOLS, WRAPPED_TOOL, structured_text
from proxy.providers.base import UpstreamError
from proxy.streaming import SSEEvent


class AnthropicStreamTranslator:
    """Anthropic stream events to OpenAI chunks; ends with a usage chunk at message_stop."""

    def __init__(self) -> None:
        self.id = f"msg_{uuid.uuid4().hex[:24]}"
        self.model = ""
        self.created = int(time.time())
        self.raw_usage: dict[str, Any] = {}
        self.blocks: dict[int, dict[str, Any]] = {}  # Anthropic block index -> block so far
        self.tool_index: dict[int, int] = {}  # Anthropic block index -> OpenAI tool_calls index
        self.structured: dict[int, str] = {}  # block index -> partial JSON of a structured answer's tool
        self.stop_reason: str | None = None
        self._done = False

    @property
    def done(self) -> bool:
        return self._done

    @property
    def usage(self) -> dict[str, Any] | None:
        return to_openai_usage(self.raw_usage) if self.raw_usage else None

    def chunk(self, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            "id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }

    def usage_chunk(self) -> dict[str, Any]:
        return {"id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
                "choices": [], "usage": to_openai_usage(self.raw_usage)}

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
