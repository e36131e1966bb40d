"""A mock of OpenAI's `/v1/chat/completions`: JSON and SSE, usage, tool calls, error bodies, headers."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import orjson
from aiohttp import web

from proxy.simulated.embeddings_mock import openai_embeddings
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

ERROR_BODIES: dict[int, tuple[str, str, str | None]] = {
    400: ("invalid_request_error", "Invalid request.", None),
    401: ("invalid_request_error", "Incorrect API key provided.", "invalid_api_key"),
    403: ("invalid_request_error", "You are not allowed to access this model.", "unsupported_country_region_territory"),
    404: ("invalid_request_error", "The model does not exist or you do not have access to it.", "model_not_found"),
    422: ("invalid_request_error", "Unprocessable request.", None),
    429: ("requests", "Rate limit reached for requests. Please try again later.", "rate_limit_exceeded"),
    500: ("server_error", "The server had an error while processing your request. Sorry about that!", None),
    502: ("server_error", "Bad gateway.", None),
    503: ("server_error", "The engine is currently overloaded, please try again later.", None),
}


def error_response(status: int, knobs: Knobs, message: str | None = None, param: str | None = None) -> web.Response:
    etype, default_message, code = ERROR_BODIES.get(status, ("server_error", "Upstream error.", None))
    headers = {"x-request-id": f"req_{uuid.uuid4().hex[:24]}"}
    if status in (429, 503) and knobs.retry_after_s is not None:
        headers["retry-after"] = str(knobs.retry_after_s)
    body = {"error": {"message": message or default_message, "type": etype, "param": param, "code": code}}
    return json_response(body, status=status, headers=headers)


TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def json_type(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean", int: "an integer",
            float: "a number", type(None): "null"}.get(type(value), "a value")


def request_problem(body: Any) -> tuple[str, str | None] | None:
    """What OpenAI answers 400 to (message, param), for the fields a gateway could pass on wrongly."""
    if not isinstance(body, dict) or not isinstance(body.get("messages"), list) or not body.get("model"):
        return "'messages' and 'model' are required properties.", None
    stop = body.get("stop")
    if stop is not None and not isinstance(stop, str) and not (isinstance(stop, list) and all(isinstance(s, str) for s in stop)):
        return f"Invalid type for 'stop': expected a string or an array of strings, but got {json_type(stop)} instead.", "stop"
    tools = body.get("tools")
    if tools is not None and not isinstance(tools, list):
        return f"Invalid type for 'tools': expected an array, but got {json_type(tools)} instead.", "tools"
    for i, tool in enumerate(tools or []):
        fn = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(fn, dict):
            return f"Missing required parameter: 'tools[{i}].function'.", f"tools[{i}].function"
        if not isinstance(fn.get("name"), str) or not TOOL_NAME.match(fn["name"]):
            return (f"Invalid 'tools[{i}].function.name': string does not match pattern. Expected a string that matches "
                    "the pattern '^[a-zA-Z0-9_-]{1,64}$'.", f"tools[{i}].function.name")
        if "parameters" in fn and not isinstance(fn["parameters"], dict):
            return (f"Invalid type for 'tools[{i}].function.parameters': expected an object, but got "
                    f"{json_type(fn['parameters'])} instead.", f"tools[{i}].function.parameters")
    fmt = body.get("response_format")
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema" and not isinstance((fmt.get("json_schema") or {}).get("schema", {}), dict):
        return "Invalid type for 'response_format.json_schema.schema': expected an object.", "response_format.json_schema.schema"
    return None


def prompt_text(body: dict[str, Any]) -> str:
    parts: list[str] = []
    for msg in body.get("messages") or []:
        content = msg.get("content") if isinstance(msg, dict) else None
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts.extend(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return "\n".join(parts)


def wants_tool_call(body: dict[str, Any]) -> dict[str, Any] | None:
    """The tool the mock will call: the named one, else the first, unless the last turn is a tool result."""
    tools = body.get("tools") or []
    choice = body.get("tool_choice", "auto")
    messages = body.get("messages") or []
    if not tools or choice == "none" or (messages and isinstance(messages[-1], dict) and messages[-1].get("role") == "tool"):
        return None
    if isinstance(choice, dict):
        fn = choice.get("function")
        name = fn.get("name") if isinstance(fn, dict) else None
        for tool in tools:
            if (tool.get("function") or {}).get("name") == name:
                return tool
    return tools[0]


def structured_answer(body: dict[str, Any], model: str, text: str, chunks: int) -> str | None:
    """The JSON text `response_format` asks for (valid against its schema), or None for plain text."""
    fmt = body.get("response_format")
    if not isinstance(fmt, dict) or fmt.get("type") not in ("json_object", "json_schema"):
        return None
    schema = (fmt.get("json_schema") or {}).get("schema") if fmt["type"] == "json_schema" else None
    return json_answer(schema if isinstance(schema, dict) else None, "".join(answer_words(model, text, chunks)))


def choice_count(body: dict[str, Any]) -> int:
    n = body.get("n")
    return n if isinstance(n, int) and not isinstance(n, bool) and n > 1 else 1


def token_logprobs(text: str, body: dict[str, Any]) -> dict[str, Any] | None:
    """OpenAI's `logprobs.content` for a piece of text (one entry a word), when the request asked."""
    if body.get("logprobs") is not True:
        return None
    top = body.get("top_logprobs") or 0
    entries = []
    for k, word in enumerate(text.split(" ")):
        token = word if k == 0 else " " + word
        entry = {"token": token, "logprob": -0.05 * (k + 1), "bytes": list(token.encode())}
        entry["top_logprobs"] = [{"token": token if j == 0 else f"{token}~{j}", "logprob": -0.05 * (k + 1) - j,
                                  "bytes": list(token.encode())} for j in range(top)]
        entries.append(entry)
    return {"content": entries, "refusal": None}


# The in-stream error OpenAI sends when it fails after the first chunk.
STREAM_ERROR = b"data: " + orjson.dumps({"error": {"message": "The server had an error while processing your request.",
                                                   "type": "server_error", "param": None, "code": None}}) + b"\n\n"


def authorized(request: web.Request, key: str) -> bool:
    """OpenAI's bearer token, or Azure OpenAI's `api-key` header (the v1 API accepts either)."""
    return request.headers.get("Authorization") == f"Bearer {key}" or request.headers.get("api-key") == key


async def chat_completions(ctx: MockContext, request: web.Request) -> web.StreamResponse:
    knobs = ctx.knobs
    body = await read_json(request)
    ctx.note_request(request, body)
    if knobs.api_key is not None and not authorized(request, knobs.api_key):
        return ctx.refuse(error_response(401, knobs))
    problem = request_problem(body)
    if problem is not None:
        return ctx.refuse(error_response(400, knobs, *problem))
    plan, failed = await draw_faults(ctx, lambda status: error_response(status, knobs))
    if failed is not None:
        return failed

    model = str(body["model"])
    text = prompt_text(body)
    prompt_tokens = estimate_tokens(text)
    completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    created = int(time.time())
    tool = wants_tool_call(body)
    if body.get("stream"):
        ctx.counters.streams += 1
        return await stream_answer(ctx, request, body, model, completion_id, created, prompt_tokens, text, tool, plan.ttft_ms)

    await sleep_ms(plan.ttft_ms)
    choices = []
    completion_tokens = 0
    for index in range(choice_count(body)):
        message: dict[str, Any] = {"role": "assistant", "content": None, "refusal": None}
        logprobs = None
        if tool is not None:
            args = orjson.dumps(sample_arguments((tool.get("function") or {}).get("parameters") or {})).decode()
            message["tool_calls"] = [
                {"id": f"call_{uuid.uuid4().hex[:24]}", "type": "function",
                 "function": {"name": tool["function"]["name"], "arguments": args}}
            ]
            finish, tokens = "tool_calls", estimate_tokens(args)
        else:
            structured = structured_answer(body, model, text, knobs.chunks)
            words = answer_words(model, text, knobs.chunks)
            message["content"] = structured if structured is not None else "".join(words) + (f" #{index + 1}" if index else "")
            logprobs = token_logprobs(message["content"], body)
            finish, tokens = "stop", knobs.chunks * knobs.tokens_per_chunk
        choices.append({"index": index, "message": message, "logprobs": logprobs, "finish_reason": finish})
        completion_tokens += tokens
    payload = {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": choices,
        "usage": usage_block(prompt_tokens, completion_tokens, knobs.cached_prompt_tokens),
        "system_fingerprint": "fp_mock",
    }
    return json_response(payload, headers={"x-request-id": f"req_{uuid.uuid4().hex[:24]}", "openai-processing-ms": str(int(plan.ttft_ms))})


def usage_block(prompt_tokens: int, completion_tokens: int, cached_tokens: int = 0) -> dict[str, Any]:
    """OpenAI counts cached tokens inside prompt_tokens."""
    prompt_tokens += cached_tokens
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "prompt_tokens_details": {"cached_tokens": cached_tokens, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
    }


async def stream_answer(
    ctx: MockContext,
    request: web.Request,
    body: dict[str, Any],
    model: str,
    completion_id: str,
    created: int,
    prompt_tokens: int,
    text: str,
    tool: dict[str, Any] | None,
    ttft_ms: float,
) -> web.StreamResponse:
    knobs = ctx.knobs
    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    resp = web.StreamResponse(
        status=200,
        headers={
            "Content-Type": "text/event-stream; charset=utf-8",
            "Cache-Control": "no-cache",
            "x-request-id": f"req_{uuid.uuid4().hex[:24]}",
        },
    )
    await resp.prepare(request)

    n = choice_count(body)

    def chunk(delta: dict[str, Any], finish: str | None = None, index: int = 0) -> bytes:
        logprobs = token_logprobs(delta["content"], body) if delta.get("content") else None
        obj: dict[str, Any] = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "system_fingerprint": "fp_mock",
            "choices": [{"index": index, "delta": delta, "logprobs": logprobs, "finish_reason": finish}],
        }
        if include_usage:
            obj["usage"] = None
        return b"data: " + orjson.dumps(obj) + b"\n\n"

    for index in range(n):
        await resp.write(chunk({"role": "assistant", "content": "", "refusal": None}, index=index))
    await wait_first_token(resp, ctx, ttft_ms, b": keep-alive\n\n")

    if tool is not None:
        args = orjson.dumps(sample_arguments((tool.get("function") or {}).get("parameters") or {})).decode()
        pieces = split_text(args, max(knobs.chunks - 1, 1))
        deltas: list[dict[str, Any]] = [
            {"tool_calls": [{"index": 0, "id": f"call_{uuid.uuid4().hex[:24]}", "type": "function",
                             "function": {"name": tool["function"]["name"], "arguments": ""}}]}
        ]
        deltas += [{"tool_calls": [{"index": 0, "function": {"arguments": p}}]} for p in pieces]
        finish, completion_tokens = "tool_calls", estimate_tokens(args)
    else:
        structured = structured_answer(body, model, text, knobs.chunks)
        words = split_text(structured, knobs.chunks) if structured is not None else answer_words(model, text, knobs.chunks)
        deltas = [{"content": w} for w in words]
        finish, completion_tokens = "stop", knobs.chunks * knobs.tokens_per_chunk

    for i, delta in enumerate(deltas):
        if not await before_content(ctx, request, resp, i, STREAM_ERROR):
            return resp
        await resp.write(b"".join(chunk(delta, index=index) for index in range(n)))  # the choices interleave
    await resp.write(b"".join(chunk({}, finish, index=index) for index in range(n)))
    if include_usage:
        tail = {"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": model,
                "system_fingerprint": "fp_mock", "choices": [], "usage": usage_block(prompt_tokens, completion_tokens * n, knobs.cached_prompt_tokens)}
        await resp.write(b"data: " + orjson.dumps(tail) + b"\n\n")
    await resp.write(b"data: [DONE]\n\n")
    await resp.write_eof()
    return resp


async def embeddings(ctx: MockContext, request: web.Request) -> web.StreamResponse:
    body = await read_json(request)
    ctx.note_request(request, body)
    if ctx.knobs.api_key is not None and not authorized(request, ctx.knobs.api_key):
        return ctx.refuse(error_response(401, ctx.knobs))
    _, failed = await draw_faults(ctx, lambda status: error_response(status, ctx.knobs), pause_ms=0.0)
    if failed is not None:
        return failed
    await sleep_ms(ctx.knobs.ttft_ms)
    answer = openai_embeddings(body)
    ctx.counters.errors += answer.status >= 400
    return answer


async def list_models(ctx: MockContext, request: web.Request) -> web.StreamResponse:
    return json_response({"object": "list", "data": [{"id": "mock-model", "object": "model", "created": 0, "owned_by": ctx.name}]})


def create_openai_mock(knobs: Knobs | None = None, name: str = "openai-mock") -> web.Application:
    return build_mock_app(
        name,
        knobs or Knobs(),
        [("POST", "/v1/chat/completions", chat_completions), ("POST", "/v1/embeddings", embeddings),
         ("GET", "/v1/models", list_models)],
    )
