"""The gateway the console's browser tests run against: three mock providers, one of them down."""

from __future__ import annotations

from typing import Any

import pytest

from tests.gateway_harness import GatewayHarness, simple_model

XSS = '<script>window.__xss=1</script>"><img src=x onerror="window.__xss=2">'
FAST = {"ttft_ms": 5.0, "tokens_per_s": 4000.0, "chunks": 8}
SLOW = {"ttft_ms": 60.0, "tokens_per_s": 800.0, "chunks": 8}
MESSAGES = [{"role": "user", "content": "Say hello to the console."}]
FALL_BACK = {"provider": {"routing": {"type": "order", "providers": ["p-down", "p-fast"]}}}


def console_gateway(**extra: Any) -> GatewayHarness:
    """acme/falcon: p-down (503s, cheapest) then p-fast; acme/sparrow: p-fast and p-slow; acme/xss: a hostile name."""
    return GatewayHarness(
        providers={"p-fast": {"knobs": FAST}, "p-slow": {"knobs": SLOW}, "p-down": {"knobs": {**FAST, "status": 503}}},
        models={
            "acme/falcon": simple_model({"p-down": "falcon-d", "p-fast": "falcon-f"}, name="Falcon", quality=0.85,
                                        prices={"p-down": (0.5, 1.5), "p-fast": (0.8, 2.4)}),
            "acme/sparrow": simple_model({"p-fast": "sparrow-f", "p-slow": "sparrow-s"}, name="Sparrow", quality=0.6,
                                         context_window=128000, prices={"p-fast": (0.2, 0.6), "p-slow": (0.1, 0.4)}),
            "acme/xss": simple_model({"p-fast": "xss-f"}, name=XSS, capabilities={"tools": False, "vision": False, "json": False}),
        },
        **extra,
    ).start()


def require_request_log(h: GatewayHarness, headers: dict[str, str] | None = None) -> None:
    """Skip, saying why, when this build has no request log API (GET /v1/requests answers no route)."""
    status, _, body = h.raw("GET", "/v1/requests?limit=1", headers=headers)
    if status == 404 and "No route" in str(body):
        pytest.skip("this build has no GET /v1/requests (the request log issue is not merged)")
