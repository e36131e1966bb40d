"""The streaming failover contract: invisible fallback before content, a clear error event after it."""

from __future__ import annotations

import asyncio
import http.client
from collections.abc import Iterator

import openai
import orjson
import pytest
from aiohttp import web

from proxy.simulated.knobs import Knobs
from tests.conftest import FAST
from tests.gateway_harness import GatewayHarness, simple_model
from tests.sse_client import assert_openai_error, post_stream

MESSAGES = [{"role": "user", "content": "ping"}]
ORDER = {"provider": {"routing": {"type": "order", "providers": ["p-bad", "p-good"]}}}
BODY = {"model": "test/alpha", "messages": MESSAGES, **ORDER}


@pytest.fixture
def pair() -> Iterator[GatewayHarness]:
    h = GatewayHarness(
        providers={"p-bad": {"knobs": FAST}, "p-good": {"knobs": FAST}},
        models={"test/alpha": simple_model({"p-bad": "alpha-bad", "p-good": "alpha-good"})},
    ).start()
    yield h
    h.stop()


def assert_clean_fallback(h: GatewayHarness) -> None:
    result = post_stream(h, BODY)
    assert result.status == 200 and result.headers["x-switchyard-provider"] == "p-good"
    assert result.headers["x-switchyard-attempts"] == "2"
    assert result.content == "".join(["[alpha-good]", " re:ping", *result.content.split("re:ping", 1)[1:]])
    assert "alpha-bad" not in str(result.events)  # nothing of the failed attempt leaked through
    assert not result.errors and result.finish_reasons == ["stop"] and result.done
    assert h.stats("test/alpha", "p-bad")["failures"] >= 1


@pytest.mark.parametrize(
    "knobs",
    [
        {"stream_error_after_chunks": 0},  # an error event inside a 200 stream, before any content
        {"drop_after_chunks": 0},  # the connection dies after the role chunk
        {"status": 503},
        {"status": 429, "retry_after_s": 1},
        {"keepalive_every_ms": 20.0, "ttft_ms": 60.0, "stream_error_after_chunks": 0},  # keep-alives, then an error
    ],
    ids=["in-stream-error", "dropped", "503", "429", "keepalive-then-error"],
)
def test_failure_before_content_falls_back_invisibly(pair: GatewayHarness, knobs: dict) -> None:
    pair.set_knobs("p-bad", **knobs)
    assert_clean_fallback(pair)


def test_failure_before_content_non_stream(pair: GatewayHarness) -> None:
    pair.set_knobs("p-bad", status=500)
    status, headers, payload = pair.raw("POST", "/v1/chat/completions", BODY)
    assert status == 200 and headers["x-switchyard-provider"] == "p-good"
    assert payload["choices"][0]["message"]["content"].startswith("[alpha-good]")


@pytest.mark.parametrize("knob", ["stream_error_after_chunks", "drop_after_chunks"])
def test_failure_after_content_ends_with_error_event_then_done(pair: GatewayHarness, knob: str) -> None:
    pair.set_knobs("p-bad", **{knob: 3})
    result = post_stream(pair, BODY)
    assert result.status == 200 and result.headers["x-switchyard-provider"] == "p-bad"
    assert result.content.startswith("[alpha-bad] re:ping") and "alpha-good" not in result.content
    assert result.finish_reasons == []  # a truncated answer is never passed off as complete
    assert len(result.errors) == 1 and result.events[-2:] == [{"error": result.errors[0]}, "[DONE]"]
    assert_openai_error(result.errors[0])
    assert "incomplete" in result.errors[0]["message"] and "p-bad" in result.errors[0]["message"]
    stats = pair.stats("test/alpha", "p-bad")
    assert stats["failures"] == 1 and stats["in_flight"] == 0
    assert pair.counters("p-good").requests == 0  # no second answer spliced onto the first


def test_openai_sdk_raises_on_mid_stream_error(pair: GatewayHarness) -> None:
    pair.set_knobs("p-bad", stream_error_after_chunks=2)
    client = openai.OpenAI(base_url=pair.url, api_key="k", max_retries=0, timeout=20)
    parts: list[str] = []
    with pytest.raises(openai.APIError, match="incomplete"):
        for chunk in client.chat.completions.create(model="test/alpha:p-bad", messages=MESSAGES, stream=True):
            parts.extend(c.delta.content or "" for c in chunk.choices)
    assert "".join(parts).startswith("[alpha-bad]")


def test_every_candidate_failing_gives_one_clear_error(pair: GatewayHarness) -> None:
    pair.set_knobs("p-bad", status=500)
    pair.set_knobs("p-good", stream_error_after_chunks=0)
    result = post_stream(pair, BODY)
    assert result.status == 502 and result.error_body["error"]["code"] == "all_providers_failed"
    assert_openai_error(result.error_body["error"])
    assert "p-bad" in result.error_body["error"]["message"] and "p-good" in result.error_body["error"]["message"]


def test_an_opened_answer_that_never_streams_leaves_the_connection_clean(pair: GatewayHarness) -> None:
    """A stream's answer is prepared as soon as an upstream answers 200, off the first token's way. When
    that attempt then fails and another wins, the winner's headers go out; when every attempt fails, the
    error that replaces the answer is framed by its own Content-Length, and the same keep-alive
    connection serves the next request."""
    from urllib.parse import urlsplit

    where = urlsplit(pair.base)
    conn = http.client.HTTPConnection(where.hostname or "127.0.0.1", where.port, timeout=20)

    def post() -> http.client.HTTPResponse:
        conn.request("POST", "/v1/chat/completions", orjson.dumps({**BODY, "stream": True}),
                     {"Content-Type": "application/json"})
        return conn.getresponse()

    try:
        pair.set_knobs("p-bad", stream_error_after_chunks=0)
        pair.set_knobs("p-good", stream_error_after_chunks=0)
        failed = post()
        body = failed.read()
        assert failed.status == 502 and failed.getheader("Transfer-Encoding") is None
        assert int(failed.getheader("Content-Length") or -1) == len(body)
        assert orjson.loads(body)["error"]["code"] == "all_providers_failed"
        assert failed.getheader("x-switchyard-provider") == "p-good" and failed.getheader("x-switchyard-attempts") == "2"
        pair.set_knobs("p-good", stream_error_after_chunks=None)
        served = post()  # the same connection: the failed answer left nothing half-written on it
        text = served.read().decode()
        assert served.status == 200 and served.getheader("Transfer-Encoding") == "chunked"
        assert served.getheader("x-switchyard-provider") == "p-good" and served.getheader("x-switchyard-attempts") == "2"
        assert "[alpha-good]" in text and "alpha-bad" not in text and text.rstrip().endswith("data: [DONE]")
    finally:
        conn.close()


def test_usage_and_done_on_a_normal_stream(pair: GatewayHarness) -> None:
    result = post_stream(pair, {**BODY, "stream_options": {"include_usage": True}})
    assert result.done and result.finish_reasons == ["stop"] and not result.errors
    usage = [e["usage"] for e in result.events if isinstance(e, dict) and e.get("usage")]
    assert len(usage) == 1 and usage[0]["completion_tokens"] > 0
    assert pair.stats("test/alpha", "p-bad")["in_flight"] == 0


def overloaded_anthropic(knobs: Knobs, name: str) -> web.Application:
    """An Anthropic-wire upstream that opens a 200 stream, then says it is overloaded (as the real one does)."""

    async def messages(request: web.Request) -> web.StreamResponse:
        await request.read()
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        start = {"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant", "content": [],
                                                     "model": "m", "usage": {"input_tokens": 3, "output_tokens": 1}}}
        await resp.write(b"event: message_start\ndata: " + orjson.dumps(start) + b"\n\n")
        await resp.write(b"event: ping\ndata: {\"type\": \"ping\"}\n\n")
        await asyncio.sleep(0.02)  # the opening frames arrive on their own, before the error
        error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
        await resp.write(b"event: error\ndata: " + orjson.dumps(error) + b"\n\n")
        return resp

    app = web.Application()
    app.router.add_post("/v1/messages", messages)
    return app


def test_anthropic_overloaded_in_stream_falls_back() -> None:
    """LiteLLM runs no fallback when Anthropic's overloaded_error arrives inside the stream; we must."""
    pytest.importorskip("proxy.providers.anthropic")
    h = GatewayHarness(
        providers={"p-bad": {"wire": "anthropic", "knobs": FAST}, "p-good": {"knobs": FAST}},
        models={"test/alpha": simple_model({"p-bad": "alpha-bad", "p-good": "alpha-good"})},
        factories={"anthropic": overloaded_anthropic},
    ).start()
    try:
        assert_clean_fallback(h)
    finally:
        h.stop()
