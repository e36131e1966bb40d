"""A mock of Anthropic's `POST /v1/messages`: JSON and SSE events, tool use, thinking, error bodies.

Checks what the real API checks and the gateway could get wrong: `x-api-key`, `anthropic-version`,
a required `max_tokens`, tool results that answer the previous turn's tool calls, and thinking
blocks passed back with the signature this mock issued for them.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from typing import Any

import orjson
from aiohttp import web

from proxy.simulated.knobs import Knobs, answer_words, estimate_tokens, sample_arguments, sleep_ms, split_text
from proxy.simulated.pacing import before_content, draw_faults, wait_first_token
from proxy.simulated.server import MockContext, build_mock_app, json_response, read_json

ERROR_TYPES: dict[int, tuple[str, str]] = {
    400: ("invalid_request_error", "There was an issue with the format or content of your request."),
    401: ("authentication_error", "invalid x-api-key"),
    403: ("permission_error", "Your API key does not have permission to use the specified resource."),
    404: ("not_found_error", "The requested resource could not be found."),
    413: ("request_too_large", "Request exceeds the maximum allowed number of bytes."),
    429: ("rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit."),
    500: ("api_error", "Internal server error"),
    529: ("overloaded_error", "Overloaded"),
}


def request_id() -> str:
    return f"req_{uuid.uuid4().hex[:24]}"


def error_response(status: int, knobs: Knobs, message: str | None = None) -> web.Response:
    etype, default_message = ERROR_TYPES.get(status, ("api_error", "Internal server error"))
    rid = request_id()
    headers = {"request-id": rid}
    if status in (429, 503, 529) and knobs.retry_after_s is not None:
        headers["retry-after"] = str(knobs.retry_after_s)
    body = {"type": "error", "error": {"type": etype, "message": message or default_message}, "request_id": rid}
    return json_response(body, status=status, headers=headers)


def signature_for(thinking: str) -> str:
    """What this mock signs its thinking with; a changed text or signature fails the next turn."""
    return "sig-" + hashlib.sha256(b"mock-anthropic:" + thinking.encode()).hexdigest()[:32]


def blocks_of(message: dict[str, Any]) -> list[dict[str, Any]]:
    content = message.get("content")
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [b for b in content or [] if isinstance(b, dict)]


TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,128}$")


def parameter_problem(body: dict[str, Any]) -> str | None:
    """Sampling, stop and tool fields the way the real API types them."""
    stop = body.get("stop_sequences")
    if stop is not None and not (isinstance(stop, list) and all(isinstance(s, str) for s in stop)):
        return "stop_sequences: Input should be a valid list of strings"
    for name, high in (("temperature", 1.0), ("top_p", 1.0)):
        value = body.get(name)
        if value is not None and (not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value <= high):
            return f"{name}: Input should be a number between 0 and {high:g}"
    tools = body.get("tools")
    if tools is not None and not isinstance(tools, list):
        return "tools: Input should be a valid list"
    for i, tool in enumerate(tools or []):
        if not isinstance(tool, dict) or not isinstance(tool.get("name"), str) or not TOOL_NAME.match(tool["name"]):
            return f"tools.{i}.custom.name: String should match pattern '^[a-zA-Z0-9_-]{{1,128}}$'"
        schema = tool.get("input_schema")
        if not isinstance(schema, dict) or schema.get("type") != "object":
            return f"tools.{i}.custom.input_schema.type: Input should be 'object'"
    choice = body.get("tool_choice")
    if choice is not None and (not isinstance(choice, dict) or choice.get("type") not in ("auto", "any", "tool", "none")):
        return "tool_choice: Input tag does not match any of the expected tags: 'auto', 'any', 'tool', 'none'"
    return None


def request_problem(body: Any) -> str | None:
    """The first reason the real API would reject this body with a 400, or None."""
    if not isinstance(body, dict):
        return "Request body must be a JSON object."
    for name in ("model", "max_tokens", "messages"):
        if name not in body:
            return f"{name}: Field required"
    problem = parameter_problem(body)
    if problem is not None:
        return problem
    if not isinstance(body["messages"], list) or not body["messages"]:
        return "messages: at least one message is required"
    tool_ids: set[str] = set()
    for i, msg in enumerate(body["messages"]):
        if not isinstance(msg, dict) or msg.get("role") not in ("user", "assistant"):
            return f"messages.{i}.role: Input should be 'user' or 'assistant'"
        blocks = blocks_of(msg)
        for j, block in enumerate(blocks):
            kind = block.get("type")
            if kind == "thinking" and block.get("signature") != signature_for(block.get("thinking", "")):
                return f"messages.{i}.content.{j}: Invalid `signature` in `thinking` block"
            if kind == "tool_result" and block.get("tool_use_id") not in tool_ids:
                return f"messages.{i}.content.{j}: unexpected `tool_use_id` found in `tool_result` blocks"
            if kind in ("image", "document") and (block.get("source") or {}).get("type") not in ("base64", "url"):
                return f"messages.{i}.content.{j}.source: Input tag does not match any of the expected tags"
        tool_ids = {b.get("id", "") for b in blocks if b.get("type") == "tool_use"}
    return None


def prompt_text(body: dict[str, Any]) -> str:
    parts = [body["system"]] if isinstance(body.get("system"), str) else [b.get("text", "") for b in body.get("system") or []]
    last = body["messages"][-1]
    parts += [b.get("text", "") for b in blocks_of(last) if b.get("type") == "text"]
    return "\n".join(parts)


def chosen_tool(body: dict[str, Any]) -> dict[str, Any] | None:
    """The tool the mock calls: the named one, else the first; none after a tool result."""
    tools = body.get("tools") or []
    choice = body.get("tool_choice") or {"type": "auto"}
    last = body["messages"][-1]
    if not tools or choice.get("type") == "none" or any(b.get("type") == "tool_result" for b in blocks_of(last)):
        return None
    if choice.get("type") == "tool":
        return next((t for t in tools if t.get("name") == choice.get("name")), tools[0])
    return tools[0]


def plan_content(body: dict[str, Any], knobs: Knobs) -> tuple[list[dict[str, Any]], list[list[str]], str, int]:
    """Content blocks, each block's delta pieces, the stop reason and the output token count."""
    model = str(body["model"])
    blocks: list[dict[str, Any]] = []
    pieces: list[list[str]] = []
    if (body.get("thinking") or {}).get("type") == "enabled":
        thought = f"The user wrote {len(prompt_text(body))} characters; answer briefly."
        blocks.append({"type": "thinking", "thinking": thought, "signature": signature_for(thought)})
        pieces.append(split_text(thought, 3))
    tool = chosen_tool(body)
    if tool is not None:
        args = orjson.dumps(sample_arguments(tool.get("input_schema") or {})).decode()
        # a forced tool choice gets the call alone; with `auto` Claude often says what it is doing first
        forced = (body.get("tool_choice") or {}).get("type") in ("tool", "any")
        lead = "" if forced else f"I'll use {tool['name']}."
        if lead:
            blocks.append({"type": "text", "text": lead})
            pieces.append([lead])
        blocks.append({"type": "tool_use", "id": f"toolu_{uuid.uuid4().hex[:24]}", "name": tool["name"], "input": orjson.loads(args)})
        pieces.append(split_text(args, max(knobs.chunks - 2, 1)))
        return blocks, pieces, "tool_use", estimate_tokens(lead + args)
    words = answer_words(model, prompt_text(body), knobs.chunks)
    stop = "end_turn"
    room = max(1, int(body["max_tokens"]) // max(knobs.tokens_per_chunk, 1))
    if room < len(words):
        words, stop = words[:room], "max_tokens"
    blocks.append({"type": "text", "text": "".join(words)})
    pieces.append(words)
    return blocks, pieces, stop, len(words) * knobs.tokens_per_chunk


def usage_block(input_tokens: int, output_tokens: int, cache_read: int = 0) -> dict[str, Any]:
    """Anthropic reports cache reads beside input_tokens, not inside them."""
    return {"input_tokens": input_tokens, "output_tokens": output_tokens,
            "cache_creation_input_tokens": 0, "cache_read_input_tokens": cache_read}


async def messages(ctx: MockContext, request: web.Request) -> web.StreamResponse:
    knobs = ctx.knobs
    body = await read_json(request)
    ctx.note_request(request, body)
    if knobs.api_key is not None and request.headers.get("x-api-key") != knobs.api_key:
        return ctx.refuse(error_response(401, knobs))
    if not request.headers.get("anthropic-version"):
        return ctx.refuse(error_response(400, knobs, "anthropic-version: header is required"))
    problem = request_problem(body)
    if problem is not None:
        return ctx.refuse(error_response(400, knobs, problem))
    plan, failed = await draw_faults(ctx, lambda status: error_response(status, knobs))
    if failed is not None:
        return failed

    blocks, pieces, stop, output_tokens = plan_content(body, knobs)
    input_tokens = estimate_tokens(orjson.dumps(body["messages"]).decode())
    message = {
        "id": f"msg_{uuid.uuid4().hex[:24]}", "type": "message", "role": "assistant", "model": body["model"],
        "content": blocks, "stop_reason": stop, "stop_sequence": None, "usage": usage_block(input_tokens, output_tokens, knobs.cached_prompt_tokens),
    }
    if body.get("stream"):
        ctx.counters.streams += 1
        return await stream_message(ctx, request, message, pieces, plan.ttft_ms)
    await sleep_ms(plan.ttft_ms)
    return json_response(message, headers={"request-id": request_id()})


def sse(event: str, data: dict[str, Any]) -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


PING = sse("ping", {"type": "ping"})
OVERLOADED = sse("error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})


def block_events(index: int, block: dict[str, Any], pieces: list[str]) -> list[tuple[bytes, bool]]:
    """One content block's events; the flag marks content deltas (what the fault knobs count)."""
    kind = block["type"]
    if kind == "thinking":
        start: dict[str, Any] = {"type": "thinking", "thinking": ""}
        deltas = [{"type": "thinking_delta", "thinking": p} for p in pieces]
        deltas.append({"type": "signature_delta", "signature": block["signature"]})
    elif kind == "tool_use":
        start = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
        deltas = [{"type": "input_json_delta", "partial_json": ""}]
        deltas += [{"type": "input_json_delta", "partial_json": p} for p in pieces]
    else:
        start = {"type": "text", "text": ""}
        deltas = [{"type": "text_delta", "text": p} for p in pieces]
    out = [(sse("content_block_start", {"type": "content_block_start", "index": index, "content_block": start}), False)]
    out += [(sse("content_block_delta", {"type": "content_block_delta", "index": index, "delta": d}), True) for d in deltas]
    out.append((sse("content_block_stop", {"type": "content_block_stop", "index": index}), False))
    return out


async def stream_message(ctx: MockContext, request: web.Request, message: dict[str, Any], pieces: list[list[str]],
                         ttft_ms: float) -> web.StreamResponse:
    resp = web.StreamResponse(status=200, headers={
        "Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache", "request-id": request_id()})
    await resp.prepare(request)
    usage = message["usage"]
    start = {**message, "content": [], "stop_reason": None, "usage": {**usage, "output_tokens": 1}}
    await resp.write(sse("message_start", {"type": "message_start", "message": start}))
    await resp.write(PING)
    await wait_first_token(resp, ctx, ttft_ms, PING)  # Anthropic keeps a quiet stream alive with ping events

    events = [e for i, block in enumerate(message["content"]) for e in block_events(i, block, pieces[i])]
    sent = 0
    for frame, is_content in events:
        if is_content:
            if not await before_content(ctx, request, resp, sent, OVERLOADED):
                return resp
            sent += 1
        await resp.write(frame)
    delta = {"type": "message_delta", "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
             "usage": {"output_tokens": usage["output_tokens"]}}
    await resp.write(sse("message_delta", delta))
    await resp.write(sse("message_stop", {"type": "message_stop"}))
    await resp.write_eof()
    return resp


def create_anthropic_mock(knobs: Knobs | None = None, name: str = "anthropic-mock") -> web.Application:
    return build_mock_app(name, knobs or Knobs(), [("POST", "/v1/messages", messages)])
