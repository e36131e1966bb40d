"""Deliver an answer to the client: shape it (model, usage, cost), stream it unbuffered, record stats."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import aiohttp
import orjson
from aiohttp import web

from proxy.catalog import Route
from proxy.gateway import Gateway
from proxy.providers.base import UpstreamError
from proxy.redact import redact
from proxy.routing.attempt import OpenedStream, transport_error
from proxy.streaming import SSEEvent

log = logging.getLogger("switchyard")

DONE = b"data: [DONE]\n\n"
SSE_HEADERS = {
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",
}


def gateway_headers(route: Route, attempts: int, extra: dict[str, str] | None = None) -> dict[str, str]:
    headers = {"x-switchyard-provider": route.provider, "x-switchyard-attempts": str(attempts), "x-switchyard-model": route.model}
    if extra:
        headers.update(extra)
    return headers


def estimate_usage(body: dict[str, Any], completion_chars: int) -> dict[str, Any]:
    """Rough usage (4 characters a token) for when an upstream reports none; marked as estimated."""
    prompt_chars = len(orjson.dumps(body.get("messages") or []))
    prompt, completion = max(1, prompt_chars // 4), max(0, completion_chars // 4)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion, "estimated": True}


def with_cost(usage: dict[str, Any], route: Route) -> dict[str, Any]:
    usage["cost_usd"] = route.cost_usd(int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0))
    return usage


def content_chars(chunk: dict[str, Any]) -> int:
    n = 0
    for choice in chunk.get("choices") or ():
        delta = choice.get("delta") or {}
        content = delta.get("content")
        if content:
            n += len(content)
        for call in delta.get("tool_calls") or ():
            n += len((call.get("function") or {}).get("arguments") or "")
    return n


def shape_completion(data: dict[str, Any], route: Route, body: dict[str, Any]) -> dict[str, Any]:
    data["model"] = route.model
    usage = data.get("usage")
    if not usage:
        text = sum(len((c.get("message") or {}).get("content") or "") for c in data.get("choices") or ())
        usage = estimate_usage(body, text)
    data["usage"] = with_cost(usage, route)
    return data


class StreamShaper:
    """One stream's client-side framing, OpenAI's SSE: the catalogue model name, usage only when
    asked (with cost), a closing usage chunk and [DONE], or an error event then [DONE].

    Other inbound APIs subclass it and override `encode`, `closing` and `failure`.
    """

    def __init__(self, route: Route, body: dict[str, Any], include_usage: bool = False) -> None:
        self.route = route
        self.body = body
        self.include_usage = include_usage
        self.usage_sent = False
        self.completion_chars = 0
        self.usage: dict[str, Any] | None = None
        self.template: dict[str, Any] | None = None

    def encode(self, chunks: list[dict[str, Any]]) -> bytes:
        out = []
        for chunk in chunks:
            if self.template is None:
                self.template = chunk
            self.completion_chars += content_chars(chunk)
            chunk["model"] = self.route.model
            if "usage" in chunk:
                usage = chunk["usage"]
                if usage:
                    self.usage = with_cost(usage, self.route)
                if not self.include_usage:
                    del chunk["usage"]
                    if not chunk.get("choices"):
                        continue
                elif usage:
                    self.usage_sent = True
            out.append(b"data: " + orjson.dumps(chunk) + b"\n\n")
        return b"".join(out)

    def final_usage(self) -> dict[str, Any]:
        """The stream's usage with cost; estimated when the upstream reported none."""
        if self.usage is None:
            self.usage = with_cost(estimate_usage(self.body, self.completion_chars), self.route)
        return self.usage

    def closing(self) -> bytes:
        """After the last upstream event: a usage chunk if the client asked and the upstream sent none, then [DONE]."""
        if not self.include_usage or self.usage_sent:
            return DONE
        template = self.template or {}
        chunk = {
            "id": template.get("id", "chatcmpl-switchyard"),
            "object": "chat.completion.chunk",
            "created": template.get("created", int(time.time())),
            "model": self.route.model,
            "choices": [],
            "usage": self.final_usage(),
        }
        self.usage_sent = True
        return b"data: " + orjson.dumps(chunk) + b"\n\n" + DONE

    def failure(self, exc: UpstreamError) -> bytes:
        """The last event of a stream that broke after content was sent: OpenAI's error shape, then [DONE]."""
        body = {"error": {"message": failure_message(exc, self.route), "type": exc.type, "param": None,
                          "code": exc.code or "stream_interrupted"}}
        return b"data: " + orjson.dumps(body) + b"\n\n" + DONE


# Failures of the gateway itself, not of the provider that was streaming.
GATEWAY_CODES = frozenset({"gateway_shutting_down", "internal_error"})


def failure_message(exc: UpstreamError, route: Route) -> str:
    message = redact(exc.message, [route.api_key])
    if exc.code in GATEWAY_CODES:
        return message
    return f"Provider '{route.provider}' failed mid-stream: {message} The answer above is incomplete."


def shutdown_error() -> UpstreamError:
    return UpstreamError(503, "The gateway is shutting down; the answer above is incomplete. Retry the request.",
                         type="api_error", code="gateway_shutting_down", retriable=False)


async def relay_stream(
    request: web.Request,
    gw: Gateway,
    opened: OpenedStream,
    shaper: StreamShaper,
    attempts: int,
    extra_headers: dict[str, str] | None = None,
) -> web.StreamResponse:
    """Send the held opening chunks, then the rest as it arrives; a failure ends in an error event.

    The stream's outcome goes to the scorer once: ok, error (the provider broke the stream) or
    cancelled (the client left, or the gateway shut down).
    """
    route = opened.route
    resp = web.StreamResponse(status=200, headers={**SSE_HEADERS, **gateway_headers(route, attempts, extra_headers)})
    outcome = "cancelled"
    try:
        await resp.prepare(request)
        await resp.write(shaper.encode(opened.held))
        await pump_until_deadline(gw, resp, opened, shaper)
        await resp.write(shaper.closing())
        outcome = "ok"
    except UpstreamError as exc:
        outcome = "cancelled" if exc.code == "gateway_shutting_down" or exc.caused_by_client else "error"
        await write_quietly(resp, shaper.failure(exc))
    except (ConnectionError, RuntimeError):
        pass  # the client went away: recorded as cancelled, upstream closed below
    except Exception as exc:  # noqa: BLE001 - a bug must still end the stream visibly, not silently
        log.error("stream relay failed for %s via %s: %s", route.model, route.provider, redact(repr(exc), [route.api_key]))
        internal = UpstreamError(500, "Internal gateway error while relaying the stream.", type="api_error", code="internal_error")
        await write_quietly(resp, shaper.failure(internal))
    finally:
        opened.close()
        if outcome == "ok":
            record_stream_success(gw, opened, shaper)
        else:
            gw.scorer.record(route.model, route.provider, outcome)
    if resp.prepared:
        try:
            await resp.write_eof()
        except (ConnectionError, RuntimeError):
            pass
    return resp


async def write_quietly(resp: web.StreamResponse, data: bytes) -> None:
    if not resp.prepared:
        return
    try:
        await resp.write(data)
    except (ConnectionError, RuntimeError):
        pass


async def pump_until_deadline(gw: Gateway, resp: web.StreamResponse, opened: OpenedStream, shaper: StreamShaper) -> None:
    """`pump`, bounded by the request's total deadline and, during shutdown, the grace deadline."""
    try:
        async with asyncio.timeout_at(opened.deadline) as deadline:
            with gw.drain.bounded(deadline):
                await pump(resp, opened, shaper)
    except TimeoutError as exc:
        if gw.drain.expired():
            raise shutdown_error() from None
        raise transport_error(opened.route, exc, "total", opened.limits) from None


async def pump(resp: web.StreamResponse, opened: OpenedStream, shaper: StreamShaper) -> None:
    """Upstream bytes to client events, one write per upstream read, until the upstream is done."""
    translator, parser = opened.translator, opened.parser
    while not translator.done:
        try:
            raw: bytes | None = await opened.reader.__anext__()
        except StopAsyncIteration:
            raw = None
        except (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError, OSError) as exc:
            raise transport_error(opened.route, exc, None, opened.limits) from None
        if raw is None:
            chunks = [c for ev in parser.close() if isinstance(ev, SSEEvent) for c in translator.feed(ev)]
            chunks += translator.finish()
        else:
            chunks = [c for ev in parser.feed(raw) if isinstance(ev, SSEEvent) for c in translator.feed(ev)]
        if chunks:
            await resp.write(shaper.encode(chunks))
        if raw is None:
            return


def record_stream_success(gw: Gateway, opened: OpenedStream, shaper: StreamShaper) -> None:
    elapsed = time.perf_counter() - opened.first_token_at
    completion = (shaper.usage or {}).get("completion_tokens") or max(1, shaper.completion_chars // 4)
    tokens_per_s = completion / elapsed if elapsed > 0.001 else None
    gw.scorer.record(opened.route.model, opened.route.provider, "ok", first_token_ms=opened.first_token_ms, tokens_per_s=tokens_per_s)
