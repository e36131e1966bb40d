"""The virtual keys API on a running gateway (SQLite): issue, read, change, revoke, self-service, the
CLI, and auth that turns itself on. Secrets never come back after creation."""

from __future__ import annotations

import argparse
import io
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from proxy.keys_cli import run_keys
from tests.gateway_harness import GatewayHarness, simple_model

ADMIN = "sk-admin-keys-test-0123456789"
AUTH = {"Authorization": f"Bearer {ADMIN}"}
SHAPE = {"id", "name", "created_at", "expires_at", "revoked", "budget_usd", "budget_period", "spend_usd",
         "remaining_usd", "rpm", "tpm", "max_parallel", "models", "tags", "cache"}
CHAT = {"model": "test/alpha", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}


def start(extra: dict[str, Any] | None = None) -> GatewayHarness:
    return GatewayHarness(
        providers={"p-one": {"knobs": {"ttft_ms": 1.0}}},
        models={"test/alpha": simple_model({"p-one": "alpha-one"}), "other/beta": simple_model({"p-one": "beta-one"})},
        extra_config={"server": {"admin_keys": [{"name": "ops", "key": ADMIN}]}, **(extra or {})},
    ).start()


@pytest.fixture(scope="module")
def gw() -> Iterator[GatewayHarness]:
    h = start()
    yield h
    h.stop()


def test_issue_read_change_and_revoke_a_key(gw: GatewayHarness, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    status, _, made = gw.raw("POST", "/v1/keys", {
        "name": "team-a", "budget_usd": 5, "budget_period": "month", "rpm": 60, "tpm": 10000, "max_parallel": 4,
        "models": ["test/*", "beta"], "expires_at": "2099-01-01T00:00:00Z", "tags": {"team": "a"}}, AUTH)
    assert status == 201, made
    secret = made.pop("key")
    assert secret.startswith("sk-sy-") and len(secret) > 40
    assert set(made) == SHAPE
    assert made["models"] == ["test/*", "other/beta"]  # a short name is kept as its catalogue slug
    assert (made["budget_usd"], made["spend_usd"], made["remaining_usd"]) == (5.0, 0.0, 5.0)
    assert made["expires_at"] == "2099-01-01T00:00:00.000Z"

    status, _, listed = gw.raw("GET", "/v1/keys", headers=AUTH)
    assert status == 200 and any(k["id"] == made["id"] for k in listed["data"])
    status, _, one = gw.raw("GET", f"/v1/keys/{made['id']}", headers=AUTH)
    assert status == 200 and one == made

    # the key works, and sees its own record
    status, _, own = gw.raw("GET", "/v1/key", headers={"Authorization": f"Bearer {secret}"})
    assert status == 200 and own["id"] == made["id"] and set(own) == SHAPE
    status, _, _ = gw.raw("POST", "/v1/chat/completions", CHAT, {"Authorization": f"Bearer {secret}"})
    assert status == 200

    status, _, patched = gw.raw("PATCH", f"/v1/keys/{made['id']}", {"rpm": None, "budget_usd": 7.5}, AUTH)
    assert status == 200 and patched["rpm"] is None and patched["budget_usd"] == 7.5 and patched["tpm"] == 10000

    status, _, revoked = gw.raw("DELETE", f"/v1/keys/{made['id']}", headers=AUTH)
    assert status == 200 and revoked["revoked"] is True
    status, _, err = gw.raw("POST", "/v1/chat/completions", CHAT, {"Authorization": f"Bearer {secret}"})
    assert status == 401 and "revoked" in err["error"]["message"]

    everything = str(listed) + str(one) + str(own) + str(patched) + str(revoked) + caplog.text
    assert secret not in everything and secret[6:] not in everything


def test_the_keys_api_needs_an_admin_key(gw: GatewayHarness) -> None:
    _, _, made = gw.raw("POST", "/v1/keys", {"name": "plain"}, AUTH)
    user = {"Authorization": f"Bearer {made['key']}"}
    for method, path in (("POST", "/v1/keys"), ("GET", "/v1/keys"), ("GET", f"/v1/keys/{made['id']}"),
                         ("PATCH", f"/v1/keys/{made['id']}"), ("DELETE", f"/v1/keys/{made['id']}")):
        status, _, err = gw.raw(method, path, {"name": "x"} if method != "GET" else None, user)
        assert status == 403 and err["error"]["code"] == "admin_key_required", (method, path)
    status, _, _ = gw.raw("GET", "/v1/keys")
    assert status == 401


@pytest.mark.parametrize(("body", "param"), [
    ({}, "name"),
    ({"name": "bad name!"}, "name"),
    ({"name": "x", "rpm": 0}, "rpm"),
    ({"name": "x", "budget_usd": -1}, "budget_usd"),
    ({"name": "x", "budget_period": "year"}, "budget_period"),
    ({"name": "x", "models": ["openai/gpt-4o:azure"]}, "models"),
    ({"name": "x", "models": ["no-such-model"]}, "models[0]"),
    ({"name": "x", "colour": "red"}, "colour"),
])
def test_bad_fields_get_a_400_naming_them(gw: GatewayHarness, body: dict[str, Any], param: str) -> None:
    status, _, err = gw.raw("POST", "/v1/keys", body, AUTH)
    assert status == 400, err
    assert err["error"]["param"] == param, err


def test_unknown_key_id_is_a_404(gw: GatewayHarness) -> None:
    for method in ("GET", "PATCH", "DELETE"):
        status, _, err = gw.raw(method, "/v1/keys/key_nope", {"rpm": 3} if method == "PATCH" else None, AUTH)
        assert status == 404 and err["error"]["code"] == "key_not_found"


def test_auth_turns_on_when_the_first_key_is_issued() -> None:
    h = GatewayHarness(providers={"p-one": {"knobs": {"ttft_ms": 1.0}}},
                       models={"test/alpha": simple_model({"p-one": "alpha-one"})}).start()
    try:
        assert h.raw("POST", "/v1/chat/completions", CHAT)[0] == 200  # open: no keys of any kind
        status, _, made = h.raw("POST", "/v1/keys", {"name": "first"})
        assert status == 403  # the keys API always needs a real admin key
        # a key issued out of band (another replica, the CLI against it): this replica follows the store
        h.call(h.app[_keys()].create({"name": "first"}))
        status, _, err = h.raw("POST", "/v1/chat/completions", CHAT)
        assert status == 401 and err["error"]["code"] == "invalid_api_key"
    finally:
        h.stop()


def _keys() -> Any:
    from proxy.appkeys import KEYS

    return KEYS


def test_cli_create_list_revoke(gw: GatewayHarness) -> None:
    def cli(op: str, **extra: Any) -> str:
        out = io.StringIO()
        args = argparse.Namespace(op=op, url=gw.base, admin_key=ADMIN, json=False, **extra)
        assert run_keys(args, out) == 0
        return out.getvalue()

    created = cli("create", name="from-cli", budget_usd=1.0, budget_period="day", rpm=10, tpm=None,
                  max_parallel=None, models=["test/alpha"], expires_at=None)
    key_id = created.split()[1]
    secret = created.strip().rsplit(" ", 1)[-1]
    assert secret.startswith("sk-sy-")
    listing = cli("list")
    assert key_id in listing and "from-cli" in listing and secret not in listing
    assert "revoked" in cli("revoke", id=key_id)
    assert gw.raw("GET", "/v1/key", headers={"Authorization": f"Bearer {secret}"})[0] == 401
