"""Each timeout (connect, first token, idle, total): its default, its per-request override, its effect."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from proxy.config import Timeouts
from proxy.errors import GatewayError
from proxy.upstream.timeouts import request_timeouts
from tests.conftest import FAST
from tests.gateway_harness import GatewayHarness, simple_model
from tests.sse_client import assert_openai_error, post_stream

MESSAGES = [{"role": "user", "content": "ping"}]
ORDER = {"provider": {"routing": {"type": "order", "providers": ["p-slow", "p-fast"]}}}


@pytest.fixture
def blackhole() -> Iterator[int]:
    """A port whose accept queue is full: connecting to it hangs until the client gives up."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = []
    for _ in range(3):
        s = socket.socket()
        s.setblocking(False)
        try:
            s.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        fillers.append(s)
    yield port
    for s in [*fillers, server]:
        s.close()


def two_providers(slow: dict, slow_config: dict | None = None) -> GatewayHarness:
    return GatewayHarness(
        providers={"p-slow": {"knobs": {**FAST, **slow}, "config": slow_config or {}}, "p-fast": {"knobs": FAST}},
        models={"test/alpha": simple_model({"p-slow": "alpha-slow", "p-fast": "alpha-fast"})},
    ).start()


def test_connect_timeout_falls_back(blackhole: int) -> None:
    h = two_providers({}, {"base_url": f"http://127.0.0.1:{blackhole}/v1", "timeouts": {"connect_s": 0.3}})
    try:
        started = time.perf_counter()
        status, headers, payload = h.raw("POST", "/v1/chat/completions", {"model": "test/alpha", "messages": MESSAGES, **ORDER})
        assert status == 200 and headers["x-switchyard-provider"] == "p-fast" and headers["x-switchyard-attempts"] == "2"
        assert time.perf_counter() - started < 2.0
        # pinned, there is nowhere to fall back to: a 504 naming the phase
        status, _, payload = h.raw("POST", "/v1/chat/completions", {"model": "test/alpha:p-slow", "messages": MESSAGES})
        assert status == 504 and payload["error"]["code"] == "upstream_timeout"
        assert "connect timeout" in payload["error"]["message"]
        assert h.stats("test/alpha", "p-slow")["failures"] >= 2
    finally:
        h.stop()


def test_first_token_timeout_ignores_keepalives_and_falls_back() -> None:
    # p-slow opens the stream at once and sends keep-alives every 50 ms, but no content for 3 s
    h = two_providers({"ttft_ms": 3000.0, "keepalive_every_ms": 50.0})
    try:
        body = {"model": "test/alpha", "messages": MESSAGES, **ORDER}
        result = post_stream(h, body, headers={"x-switchyard-timeout-first-token": "0.4"})
        assert result.status == 200 and result.headers["x-switchyard-provider"] == "p-fast"
        assert result.headers["x-switchyard-attempts"] == "2"
        assert result.content.startswith("[alpha-fast]") and not result.errors and result.done
        assert result.elapsed_s < 2.0  # 0.4 s deadline, not reset by 50 ms keep-alives
        # the client never saw p-slow's opening chunk: exactly one role chunk, from p-fast
        roles = [e for e in result.events if isinstance(e, dict) and (e["choices"] or [{}])[0].get("delta", {}).get("role")]
        assert len(roles) == 1
        # pinned: the deadline still holds, and the client gets a clean 504 (nothing was sent yet)
        pinned = post_stream(h, {"model": "test/alpha:p-slow", "messages": MESSAGES},
                             headers={"x-switchyard-timeout-first-token": "0.3"})
        assert pinned.status == 504 and "first-token" in pinned.error_body["error"]["message"]
        assert pinned.elapsed_s < 2.0
    finally:
        h.stop()


def test_first_token_default_comes_from_provider_config() -> None:
    h = two_providers({"ttft_ms": 3000.0, "keepalive_every_ms": 50.0}, {"timeouts": {"first_token_s": 0.3}})
    try:
        result = post_stream(h, {"model": "test/alpha", "messages": MESSAGES, **ORDER})
        assert result.headers["x-switchyard-provider"] == "p-fast" and result.elapsed_s < 2.0
    finally:
        h.stop()


def test_idle_timeout_mid_stream_ends_with_error_event() -> None:
    # 2 tokens a chunk at 4 tokens/s: a 0.5 s gap between content chunks
    # the provider's own idle limit (a client's lower one would end the stream the same way, but would
    # not count against the provider: tests/test_client_cannot_eject.py)
    h = two_providers({"tokens_per_s": 4.0, "chunks": 6}, {"timeouts": {"idle_s": 0.2}})
    try:
        body = {"model": "test/alpha:p-slow", "messages": MESSAGES}
        result = post_stream(h, body)
        assert result.status == 200 and result.content.startswith("[alpha-slow]")
        assert len(result.errors) == 1 and result.done and not result.finish_reasons
        err = result.errors[0]
        assert_openai_error(err)
        assert err["code"] == "upstream_timeout" and "idle timeout" in err["message"] and "incomplete" in err["message"]
        assert result.elapsed_s < 2.0
        assert h.stats("test/alpha", "p-slow")["failures"] >= 1
    finally:
        h.stop()


def test_total_timeout_before_and_after_first_token() -> None:
    h = two_providers({"tokens_per_s": 20.0, "chunks": 40})  # 0.1 s a chunk: a 4 s answer
    try:
        result = post_stream(h, {"model": "test/alpha:p-slow", "messages": MESSAGES}, headers={"x-switchyard-timeout-total": "0.5"})
        assert result.status == 200 and result.content and result.done
        assert [e["code"] for e in result.errors] == ["upstream_timeout"] and "total timeout" in result.errors[0]["message"]
        assert 0.4 < result.elapsed_s < 1.5
        h.set_knobs("p-slow", ttft_ms=3000.0)
        started = time.perf_counter()
        status, _, payload = h.raw("POST", "/v1/chat/completions", {"model": "test/alpha:p-slow", "messages": MESSAGES,
                                                                    "switchyard": {"timeouts": {"total_s": 0.3}}})
        assert status == 504 and "total timeout" in payload["error"]["message"]
        assert time.perf_counter() - started < 1.5
    finally:
        h.stop()


def test_total_timeout_spans_fallbacks() -> None:
    """The total budget is the request's, not each attempt's: two hanging providers share it."""
    h = GatewayHarness(
        providers={"p-a": {"knobs": {**FAST, "hang": True}}, "p-b": {"knobs": {**FAST, "hang": True}}},
        models={"test/alpha": simple_model({"p-a": "a", "p-b": "b"})},
    ).start()
    try:
        started = time.perf_counter()
        status, _, payload = h.raw("POST", "/v1/chat/completions", {"model": "test/alpha", "messages": MESSAGES},
                                   headers={"x-switchyard-timeout-total": "0.6", "x-switchyard-timeout-first-token": "0.4"})
        assert status == 504, payload
        assert time.perf_counter() - started < 1.5
    finally:
        h.stop()


def test_overrides_precedence_and_validation() -> None:
    defaults = Timeouts()
    t = request_timeouts(defaults, {"switchyard": {"timeouts": {"idle_s": 2}}},
                         {"x-switchyard-timeout-idle": "9", "x-switchyard-timeout-connect": "1.5"}, received_at=100.0)
    assert (t.connect_s, t.first_token_s, t.idle_s, t.total_s) == (1.5, defaults.first_token_s, 2.0, defaults.total_s)
    assert t.deadline == 100.0 + defaults.total_s
    for body, headers, param in [
        ({"switchyard": {"timeouts": {"idle_s": "soon"}}}, {}, "switchyard.timeouts.idle_s"),
        ({"switchyard": {"timeouts": {"idle_s": True}}}, {}, "switchyard.timeouts.idle_s"),
        ({"switchyard": {"timeouts": {"idle_s": float("nan")}}}, {}, "switchyard.timeouts.idle_s"),
        ({"switchyard": {"timeouts": {"nap_s": 1}}}, {}, "switchyard.timeouts.nap_s"),
        ({"switchyard": {"timeouts": "fast"}}, {}, "switchyard.timeouts"),
        ({"switchyard": ["timeouts"]}, {}, "switchyard"),
        ({}, {"x-switchyard-timeout-total": "0"}, "x-switchyard-timeout-total"),
        ({}, {"x-switchyard-timeout-first-token": "1e999"}, "x-switchyard-timeout-first-token"),
    ]:
        with pytest.raises(GatewayError) as info:
            request_timeouts(defaults, body, headers)
        assert info.value.status == 400 and info.value.param == param


def test_bad_override_is_a_400_and_charges_no_provider(three_providers: GatewayHarness) -> None:
    body = {"model": "test/alpha", "messages": MESSAGES, "switchyard": {"timeouts": "fast"}}
    status, _, payload = three_providers.raw("POST", "/v1/chat/completions", body)
    assert status == 400 and payload["error"]["param"] == "switchyard.timeouts"
    assert all(three_providers.counters(p).requests == 0 for p in ("p-one", "p-two", "p-three"))
    assert all(three_providers.stats("test/alpha", p)["failures"] == 0 for p in ("p-one", "p-two", "p-three"))
