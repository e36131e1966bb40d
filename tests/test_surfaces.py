"""Surfaces clients touch beside the chat calls: Anthropic's token counting, `/health`'s own view of
the load, and the bound on a request's message count (with no memory kept after a huge body)."""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Iterator

import anthropic
import pytest

from proxy.call_checks import MAX_MESSAGES
from tests.conftest import FAST
from tests.gateway_harness import GatewayHarness, simple_model

PNG = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}


@pytest.fixture(scope="module")
def gateway() -> Iterator[GatewayHarness]:
    harness = GatewayHarness(
        providers={"oai": {"knobs": FAST}, "claude": {"wire": "anthropic", "knobs": FAST}},
        models={"test/gpt": simple_model({"oai": "gpt-x"}), "test/claude": simple_model({"claude": "claude-x"})},
    ).start()
    yield harness
    harness.stop()


def sdk(h: GatewayHarness) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=h.base, api_key="unused", max_retries=0, timeout=20)


def test_count_tokens_with_the_anthropic_sdk(gateway: GatewayHarness) -> None:
    short = sdk(gateway).messages.count_tokens(model="test/claude", messages=[{"role": "user", "content": "Hello there"}])
    long = sdk(gateway).messages.count_tokens(model="test/claude", system="You are terse.",
                                              messages=[{"role": "user", "content": "Hello there " * 200}])
    assert 1 <= short.input_tokens < 10 and 300 < long.input_tokens < 700
    image = sdk(gateway).messages.count_tokens(model="test/gpt", messages=[{"role": "user", "content": [
        {"type": "text", "text": "Hello there"}, PNG]}])
    assert image.input_tokens == short.input_tokens + 1600
    tools = [{"name": "get_weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}]
    with_tools = sdk(gateway).messages.count_tokens(model="test/claude", tools=tools,  # type: ignore[arg-type]
                                                    messages=[{"role": "user", "content": "Hello there"}])
    assert with_tools.input_tokens > short.input_tokens
    assert sum(gateway.counters(p).requests for p in gateway.mocks) == 0  # an estimate: nothing went upstream


def test_count_tokens_errors_in_anthropics_shape(gateway: GatewayHarness) -> None:
    status, _, payload = gateway.raw("POST", "/v1/messages/count_tokens", {"model": "test/nope", "messages": [{"role": "user", "content": "x"}]})
    assert status == 404 and payload["type"] == "error" and payload["error"]["type"] == "not_found_error"
    status, _, payload = gateway.raw("POST", "/v1/messages/count_tokens", {"model": "test/claude", "messages": [{"role": "robot", "content": "x"}]})
    assert status == 400 and payload["error"]["message"].startswith("messages[0].role")


def test_health_does_not_count_itself(gateway: GatewayHarness) -> None:
    status, _, payload = gateway.raw("GET", "/health")
    assert status == 200 and payload["in_flight"] == 0
    gateway.set_knobs("oai", ttft_ms=600.0)
    slow = threading.Thread(target=gateway.raw, args=("POST", "/v1/chat/completions",
                                                       {"model": "test/gpt", "messages": [{"role": "user", "content": "x"}]}))
    slow.start()
    time.sleep(0.25)
    try:
        assert gateway.raw("GET", "/health")[2]["in_flight"] == 1
    finally:
        slow.join()
        gateway.set_knobs("oai", ttft_ms=FAST["ttft_ms"])


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/messages"])
def test_message_count_is_bounded(gateway: GatewayHarness, path: str) -> None:
    many = [{"role": "user", "content": "x"}] * (MAX_MESSAGES + 1)
    status, _, payload = gateway.raw("POST", path, {"model": "test/gpt", "max_tokens": 5, "messages": many})
    assert status == 400 and str(MAX_MESSAGES) in payload["error"]["message"]
    ok = [{"role": "user", "content": "x"}] * MAX_MESSAGES
    assert gateway.raw("POST", path, {"model": "test/gpt", "max_tokens": 5, "messages": ok})[0] == 200


def test_a_huge_body_leaves_no_memory_behind(gateway: GatewayHarness) -> None:
    """The issue's 200k-message body: refused at once, and nothing of it stays referenced (200k message
    dicts kept alive would show among the collector's objects)."""
    body = b'{"model": "test/gpt", "messages": [' + b",".join([b'{"role": "user", "content": "hi"}'] * 200_000) + b"]}"
    gateway.raw("POST", "/v1/chat/completions", body)  # warm up whatever is cached once
    gc.collect()
    before = len(gc.get_objects())
    for _ in range(3):
        started = time.perf_counter()
        status, _, payload = gateway.raw("POST", "/v1/chat/completions", body)
        assert status == 400 and payload["error"]["param"] == "messages"
        assert time.perf_counter() - started < 2.0
    gc.collect()
    kept = len(gc.get_objects()) - before
    assert kept < 1000, f"{kept} more live objects after three 200k-message bodies"
