"""What `log.bodies: true` keeps of a request: its messages and the answer's text, secrets redacted,
each capped so one huge prompt cannot bloat the log. Off by default: the log then holds no text."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from proxy.redact import redact

TRUNCATED = "…[truncated]"


def capped(text: str, max_bytes: int) -> tuple[str, bool]:
    """At most `max_bytes` of UTF-8, cut on a character boundary; True when something was cut."""
    raw = text.encode("utf-8", "surrogatepass")
    if len(raw) <= max_bytes:
        return text, False
    return raw[:max_bytes].decode("utf-8", "ignore") + TRUNCATED, True


def captured_bodies(messages: Any, answer: str | None, max_bytes: int, secrets: Iterable[str | None] = ()) -> dict[str, Any]:
    """{"request": messages as JSON text, "response": answer text, "truncated": bool}, redacted then capped
    (redaction first, so a cut never leaves half a key unredacted)."""
    secrets = list(secrets)
    request_text = redact(orjson.dumps(messages, option=orjson.OPT_NON_STR_KEYS).decode(), secrets)
    request, cut_request = capped(request_text, max_bytes)
    response, cut_response = capped(redact(answer or "", secrets), max_bytes)
    return {"request": request, "response": response, "truncated": cut_request or cut_response}
