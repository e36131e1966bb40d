"""What more than one adapter needs: the gateway's own request fields, request errors, data: URLs,
the stream chunk shape and the merge of consecutive same-role turns."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
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


def merge_turn(turns: list[Any], role: str, items: list[Any], items_key: str) -> None:
    """Append a turn {"role", items_key: items}, or extend the last one when it has the same role
    (wire formats that want strictly alternating turns: all tool results of one step join one user turn)."""
    if not items:
        return
    if turns and turns[-1]["role"] == role:
        turns[-1][items_key].extend(items)
    else:
        turns.append({"role": role, items_key: items})


def translate_content(content: Any, param: str, vendor: str, text: Callable[[str], Any],
                      media: Callable[[str, str], Any]) -> list[Any]:
    """OpenAI message content (a string, or text / image_url / file parts) in a vendor's items:
    `text(s)` makes a text item, `media(url, param)` an image or file item; other parts are a 400."""
    if content is None:
        return []
    if isinstance(content, str):
        return [text(content)] if content else []
    items: list[Any] = []
    for i, part in enumerate(content):
        where = f"{param}[{i}]"
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            if part.get("text"):
                items.append(text(part["text"]))
        elif kind == "image_url":
            ref = part.get("image_url")
            url = ref.get("url") if isinstance(ref, dict) else ref
            items.append(media(str(url or ""), f"{where}.image_url.url"))
        elif kind == "file":
            items.append(media(str((part.get("file") or {}).get("file_data") or ""), f"{where}.file.file_data"))
        else:
            raise bad_request(f"{where}.type: {kind!r} content parts are not supported by {vendor} models.", f"{where}.type")
    return items


class VendorStream:
    """What the Anthropic and Gemini stream translators share: the OpenAI chunks' identity (id,
    created, model), the `done` flag, and the vendor's usage (`raw_usage`, read by `openai_usage`)."""

    def __init__(self, id_prefix: str) -> None:
        self.id = f"{id_prefix}{uuid.uuid4().hex[:24]}"
        self.model = ""
        self.created = int(time.time())
        self.raw_usage: dict[str, Any] = {}
        self._done = False

    @staticmethod
    def openai_usage(raw: Mapping[str, Any], /) -> dict[str, Any]:
        raise NotImplementedError

    @property
    def done(self) -> bool:
        return self._done

    @property
    def usage(self) -> dict[str, Any] | None:
        return self.openai_usage(self.raw_usage) if self.raw_usage else None

    def chunk(self, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return stream_chunk(self.id, self.created, self.model, delta, finish)

    def usage_chunk(self) -> dict[str, Any]:
        return usage_chunk(self.id, self.created, self.model, self.openai_usage(self.raw_usage))


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
