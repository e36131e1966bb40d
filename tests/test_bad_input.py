"""Bad input gets a clear 4xx in OpenAI's error shape and never hurts the server."""

from __future__ import annotations

import pytest

from tests.gateway_harness import GatewayHarness

OK = {"model": "test/alpha", "messages": [{"role": "user", "content": "hi"}]}


def assert_openai_error(payload: dict, status: int, got: int) -> dict:
    assert got == status, payload
    err = payload["error"]
    assert set(err) == {"message", "type", "param", "code"}
    assert err["message"]
    return err


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "test/alpha"}, "messages"),
        ({"messages": [{"role": "user", "content": "x"}]}, "model"),
        ({"model": "test/alpha", "messages": []}, "messages"),
        ({"model": "test/alpha", "messages": "hi"}, "messages"),
        ({"model": 7, "messages": [{"role": "user", "content": "x"}]}, "model"),
        ({"model": "test/alpha", "messages": [{"role": "robot", "content": "x"}]}, "messages[0].role"),
        ({"model": "test/alpha", "messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
        ({**OK, "stream": "yes"}, "stream"),
        ({**OK, "max_tokens": 0}, "max_tokens"),
        ({**OK, "provider": {"routing": {"type": "fastest"}}}, "provider.routing.type"),
        ({**OK, "provider": {"routing": {"type": "priority", "primary_factor": "vibes"}}}, "provider.routing.primary_factor"),
        ({**OK, "provider": {"routing": {"type": "order", "providers": []}}}, "provider.routing.providers"),
        ({**OK, "switchyard": {"timeouts": {"total_s": -1}}}, "switchyard.timeouts.total_s"),
    ],
)
def test_validation_errors_name_the_field(three_providers: GatewayHarness, body: dict, param: str) -> None:
    status, _, payload = three_providers.raw("POST", "/v1/chat/completions", body)
    err = assert_openai_error(payload, 400, status)
    assert err["param"] == param, err


def test_malformed_json(three_providers: GatewayHarness) -> None:
    status, _, payload = three_providers.raw("POST", "/v1/chat/completions", b'{"model": "x", ')
    assert_openai_error(payload, 400, status)
    status, _, payload = three_providers.raw("POST", "/v1/chat/completions", b"[1, 2]")
    assert "JSON object" in assert_openai_error(payload, 400, status)["message"]


def test_unknown_model_suggests(three_providers: GatewayHarness) -> None:
    status, _, payload = three_providers.raw("POST", "/v1/chat/completions", {**OK, "model": "test/alpah"})
    err = assert_openai_error(payload, 404, status)
    assert "test/alpha" in err["message"] and err["code"] == "model_not_found" and err["param"] == "model"


def test_unknown_pinned_provider(three_providers: GatewayHarness) -> None:
    status, _, payload = three_providers.raw("POST", "/v1/chat/completions", {**OK, "model": "test/alpha:p-nine"})
    assert "p-one" in assert_openai_error(payload, 400, status)["message"]


def test_body_too_large(three_providers: GatewayHarness) -> None:
    limit = three_providers.gateway.settings.server.max_body_bytes
    big = b'{"model": "test/alpha", "messages": [{"role": "user", "content": "' + b"x" * (limit + 10) + b'"}]}'
    status, _, payload = three_providers.raw("POST", "/v1/chat/completions", big)
    assert_openai_error(payload, 413, status)


def test_unsupported_content_type(three_providers: GatewayHarness) -> None:
    status, _, payload = three_providers.raw("POST", "/v1/chat/completions", "model=x", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert_openai_error(payload, 415, status)


def test_unknown_route_and_method(three_providers: GatewayHarness) -> None:
    status, _, payload = three_providers.raw("GET", "/v1/nothing")
    assert_openai_error(payload, 404, status)
    status, _, payload = three_providers.raw("GET", "/v1/chat/completions")
    assert_openai_error(payload, 405, status)


def test_server_still_serves_after_garbage(three_providers: GatewayHarness) -> None:
    for junk in (b"\x00\xff" * 100, b"{" * 5000, b'{"model": null}', b"null"):
        three_providers.raw("POST", "/v1/chat/completions", junk)
    status, _, payload = three_providers.raw("POST", "/v1/chat/completions", OK)
    assert status == 200 and payload["model"] == "test/alpha"
