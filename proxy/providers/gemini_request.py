"""OpenAI chat requests as Gemini generateContent requests."""

from __future__ import annotations

import mimetypes
from collections.abc import Mapping
from typing import Any

import orjson

from proxy.providers.common import bad_request, merge_turn, parse_data_url, translate_content
from proxy.providers.gemini_wire import (
    THINKING_BUDGETS,
    UNSUPPORTED_SCHEMA_KEYS,
    Content,
    GenerateContentRequest,
    Part,
)

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
    return translate_content(content, param, "Gemini", lambda s: {"text": s}, media_part)


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
        merge_turn(out, wire_role, parts, "parts")
    return out


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
