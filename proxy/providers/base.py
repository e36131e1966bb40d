"""The contract every wire-format adapter implements.

The internal representation is OpenAI's chat-completions shape (plain dicts): a request body as a
client would send it to `/v1/chat/completions`, a `chat.completion` response and a stream of
`chat.completion.chunk` dicts. Each adapter translates that to and from its own wire format and
knows about no other adapter.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, NamedTuple, Protocol

from proxy.catalog import AdapterTarget
from proxy.errors import UpstreamError, is_retriable_status
from proxy.streaming import SSEEvent

__all__ = ["Adapter", "AdapterTarget", "StreamTranslator", "UpstreamError", "UpstreamRequest", "is_retriable_status",
           "parse_retry_after"]


class UpstreamRequest(NamedTuple):
    """One HTTP request to send upstream (always POST). (A named tuple: one is built per attempt.)"""

    url: str
    headers: dict[str, str]
    body: bytes


class StreamTranslator(Protocol):
    """Turns one upstream SSE stream into OpenAI `chat.completion.chunk` dicts."""

    def feed(self, event: SSEEvent) -> list[dict[str, Any]]:
        """Translate one upstream event; raise UpstreamError for an error event inside the stream."""
        ...

    def finish(self) -> list[dict[str, Any]]:
        """Called at upstream EOF: flush what is pending; raise UpstreamError if the stream was cut short."""
        ...

    @property
    def done(self) -> bool:
        """True once the upstream said the stream is complete ([DONE], message_stop, last candidate)."""
        ...

    @property
    def usage(self) -> dict[str, Any] | None:
        """OpenAI-shaped usage seen so far (prompt_tokens, completion_tokens, total_tokens, details)."""
        ...


class Adapter(Protocol):
    wire: ClassVar[str]

    def build_request(self, body: dict[str, Any], target: AdapterTarget, *, stream: bool) -> UpstreamRequest:
        """Translate an OpenAI-shaped chat request; when streaming, always ask upstream for usage."""
        ...

    def parse_response(self, payload: bytes) -> dict[str, Any]:
        """Translate a non-streaming upstream body into an OpenAI `chat.completion` dict."""
        ...

    def parse_error(self, status: int, payload: bytes, headers: Mapping[str, str]) -> UpstreamError:
        """Map an upstream error response to OpenAI's error shape, with Retry-After if given."""
        ...

    def stream_translator(self) -> StreamTranslator: ...


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds from a Retry-After (delta-seconds) or retry-after-ms header; None if absent or unparsable."""
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        try:
            return max(0.0, float(raw_ms) / 1000.0)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if raw:
        try:
            return max(0.0, float(raw))
        except ValueError:
            return None
    return None
