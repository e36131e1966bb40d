"""What more than one adapter needs: the gateway's own request fields, request errors, data: URLs,
the stream chunk shape and the merge of consecutive same-role turns."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import orjson

from proxy.errors import UpstreamError

# Fields that only the gateway understands; never sent upstream.
GATEWAY_FIELDS = ("provider", "model_routing_config", "switchyard")
# Claude's reasoning blocks, which cross the gateway as `thinking_blocks` in either direction.
THINKING_TYPES = ("thinking", "redacted_thinking")

T = TypeVar("T")


def bad_request(message: str, param: str | None = None) -> UpstreamError:
    """A request this wire format cannot express: the client's 400, not retried elsewhere."""
    return UpstreamError(400, message, type="invalid_request_error", code="invalid_value", param=param, retriable=False)


def parse_data_url(url: str) -> tuple[str, str] | None:
    """`data:<mime>;base64,<data>` -> (mime, data); None for any other URL."""
    if not url.startswith("data:"):
        return None
    head, sep, data = url[5:].partition(",")
    if not sep or not head.endswith(";base64"):
        return None
    return head[: -len(";base64")] or "application/octet-stream", data


def stream_chunk(id: str, created: int, model: str, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    """One internal `chat.completion.chunk` with a single choice."""
    return {
        "id": id, "object": "chat.completion.chunk", "created": created, "model": model,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }


def usage_chunk(id: str, created: int, model: str, usage: dict[str, Any]) -> dict[str, Any]:
    """The closing `chat.completion.chunk` that carries only usage."""
    return {"id": id, "object": "chat.completion.chunk", "created": created, "model": model, "choices": [], "usage": usage}


def merge_turn(turns: list[T], role: str, items: list[Any], make: Callable[[str, list[Any]], T],
               items_of: Callable[[T], list[Any]], role_of: Callable[[T], str]) -> None:
    """Append a turn, or extend the last one when it has the same role (wire formats that want
    strictly alternating turns: all tool results of one step join one user turn)."""
    if not items:
        return
    if turns and role_of(turns[-1]) == role:
        items_of(turns[-1]).extend(items)
    else:
        turns.append(make(role, items))


def response_json(payload: bytes, vendor: str) -> Any:
    """A successful answer's JSON; a 502 (retriable elsewhere) when it is not JSON at all."""
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError:
        raise UpstreamError(502, f"{vendor} returned a body that is not JSON.", code="bad_upstream_response") from None


def error_json(payload: bytes) -> Any:
    """An error answer's JSON, or {} when it has none (a proxy's HTML page, an empty body)."""
    try:
        return orjson.loads(payload) if payload else {}
    except orjson.JSONDecodeError:
        return {}
