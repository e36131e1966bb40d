"""Gemini upstream (`generateContent`, and `streamGenerateContent?alt=sse`): OpenAI chat in and out.

Gemini's function calls carry no id, so each gets a stable one derived from the response id, its
position and its name; the same response always yields the same ids, streamed or not. A function
call's `thoughtSignature` rides on the OpenAI tool call as `extra_content.google.thought_signature`
(the field Google's own OpenAI-compatible endpoint uses) and is sent back with it on the next turn.
"""

from __future__ import annotations

import hashlib
import mimetypes
import time
import uuid
from collections.abc import Mapping
from typing import Any, ClassVar

import orjson

from proxy.providers.base import AdapterTarget, UpstreamError, UpstreamRequest, parse_retry_after
from proxy.providers.common import bad_request, merge_turn, parse_data_url, stream_chunk, usage_chunk
from proxy.providers.gemini_wire import (
    API_KEY_HEADER,
    ERROR_STATUSES,
    FINISH_REASONS,
    KEY_INVALID_REASONS,
    RETRY_INFO_TYPE,
    THINKING_BUDGETS,
    UNSUPPORTED_SCHEMA_KEYS,
    Content,
    GenerateContentRequest,
    Part,
)
from proxy.streaming import SSEEvent

# -- request: OpenAI -> Gemini ------------------------------------------------------------------


def media_part(url: str, param: str) -> Part:
    inline = parse_data_url(url)
    if inline is not None:
        return {"inlineData": {"mimeType": inline[0], "data": inline[1]}}
    if url.startswith(("http://", "https://", "gs://")):
        mime = mimetypes.guess_type(url.split("?")[0])[0] or "image/jpeg"
        return {"fileData": {"mimeType": mime, "fileUri": url}}
    raise bad_request(f"{param}: expected a data: URL or an http(s) URL.", param)


def content_parts(content: Any, param: str) -> list[Part]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"text": content}] if content else []
    parts: list[Part] = []
    for i, part in enumerate(content):
        where = f"{param}[{i}]"
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            if part.get("text"):
                parts.append({"text": part["text"]})
        elif kind == "image_url":
            ref = part.get("image_url")
            url = ref.get("url") if isinstance(ref, dict) else ref
            parts.append(media_part(str(url or ""), f"{where}.image_url.url"))
        elif kind == "file":
            parts.append(media_part(str((part.get("file") or {}).get("file_data") or ""), f"{where}.file.file_data"))
        else:
            raise bad_request(f"{where}.type: {kind!r} content parts are not supported by Gemini models.", f"{where}.type")
    return parts


def function_call_parts(msg: dict[str, Any], index: int) -> list[Part]:
    parts: list[Part] = []
    for j, call in enumerate(msg.get("tool_calls") or ()):
        fn = call.get("function") or {}
        try:
            args = orjson.loads(fn.get("arguments") or "{}")
        except orjson.JSONDecodeError:
            param = f"messages[{index}].tool_calls[{j}].function.arguments"
            raise bad_request(f"{param}: not valid JSON.", param) from None
        part: Part = {"functionCall": {"name": fn.get("name", ""), "args": args if isinstance(args, dict) else {"value": args}}}
        signature = ((call.get("extra_content") or {}).get("google") or {}).get("thought_signature")
        if signature:
            part["thoughtSignature"] = signature
        parts.append(part)
    return parts


def function_response_part(msg: dict[str, Any], names: Mapping[str, str]) -> Part:
    content = msg.get("content")
    text = content if isinstance(content, str) else "".join(
        p.get("text", "") for p in content or () if isinstance(p, dict) and p.get("type") == "text")
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        value = text
    call_id = str(msg.get("tool_call_id") or "")
    name = msg.get("name") or names.get(call_id, "")
    return {"functionResponse": {"name": name, "response": value if isinstance(value, dict) else {"result": value}}}


def to_contents(messages: list[dict[str, Any]]) -> list[Content]:
    """Turns as Gemini contents; consecutive same-role turns merge (all tool results in one turn)."""
    names: dict[str, str] = {}
    out: list[Content] = []
    for i, msg in enumerate(messages):
        role = msg.get("role")
        if role in ("system", "developer"):
            continue
        if role in ("tool", "function"):
            wire_role, parts = "user", [function_response_part(msg, names)]
        elif role == "assistant":
            for call in msg.get("tool_calls") or ():
                names[str(call.get("id"))] = (call.get("function") or {}).get("name", "")
            wire_role = "model"
            parts = content_parts(msg.get("content"), f"messages[{i}].content") + function_call_parts(msg, i)
        else:
            wire_role, parts = "user", content_parts(msg.get("content"), f"messages[{i}].content")
        merge_turn(out, wire_role, parts, make_content, content_parts_of, content_role)
    return out


def make_content(role: str, parts: list[Any]) -> Content:
    return {"role": role, "parts": parts}  # type: ignore[typeddict-item]


def content_parts_of(content: Content) -> list[Any]:
    return content["parts"]  # type: ignore[return-value]


def content_role(content: Content) -> str:
    return content["role"]


def clean_schema(schema: Any) -> Any:
    """A JSON schema without the keys the functionDeclarations schema rejects."""
    if isinstance(schema, dict):
        return {k: clean_schema(v) for k, v in schema.items() if k not in UNSUPPORTED_SCHEMA_KEYS}
    if isinstance(schema, list):
        return [clean_schema(v) for v in schema]
    return schema


def to_tools(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    declarations = []
    for tool in tools:
        fn = tool.get("function") or {}
        decl: dict[str, Any] = {"name": fn.get("name", "")}
        if fn.get("description"):
            decl["description"] = fn["description"]
        if fn.get("parameters") and (fn["parameters"].get("properties") or fn["parameters"].get("type") != "object"):
            decl["parameters"] = clean_schema(fn["parameters"])
        declarations.append(decl)
    return [{"functionDeclarations": declarations}]


def to_tool_config(choice: Any) -> dict[str, Any] | None:
    if choice is None:
        return None
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name", "")
        return {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [name]}}
    mode = {"none": "NONE", "required": "ANY"}.get(str(choice), "AUTO")
    return {"functionCallingConfig": {"mode": mode}}


def generation_config(body: dict[str, Any]) -> dict[str, Any]:
    config: dict[str, Any] = {}
    max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
    if max_tokens:
        config["maxOutputTokens"] = max_tokens
    for ours, theirs in (("temperature", "temperature"), ("top_p", "topP"), ("seed", "seed"),
                         ("presence_penalty", "presencePenalty"), ("frequency_penalty", "frequencyPenalty")):
        if body.get(ours) is not None:
            config[theirs] = body[ours]
    stop = body.get("stop")
    if stop:
        config["stopSequences"] = [stop] if isinstance(stop, str) else list(stop)
    fmt = body.get("response_format") or {}
    if fmt.get("type") in ("json_object", "json_schema"):
        config["responseMimeType"] = "application/json"
        schema = (fmt.get("json_schema") or {}).get("schema")
        if schema:
            config["responseJsonSchema"] = schema
    effort = body.get("reasoning_effort")
    if effort in THINKING_BUDGETS:
        config["thinkingConfig"] = {"thinkingBudget": THINKING_BUDGETS[effort], "includeThoughts": effort != "none"}
    return config


def to_gemini_request(body: dict[str, Any]) -> GenerateContentRequest:
    messages = body.get("messages") or []
    out: GenerateContentRequest = {"contents": to_contents(messages)}
    system: list[Part] = []
    for i, msg in enumerate(messages):
        if msg.get("role") in ("system", "developer"):
            system += content_parts(msg.get("content"), f"messages[{i}].content")
    if system:
        out["systemInstruction"] = {"parts": system}
    if body.get("tools"):
        out["tools"] = to_tools(body["tools"])
        tool_config = to_tool_config(body.get("tool_choice"))
        if tool_config is not None:
            out["toolConfig"] = tool_config
    config = generation_config(body)
    if config:
        out["generationConfig"] = config
    return out


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
        try:
            data = orjson.loads(payload)
        except orjson.JSONDecodeError:
            raise UpstreamError(502, "Gemini returned a body that is not JSON.", code="bad_upstream_response") from None
        if not isinstance(data, dict) or "error" in data:
            raise error_from_body(502, data, None)
        return to_openai_completion(data)

    def parse_error(self, status: int, payload: bytes, headers: Mapping[str, str]) -> UpstreamError:
        try:
            data = orjson.loads(payload) if payload else {}
        except orjson.JSONDecodeError:
            data = {}
        return error_from_body(status, data, parse_retry_after(headers))

    def stream_translator(self) -> GeminiStreamTranslator:
        return GeminiStreamTranslator()


class GeminiStreamTranslator:
    """Each SSE event is a whole GenerateContentResponse holding only new parts; the one with a
    finishReason is the last, and its usageMetadata has the final counts."""

    def __init__(self) -> None:
        self.id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        self.response_id = ""
        self.model = ""
        self.created = int(time.time())
        self.started = False
        self.tool_calls = 0
        self.meta: dict[str, Any] = {}
        self._done = False

    @property
    def done(self) -> bool:
        return self._done

    @property
    def usage(self) -> dict[str, Any] | None:
        return to_openai_usage(self.meta) if self.meta else None

    def chunk(self, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return stream_chunk(self.id, self.created, self.model, delta, finish)

    def end(self, finish: str) -> list[dict[str, Any]]:
        self._done = True
        return [self.chunk({}, finish), usage_chunk(self.id, self.created, self.model, to_openai_usage(self.meta))]

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
            self.meta = data["usageMetadata"]
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
