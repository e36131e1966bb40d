"""A mock of Gemini's `models/{id}:generateContent` and `:streamGenerateContent` (alt=sse or a JSON array).

Checks what the real API checks and the gateway could get wrong: the `x-goog-api-key` header (or
`?key=`), non-empty `contents` with user/model roles, one function response per function call of the
turn before, schema keys functionDeclarations reject, and thought signatures passed back unchanged.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from typing import Any

import orjson
from aiohttp import web

from proxy.simulated.embeddings_mock import gemini_embeddings
from proxy.simulated.knobs import (
    Knobs,
    answer_words,
    estimate_tokens,
    json_answer,
    sample_arguments,
    sleep_ms,
    split_text,
)
from proxy.simulated.pacing import before_content, draw_faults, wait_first_token
from proxy.simulated.server import MockContext, build_mock_app, json_response, read_json

RPC_STATUS: dict[int, tuple[str, str]] = {
    400: ("INVALID_ARGUMENT", "Request contains an invalid argument."),
    401: ("UNAUTHENTICATED", "Request had invalid authentication credentials."),
    403: ("PERMISSION_DENIED", "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API."),
    404: ("NOT_FOUND", "models/unknown is not found for API version v1beta, or is not supported for generateContent."),
    429: ("RESOURCE_EXHAUSTED", "You exceeded your current quota, please check your plan and billing details."),
    500: ("INTERNAL", "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting"),
    503: ("UNAVAILABLE", "The model is overloaded. Please try again later."),
    504: ("DEADLINE_EXCEEDED", "Deadline expired before operation could complete."),
}
BAD_SCHEMA_KEYS = ("additionalProperties", "$schema")
EMBED_METHODS = ("embedContent", "batchEmbedContents")
FUNCTION_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_.:-]{0,63}$")


def error_body(status: int, message: str | None = None, details: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    rpc, default = RPC_STATUS.get(status, ("UNKNOWN", "Unknown error."))
    err: dict[str, Any] = {"code": status, "message": message or default, "status": rpc}
    if details:
        err["details"] = details
    return {"error": err}


def error_response(status: int, knobs: Knobs, message: str | None = None, details: list[dict[str, Any]] | None = None) -> web.Response:
    details = list(details or ())
    if status == 429 and knobs.retry_after_s is not None:
        details.append({"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{knobs.retry_after_s:g}s"})
    return json_response(error_body(status, message, details), status=status)


def key_invalid(knobs: Knobs) -> web.Response:
    info = {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID", "domain": "googleapis.com",
            "metadata": {"service": "generativelanguage.googleapis.com"}}
    return error_response(400, knobs, "API key not valid. Please pass a valid API key.", [info])


def field(part: dict[str, Any], camel: str, snake: str) -> Any:
    """The REST API accepts both JSON spellings of a field."""
    return part.get(camel, part.get(snake))


def signature_for(name: str, args: Any) -> str:
    return "gsig-" + hashlib.sha256(b"mock-gemini:" + name.encode() + orjson.dumps(args, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]


def request_problem(body: Any) -> str | None:
    """The first reason the real API would answer 400 INVALID_ARGUMENT, or None."""
    if not isinstance(body, dict) or not isinstance(body.get("contents"), list) or not body["contents"]:
        return "* GenerateContentRequest.contents: contents is not specified"
    config = field(body, "generationConfig", "generation_config") or {}
    stop = field(config, "stopSequences", "stop_sequences")
    if stop is not None and not (isinstance(stop, list) and len(stop) <= 5 and all(isinstance(s, str) for s in stop)):
        return "* GenerateContentRequest.generation_config.stop_sequences: at most 5 strings are allowed."
    for tool in body.get("tools") or []:
        for decl in field(tool, "functionDeclarations", "function_declarations") or []:
            if not isinstance(decl.get("name"), str) or not FUNCTION_NAME.match(decl["name"]):
                return ("* GenerateContentRequest.tools[0].function_declarations[0].name: Invalid function name. Must start with a "
                        "letter or an underscore. Must be alphameric (a-z, A-Z, 0-9), underscores (_), dots (.), colons (:) or "
                        "dashes (-), with a maximum length of 64.")
            if "parameters" in decl and not isinstance(decl["parameters"], dict):
                return ("Invalid JSON payload received. Invalid value at 'tools[0].function_declarations[0].parameters' "
                        "(type.googleapis.com/google.ai.generativelanguage.v1beta.Schema)")
            dumped = orjson.dumps(decl.get("parameters") or {}).decode()
            for key in BAD_SCHEMA_KEYS:
                if f'"{key}"' in dumped:
                    return f'Invalid JSON payload received. Unknown name "{key}" at \'tools[0].function_declarations\': Cannot find field.'
    calls: list[dict[str, Any]] = []
    for i, content in enumerate(body["contents"]):
        if not isinstance(content, dict) or content.get("role", "user") not in ("user", "model"):
            return f"* GenerateContentRequest.contents[{i}].role: Please use a valid role: user, model."
        parts = [p for p in content.get("parts") or [] if isinstance(p, dict)]
        if not parts:
            return f"* GenerateContentRequest.contents[{i}].parts: contents.parts must not be empty."
        responses = [field(p, "functionResponse", "function_response") for p in parts]
        responses = [r for r in responses if r]
        if responses and len(responses) != len(calls):
            return ("Please ensure that the number of function response parts is equal to the number of "
                    "function call parts of the function call turn.")
        for part in parts:
            call = field(part, "functionCall", "function_call")
            sig = field(part, "thoughtSignature", "thought_signature")
            if call and sig is not None and sig != signature_for(call.get("name", ""), call.get("args") or {}):
                return f"* GenerateContentRequest.contents[{i}]: Thought signature is not valid."
        calls = [c for c in (field(p, "functionCall", "function_call") for p in parts) if c]
    return None


def prompt_text(body: dict[str, Any]) -> str:
    system = field(body, "systemInstruction", "system_instruction") or {}
    texts = [p.get("text", "") for p in system.get("parts") or []]
    texts += [p.get("text", "") for p in body["contents"][-1].get("parts") or [] if isinstance(p, dict)]
    return "\n".join(t for t in texts if t)


def chosen_function(body: dict[str, Any]) -> dict[str, Any] | None:
    decls = [d for t in body.get("tools") or [] for d in field(t, "functionDeclarations", "function_declarations") or []]
    config = field(field(body, "toolConfig", "tool_config") or {}, "functionCallingConfig", "function_calling_config") or {}
    last = body["contents"][-1].get("parts") or []
    if not decls or config.get("mode") == "NONE" or any(field(p, "functionResponse", "function_response") for p in last):
        return None
    allowed = field(config, "allowedFunctionNames", "allowed_function_names") or []
    return next((d for d in decls if d.get("name") in allowed), decls[0])


def plan_chunks(body: dict[str, Any], model: str, knobs: Knobs) -> tuple[list[list[dict[str, Any]]], str, int, int]:
    """Each stream chunk's parts, the finish reason, candidate tokens and thought tokens."""
    config = field(body, "generationConfig", "generation_config") or {}
    chunks: list[list[dict[str, Any]]] = []
    thoughts = 0
    if (field(config, "thinkingConfig", "thinking_config") or {}).get("includeThoughts"):
        thought = "**Planning** I should answer briefly."
        chunks.append([{"text": thought, "thought": True}])
        thoughts = estimate_tokens(thought)
    fn = chosen_function(body)
    if fn is not None:
        args = sample_arguments(fn.get("parameters") or {})
        chunks.append([{"functionCall": {"name": fn["name"], "args": args}, "thoughtSignature": signature_for(fn["name"], args)}])
        return chunks, "STOP", estimate_tokens(orjson.dumps(args).decode()), thoughts
    words = answer_words(model, prompt_text(body), knobs.chunks)
    if field(config, "responseMimeType", "response_mime_type") == "application/json":
        schema = field(config, "responseJsonSchema", "response_json_schema") or field(config, "responseSchema", "response_schema")
        text = json_answer(schema if isinstance(schema, dict) else None, "".join(words))
        chunks += [[{"text": piece}] for piece in split_text(text, knobs.chunks)]
        return chunks, "STOP", estimate_tokens(text), thoughts
    finish = "STOP"
    limit = field(config, "maxOutputTokens", "max_output_tokens")
    if limit:
        room = max(1, int(limit) // max(knobs.tokens_per_chunk, 1))
        if room < len(words):
            words, finish = words[:room], "MAX_TOKENS"
    chunks += [[{"text": w}] for w in words]
    return chunks, finish, len(words) * knobs.tokens_per_chunk, thoughts


def usage_metadata(prompt: int, candidates: int, thoughts: int) -> dict[str, Any]:
    meta = {"promptTokenCount": prompt, "candidatesTokenCount": candidates, "totalTokenCount": prompt + candidates + thoughts,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt}]}
    if thoughts:
        meta["thoughtsTokenCount"] = thoughts
    return meta


def response_chunk(parts: list[dict[str, Any]], finish: str | None, meta: dict[str, Any], model: str, response_id: str) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    return {"candidates": [candidate], "usageMetadata": meta, "modelVersion": model, "responseId": response_id}


async def generate(ctx: MockContext, request: web.Request) -> web.StreamResponse:
    knobs = ctx.knobs
    body = await read_json(request)
    ctx.note_request(request, body)
    model, _, method = request.match_info["tail"].rpartition(":")
    if method not in ("generateContent", "streamGenerateContent", *EMBED_METHODS):
        return error_response(404, knobs, f"Method not found: {method}.")
    if knobs.api_key is not None:
        key = request.headers.get("x-goog-api-key") or request.query.get("key")
        if key is None:
            return ctx.refuse(error_response(403, knobs))
        if key != knobs.api_key:
            return ctx.refuse(key_invalid(knobs))
    problem = None if method in EMBED_METHODS else request_problem(body)
    if problem is not None:
        return ctx.refuse(error_response(400, knobs, problem))
    plan, failed = await draw_faults(ctx, lambda status: error_response(status, knobs))
    if failed is not None:
        return failed
    if method in EMBED_METHODS:
        await sleep_ms(knobs.ttft_ms)
        return gemini_embeddings(model.removeprefix("models/"), method, body)

    chunks, finish, candidates, thoughts = plan_chunks(body, model, knobs)
    prompt = estimate_tokens(orjson.dumps(body["contents"]).decode())
    response_id = uuid.uuid4().hex[:22]
    if method == "streamGenerateContent" and request.query.get("alt") == "sse":
        ctx.counters.streams += 1
        return await stream_sse(ctx, request, chunks, finish, (prompt, candidates, thoughts), model, response_id, plan.ttft_ms)
    await sleep_ms(plan.ttft_ms)
    meta = usage_metadata(prompt, candidates, thoughts)
    if method == "streamGenerateContent":  # without alt=sse the stream is one JSON array
        ctx.counters.streams += 1
        last = len(chunks) - 1
        return json_response([response_chunk(p, finish if i == last else None, meta, model, response_id) for i, p in enumerate(chunks)])
    merged: list[dict[str, Any]] = []
    for parts in chunks:
        if merged and "text" in parts[0] and "text" in merged[-1] and parts[0].get("thought") == merged[-1].get("thought"):
            merged[-1] = {**merged[-1], "text": merged[-1]["text"] + parts[0]["text"]}
        else:
            merged += parts
    return json_response(response_chunk(merged, finish, meta, model, response_id))


async def stream_sse(ctx: MockContext, request: web.Request, chunks: list[list[dict[str, Any]]], finish: str,
                     tokens: tuple[int, int, int], model: str, response_id: str, ttft_ms: float) -> web.StreamResponse:
    prompt, candidates, thoughts = tokens
    resp = web.StreamResponse(status=200, headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    await resp.prepare(request)
    await wait_first_token(resp, ctx, ttft_ms, b": keep-alive\r\n\r\n")
    per_chunk = max(1, candidates // max(len(chunks), 1))
    unavailable = b"data: " + orjson.dumps(error_body(503)) + b"\r\n\r\n"  # Gemini's in-stream failure
    for i, parts in enumerate(chunks):
        if not await before_content(ctx, request, resp, i, unavailable):
            return resp
        last = i == len(chunks) - 1
        meta = usage_metadata(prompt, candidates if last else per_chunk * (i + 1), thoughts)
        await resp.write(b"data: " + orjson.dumps(response_chunk(parts, finish if last else None, meta, model, response_id)) + b"\r\n\r\n")
    await resp.write_eof()
    return resp


def create_gemini_mock(knobs: Knobs | None = None, name: str = "gemini-mock") -> web.Application:
    return build_mock_app(name, knobs or Knobs(), [("POST", "/v1beta/models/{tail:.+}", generate)])
