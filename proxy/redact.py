"""Keep secrets out of anything a client or a log sees."""

from __future__ import annotations

import re
import traceback
from collections.abc import Iterable

# Shapes of common provider keys (OpenAI/Anthropic sk-..., Google AIza..., xAI xai-..., gsk_...).
KEY_PATTERN = re.compile(r"(sk-[A-Za-z0-9_\-*]{6,}|AIza[0-9A-Za-z_\-]{20,}|xai-[A-Za-z0-9]{10,}|gsk_[A-Za-z0-9]{10,}|Bearer\s+\S+)")


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "[redacted]")
    return KEY_PATTERN.sub("[redacted]", text)


def redacted_traceback(exc: BaseException, secrets: Iterable[str | None] = ()) -> str:
    """An exception with its traceback, for the log, with key-shaped strings masked."""
    return redact("".join(traceback.format_exception(exc)), secrets)
