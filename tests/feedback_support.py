"""What the learning-from-feedback tests share: two models a prior tells apart, maths prompts, and the
client calls (an `auto` request through the openai SDK, a rating)."""

from __future__ import annotations

from typing import Any

import openai

from tests.gateway_harness import GatewayHarness, bearer, simple_model

FAST = {"ttft_ms": 1.0, "tokens_per_s": 20000.0, "chunks": 2}
# steady is predicted better everywhere; feedback has to teach otherwise
MODELS = {
    "test/steady": simple_model({"host-a": "steady-1"}, router={"mmlu_pro": 0.82}, prices={"host-a": (1.0, 1.0)}),
    "test/rival": simple_model({"host-b": "rival-1"}, router={"mmlu_pro": 0.70}, prices={"host-b": (0.5, 0.5)}),
}
MATHS = ["Solve for x: 3x + 7 = 22.", "What is the derivative of x^3 sin(x)?", "Compute 17 * 23 - 5.",
         "Factor x^2 - 5x + 6.", "Find the integral of 2x from 0 to 4.", "What is 15% of 240?",
         "Solve 2x^2 - 8 = 0.", "What is the sum of the first 20 odd numbers?", "Simplify (3x^2)(2x^3).",
         "What is the probability of two heads in three coin flips?", "Solve the system x + y = 5, x - y = 1.",
         "Compute the area of a circle of radius 3."]


def ask(gw: GatewayHarness, key: str, text: str, tradeoff: float) -> tuple[str, str]:
    """(request id, model) of an `auto` request through the openai SDK."""
    client = openai.OpenAI(base_url=gw.url, api_key=key, max_retries=0)
    raw = client.chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": text}],
        extra_body={"model_routing_config": {"available_models": list(MODELS), "tradeoff": tradeoff}})
    return raw.headers["x-request-id"], raw.parse().model


def rate(gw: GatewayHarness, key: str, request_id: str, thumbs: str, **extra: Any) -> tuple[int, Any]:
    """POST /v1/feedback: (status, body)."""
    status, _, body = gw.raw("POST", "/v1/feedback", {"request_id": request_id, "thumbs": thumbs, **extra},
                             headers=bearer(key))
    return status, body
