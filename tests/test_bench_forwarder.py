"""The parsing forwarder's pure parts: what it does to each answer and event is what a gateway must."""

from __future__ import annotations

import orjson
import pytest

from bench.forwarder import priced, reencode


def event(chunk: dict) -> bytes:
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


def test_an_answer_gets_the_clients_model_and_the_cost_of_its_usage() -> None:
    data = priced({"model": "mock-model", "usage": {"prompt_tokens": 10, "completion_tokens": 5}}, "bench/model")
    assert data["model"] == "bench/model"
    assert data["usage"]["cost_usd"] == pytest.approx(10 * 0.1e-6 + 5 * 0.2e-6)


def test_events_are_reencoded_and_content_is_found_by_reading_them() -> None:
    role = {"model": "mock-model", "choices": [{"delta": {"role": "assistant", "content": ""}}]}
    text = {"model": "mock-model", "choices": [{"delta": {"content": "hi"}}]}
    out, content = reencode(event(role) + event(role)[:-2], "bench/model")
    assert not content
    assert out.count(b'"model":"bench/model"') == 2
    out, content = reencode(event(text) + b"data: [DONE]", "bench/model")
    assert content
    assert out.endswith(b"data: [DONE]\n\n")
    assert orjson.loads(out.split(b"\n\n")[0][6:])["choices"][0]["delta"]["content"] == "hi"
