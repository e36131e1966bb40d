"""A raw SSE client for the reliability tests: what exactly did the gateway send, and when."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

from proxy.streaming import SSEEvent, SSEParser
from tests.gateway_harness import GatewayHarness


@dataclass
class StreamResult:
    status: int
    headers: dict[str, str]
    events: list[Any] = field(default_factory=list)  # decoded JSON, or the string "[DONE]"
    error_body: Any = None
    elapsed_s: float = 0.0

    @property
    def content(self) -> str:
        return "".join(
            (c.get("delta") or {}).get("content") or ""
            for e in self.events if isinstance(e, dict) for c in e.get("choices") or ()
        )

    @property
    def errors(self) -> list[dict[str, Any]]:
        return [e["error"] for e in self.events if isinstance(e, dict) and "error" in e]

    @property
    def done(self) -> bool:
        return bool(self.events) and self.events[-1] == "[DONE]"

    @property
    def finish_reasons(self) -> list[str]:
        return [c["finish_reason"] for e in self.events if isinstance(e, dict)
                for c in e.get("choices") or () if c.get("finish_reason")]


def decode_events(raw: bytes) -> list[Any]:
    parser = SSEParser()
    items = parser.feed(raw) + parser.close()
    return [e.data if e.data == "[DONE]" else orjson.loads(e.data) for e in items if isinstance(e, SSEEvent)]


def post_stream(h: GatewayHarness, body: dict[str, Any], headers: dict[str, str] | None = None, timeout: float = 20.0) -> StreamResult:
    """POST a streaming chat request; returns everything the gateway sent, parsed."""

    async def go() -> StreamResult:
        started = time.perf_counter()
        hdrs = {"Content-Type": "application/json", **(headers or {})}
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as s, s.post(
            h.base + "/v1/chat/completions", data=orjson.dumps({**body, "stream": True}), headers=hdrs
        ) as r:
            raw = await r.read()
            result = StreamResult(r.status, dict(r.headers), elapsed_s=time.perf_counter() - started)
            if r.status == 200:
                result.events = decode_events(raw)
            else:
                result.error_body = orjson.loads(raw)
            return result

    return h.call(go(), timeout=timeout + 5)  # type: ignore[no-any-return]


def assert_openai_error(err: dict[str, Any]) -> None:
    assert set(err) == {"message", "type", "param", "code"}, err
    assert isinstance(err["message"], str) and err["message"]
