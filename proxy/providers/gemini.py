"""Gemini upstream (`generateContent`, and `streamGenerateContent?alt=sse`): OpenAI chat in and out.

Gemini's function calls carry no id, so each gets a stable one derived from the response id, its
position and its name; the same response always yields the same ids, streamed or not. A function
call's `thoughtSignature` rides on the OpenAI tool call as `extra_content.google.thought_signature`
(the field Google's own OpenAI-compatible endpoint uses) and is sent back with it on the next turn.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Mapping
from typing import Any, ClassVar

import orjson

from proxy.providers.base import AdapterTarget, UpstreamError, UpstreamRequest, parse_retry_after
from proxy.providers.common import VendorStream, error_json, response_json
from proxy.providers.gemini_request import to_gemini_request
from proxy.providers.gemini_wire import (
    API_KEY_HEADER,
    ERROR_STATUSES,
    FINISH_REASONS,
    KEY_INVALID_REASONS,
    RETRY_INFO_TYPE,
)
from proxy.streaming import SSEEvent

# -- response: Gemini -> OpenAI -----------------------------------------------------------------


def to_openai_usage(meta: Mapping[str, Any]) -> dict[str, Any]:
    """OpenAI counts reasoning inside completion_tokens and cached tokens inside prompt_tokens, as Gemini does."""
    prompt = int(meta.get("promptTokenCount") or 0) + int(meta.get("toolUsePromptTokenCount") or 0)
    thoughts = int(meta.get("thoughtsTokenCount") or 0)
    completion = int(meta.get("candidatesTokenCount") or 0) + thoughts
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": int(meta.get("totalTokenCount") or prompt + completion),
        "prompt_tokens_details": {"cached_tokens": int(meta.get("cachedContentTokenCount") or 0)},
        "completion_tokens_details": {"reasoning_tokens": thoughts},
    }


def tool_call_id(response_id: str, ordinal: int, name: str) -> str:
    digest = hashlib.sha256(f"{response_id}:{ordinal}:{name}".encode()).hexdigest()
    return f"call_{digest[:24]}"


def to_tool_call(part: Mapping[str, Any], response_id: str, ordinal: int) -> dict[str, Any]:
    fc = part["functionCall"]
    name = str(fc.get("name") or "")
    call: dict[str, Any] = {
        "id": fc.get("id") or tool_call_id(response_id, ordinal, name),
        "type": "function",
        "function": {"name": name, "arguments": orjson.dumps(fc.get("args") or {}).decode()},
    }
    if part.get("thoughtSignature"):
        call["extra_content"] = {"google": {"thought_signature": part["thoughtSignature"]}}
    return call


def finish_reason(reason: Any, called_functions: bool) -> str:
    mapped = FINISH_REASONS.get(str(reason), "stop")
    return "tool_calls" if mapped == "stop" and called_functions else mapped


def split_parts(parts: list[dict[str, Any]], response_id: str, first_ordinal: int) -> tuple[str, str, list[dict[str, Any]]]:
    """(text, thoughts, tool calls) of one candidate's parts."""
    text: list[str] = []
    thoughts: list[str] = []
    calls: list[dict[str, Any]] = []
    for part in parts:
        if "functionCall" in part:
            calls.append(to_tool_call(part, response_id, first_ordinal + len(calls)))
        elif part.get("thought"):
            thoughts.append(part.get("text") or "")
        elif "text" in part:
            text.append(part["text"])
    return "".join(text), "".join(thoughts), calls


def to_openai_completion(data: dict[str, Any]) -> dict[str, Any]:
    response_id = str(data.get("responseId") or "")
    candidates = data.get("candidates") or []
    if not candidates:  # the prompt itself was blocked
        message: dict[str, Any] = {"role": "assistant", "content": ""}
        finish = "content_filter" if (data.get("promptFeedback") or {}).get("blockReason") else "stop"
    else:
        cand = candidates[0]
        text, thoughts, calls = split_parts((cand.get("content") or {}).get("parts") or [], response_id, 0)
        message = {"role": "assistant", "content": text if text or not calls else None}
        if calls:
            message["tool_calls"] = calls
        if thoughts:
            message["reasoning_content"] = thoughts
        finish = finish_reason(cand.get("finishReason"), bool(calls))
    return {
        "id": f"chatcmpl-{response_id}" if response_id else f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": data.get("modelVersion", ""),
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
        "usage": to_openai_usage(data.get("usageMetadata") or {}),
    }


def retry_delay(err: Mapping[str, Any]) -> float | None:
    """RetryInfo.retryDelay ("30s", "1.5s") from a Google error's details."""
    for detail in err.get("details") or ():
        if isinstance(detail, dict) and detail.get("@type") == RETRY_INFO_TYPE:
            raw = str(detail.get("retryDelay") or "").rstrip("s")
            try:
                return max(0.0, float(raw))
            except ValueError:
                return None
    return None


def error_from_body(status: int | None, data: Any, retry_after_s: float | None) -> UpstreamError:
    """`{"error": {"code", "message", "status", "details"}}` in OpenAI's shape and status."""
    err = data.get("error") if isinstance(data, dict) else None
    if isinstance(data, list) and data and isinstance(data[0], dict):  # a JSON-array error body
        err = data[0].get("error")
    err = err if isinstance(err, dict) else {}
    rpc_status = str(err.get("status") or "")
    default_status = int(err.get("code") or status or 500)
    http_status, openai_type, code = ERROR_STATUSES.get(rpc_status, (default_status, "upstream_error", rpc_status.lower() or None))
    http_status = status or http_status
    reasons = {str(d.get("reason")) for d in err.get("details") or () if isinstance(d, dict)}
    if reasons & KEY_INVALID_REASONS:
        http_status, openai_type, code = 401, "authentication_error", "invalid_api_key"
    message = str(err.get("message") or f"Gemini returned HTTP {http_status}.")
    return UpstreamError(http_status, message, type=openai_type, code=code,
                         retry_after_s=retry_after_s if retry_after_s is not None else retry_delay(err))


class GeminiAdapter:
    wire: ClassVar[str] = "gemini"

    def build_request(self, body: dict[str, Any], target: AdapterTarget, *, stream: bool) -> UpstreamRequest:
        headers = {"Content-Type": "application/json", **target.extra_headers}
        if target.api_key:
            headers[API_KEY_HEADER] = target.api_key
        method = "streamGenerateContent?alt=sse" if stream else "generateContent"
        if stream:
            headers["Accept"] = "text/event-stream"
        url = f"{target.base_url}/models/{target.upstream_model}:{method}"
        return UpstreamRequest(url=url, headers=headers, body=orjson.dumps(to_gemini_request(body)))

    def parse_response(self, payload: bytes) -> dict[str, Any]:
        data = response_json(payload, "Gemini")
        if not isinstance(data, dict) or "error" in data:
            raise error_from_body(502, data, None)
        return to_openai_completion(data)

    def parse_error(self, status: int, payload: bytes, headers: Mapping[str, str]) -> UpstreamError:
        data = error_json(payload)
        return error_from_body(status, data, parse_retry_after(headers))

    def stream_translator(self) -> GeminiStreamTranslator:
        return GeminiStreamTranslator()


class GeminiStreamTranslator(VendorStream):
    """Each SSE event is a whole GenerateContentResponse holding only new parts; the one with a
    finishReason is the last, and its usageMetadata has the final counts."""

    openai_usage = staticmethod(to_openai_usage)

    def __init__(self) -> None:
        super().__init__("chatcmpl-")
        self.response_id = ""
        self.started = False
        self.tool_calls = 0

    def end(self, finish: str) -> list[dict[str, Any]]:
        self._done = True
        return [self.chunk({}, finish), self.usage_chunk()]

    def feed(self, event: SSEEvent) -> list[dict[str, Any]]:
        try:
            data = orjson.loads(event.data)
        except orjson.JSONDecodeError:
            raise UpstreamError(502, "Gemini sent a stream event that is not JSON.", code="bad_upstream_stream") from None
        if not isinstance(data, dict):
            raise UpstreamError(502, "Gemini sent a stream event that is not an object.", code="bad_upstream_stream")
        if "error" in data:
            err = error_from_body(None, data, None)
            err.retriable = err.retriable or err.status >= 500
            raise err
        out: list[dict[str, Any]] = []
        if not self.started:
            self.started = True
            self.response_id = str(data.get("responseId") or "")
            if self.response_id:
                self.id = f"chatcmpl-{self.response_id}"
            self.model = str(data.get("modelVersion") or "")
            out.append(self.chunk({"role": "assistant", "content": ""}))
        if data.get("usageMetadata"):
            self.raw_usage = data["usageMetadata"]
        candidates = data.get("candidates") or []
        if not candidates:
            if (data.get("promptFeedback") or {}).get("blockReason"):
                out += self.end("content_filter")
            return out
        cand = candidates[0]
        text, thoughts, calls = split_parts((cand.get("content") or {}).get("parts") or [], self.response_id, self.tool_calls)
        if thoughts:
            out.append(self.chunk({"reasoning_content": thoughts}))
        if text:
            out.append(self.chunk({"content": text}))
        for call in calls:
            out.append(self.chunk({"tool_calls": [{"index": self.tool_calls, **call}]}))
            self.tool_calls += 1
        if cand.get("finishReason"):
            out += self.end(finish_reason(cand["finishReason"], self.tool_calls > 0))
        return out

    def finish(self) -> list[dict[str, Any]]:
        if not self._done:
            raise UpstreamError(502, "Gemini closed the stream before it was complete.", code="stream_truncated", retriable=True)
        return []
