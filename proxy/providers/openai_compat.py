"""OpenAI-compatible upstreams (OpenAI, Azure v1, Mistral, DeepSeek, Groq, Together, OpenRouter, ...).

The internal representation is OpenAI's shape already, so translation is mostly a pass-through: set
the upstream model id, always ask for streamed usage (the gateway's accounting needs it even when the
client did not ask), and map error bodies.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import orjson

from proxy.providers.base import AdapterTarget, UpstreamError, UpstreamRequest, parse_retry_after
from proxy.providers.common import GATEWAY_FIELDS, error_json, response_json
from proxy.streaming import SSEEvent

# Reasoning round-trip fields that other adapters put on assistant turns (Claude's signed thinking
# blocks, Gemini's thought signatures); OpenAI-format providers reject or misread them.
REASONING_FIELDS = ("thinking_blocks", "reasoning_content", "reasoning_signature", "extra_content")


def has_reasoning_fields(message: Any) -> bool:
    if not isinstance(message, dict) or message.get("role") != "assistant":
        return False
    if any(f in message for f in REASONING_FIELDS):
        return True
    return any(isinstance(c, dict) and "extra_content" in c for c in message.get("tool_calls") or ())


def strip_reasoning(message: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in message.items() if k not in REASONING_FIELDS}
    if out.get("tool_calls"):
        out["tool_calls"] = [
            {k: v for k, v in c.items() if k != "extra_content"} if isinstance(c, dict) else c for c in out["tool_calls"]
        ]
    return out


def without_reasoning(messages: Any) -> Any:
    """The messages with reasoning round-trip fields removed; the same list when there are none."""
    if not isinstance(messages, list) or not any(has_reasoning_fields(m) for m in messages):
        return messages
    return [strip_reasoning(m) if has_reasoning_fields(m) else m for m in messages]


class OpenAIAdapter:
    wire: ClassVar[str] = "openai"

    def __init__(self, auth_header: str = "Authorization", auth_scheme: str = "Bearer") -> None:
        self.auth_header = auth_header
        self.auth_scheme = auth_scheme

    def build_request(self, body: dict[str, Any], target: AdapterTarget, *, stream: bool) -> UpstreamRequest:
        out = body.copy()
        for name in GATEWAY_FIELDS:
            if name in out:
                del out[name]
        out["model"] = target.upstream_model
        out["messages"] = without_reasoning(body.get("messages"))
        if stream:
            out["stream"] = True
            out["stream_options"] = {**(body.get("stream_options") or {}), "include_usage": True}
        else:
            out.pop("stream", None)
            out.pop("stream_options", None)
        url, headers = self.fixed_parts(target, stream)
        return UpstreamRequest(url=url, headers=headers.copy(), body=orjson.dumps(out))

    def fixed_parts(self, target: AdapterTarget, stream: bool) -> tuple[str, dict[str, str]]:
        """The URL and headers, which depend on the target alone: built once per target, kept on it."""
        key = ("openai", self.auth_header, self.auth_scheme, stream)
        fixed: tuple[str, dict[str, str]] | None = target.prepared.get(key)
        if fixed is None:
            headers = {"Content-Type": "application/json", **target.extra_headers}
            if stream:
                headers["Accept"] = "text/event-stream"
            if target.api_key:
                headers[self.auth_header] = f"{self.auth_scheme} {target.api_key}".strip()
            fixed = target.prepared[key] = (f"{target.base_url}/chat/completions", headers)
        return fixed

    def parse_response(self, payload: bytes) -> dict[str, Any]:
        data = response_json(payload, "Upstream")
        if not isinstance(data, dict) or "error" in data and "choices" not in data:
            raise error_from_body(502, data if isinstance(data, dict) else {}, None)
        if not isinstance(data.get("choices"), list):
            raise UpstreamError(502, "Upstream response has no 'choices'.", code="bad_upstream_response")
        return data

    def parse_error(self, status: int, payload: bytes, headers: Mapping[str, str]) -> UpstreamError:
        data = error_json(payload)
        return error_from_body(status, data if isinstance(data, dict) else {}, parse_retry_after(headers))

    def stream_translator(self) -> OpenAIStreamTranslator:
        return OpenAIStreamTranslator()


def error_from_body(status: int, data: dict[str, Any], retry_after_s: float | None) -> UpstreamError:
    err = data.get("error")
    if isinstance(err, dict):
        message = str(err.get("message") or f"Upstream returned HTTP {status}.")
        etype = str(err.get("type") or "upstream_error")
        code = err.get("code")
        param = err.get("param")
    else:
        message = str(err) if err else f"Upstream returned HTTP {status}."
        etype, code, param = "upstream_error", None, None
    return UpstreamError(
        status,
        message,
        type=etype,
        code=str(code) if code is not None else None,
        param=str(param) if param is not None else None,
        retry_after_s=retry_after_s,
    )


class OpenAIStreamTranslator:
    """OpenAI chunks pass through; `data: {"error": ...}` inside the stream becomes an UpstreamError."""

    __slots__ = ("_done", "_usage", "_finished")

    def __init__(self) -> None:
        self._done = False
        self._finished = False
        self._usage: dict[str, Any] | None = None

    @property
    def done(self) -> bool:
        return self._done

    @property
    def usage(self) -> dict[str, Any] | None:
        return self._usage

    def feed(self, event: SSEEvent) -> list[dict[str, Any]]:
        data = event.data
        if data == "[DONE]":
            self._done = True
            return []
        try:
            chunk = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise UpstreamError(502, "Upstream sent a stream event that is not JSON.", code="bad_upstream_stream") from None
        if not isinstance(chunk, dict):
            raise UpstreamError(502, "Upstream sent a stream event that is not an object.", code="bad_upstream_stream")
        if "error" in chunk and not chunk.get("choices"):
            err = error_from_body(500, chunk, None)
            err.retriable = True
            raise err
        usage = chunk.get("usage")
        if usage:
            self._usage = usage
        for choice in chunk.get("choices") or ():
            if choice.get("finish_reason"):
                self._finished = True
        return [chunk]

    def finish(self) -> list[dict[str, Any]]:
        if not self._done and not self._finished:
            raise UpstreamError(502, "Upstream closed the stream before it was complete.", code="stream_truncated")
        self._done = True
        return []
