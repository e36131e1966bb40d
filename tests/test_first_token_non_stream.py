"""The first-token limit on a non-streaming request: the request's own limit bounds the wait for the
upstream's response headers (and falls back when it runs out); the provider's default, meant for
streams, does not cut a long non-streaming answer short."""

from __future__ import annotations

import time

from tests.conftest import FAST
from tests.gateway_harness import GatewayHarness, simple_model

MESSAGES = [{"role": "user", "content": "ping"}]
ORDER = {"provider": {"routing": {"type": "order", "providers": ["p-slow", "p-fast"]}}}


def two_providers(slow_config: dict | None = None) -> GatewayHarness:
    return GatewayHarness(
        providers={"p-slow": {"knobs": {**FAST, "ttft_ms": 800.0}, "config": slow_config or {}}, "p-fast": {"knobs": FAST}},
        models={"test/alpha": simple_model({"p-slow": "alpha-slow", "p-fast": "alpha-fast"})},
    ).start()


def test_the_requests_first_token_limit_bounds_the_response_headers() -> None:
    h = two_providers()
    try:
        started = time.perf_counter()
        status, headers, payload = h.raw("POST", "/v1/chat/completions", {"model": "test/alpha", "messages": MESSAGES, **ORDER},
                                         headers={"x-switchyard-timeout-first-token": "0.2"})
        assert status == 200 and headers["x-switchyard-provider"] == "p-fast" and headers["x-switchyard-attempts"] == "2"
        assert time.perf_counter() - started < 0.7  # not the slow provider's 0.8 s
        status, _, payload = h.raw("POST", "/v1/chat/completions", {"model": "test/alpha:p-slow", "messages": MESSAGES,
                                                                    "switchyard": {"timeouts": {"first_token_s": 0.2}}})
        assert status == 504 and "first-token" in payload["error"]["message"]
        assert h.stats("test/alpha", "p-slow")["failures"] == 0  # the client's own limit, below the default
    finally:
        h.stop()


def test_the_providers_default_does_not_cut_a_non_streaming_answer() -> None:
    h = two_providers({"timeouts": {"first_token_s": 0.2}})
    try:
        status, headers, payload = h.raw("POST", "/v1/chat/completions", {"model": "test/alpha:p-slow", "messages": MESSAGES})
        assert status == 200 and payload["choices"][0]["message"]["content"].startswith("[alpha-slow]")
    finally:
        h.stop()
