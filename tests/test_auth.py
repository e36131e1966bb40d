"""Gateway API keys: configured keys are required, compared in constant time, never forwarded."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from proxy.auth import Identity, KeyChecker, key_name, load_api_keys, load_gateway_keys
from proxy.config import ConfigError, ServerConfig
from tests.conftest import FAST
from tests.gateway_harness import GatewayHarness, simple_model

GATEWAY_KEY = "gw-client-key-7f3a9c1e5b"
OTHER_KEY = "gw-second-key-0d2e4f6a8b"
OK = {"model": "test/alpha", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def keyed(tmp_path: Path) -> Iterator[GatewayHarness]:
    """Keys from all three sources: config list, key file and SWITCHYARD_API_KEYS."""
    key_file = tmp_path / "keys.txt"
    key_file.write_text(f"# gateway keys\n{OTHER_KEY}  # ops team\n\n")
    harness = GatewayHarness(
        providers={"p-one": {"knobs": FAST}},
        models={"test/alpha": simple_model({"p-one": "alpha-one"})},
        extra_config={"server": {"api_keys": ["cfg-key-11111111"], "api_keys_file": str(key_file)}},
        environ={"SWITCHYARD_API_KEYS": f" {GATEWAY_KEY} , ,env-key-2222"},
    ).start()
    yield harness
    harness.stop()


def test_missing_and_wrong_keys_get_401_in_openai_shape(keyed: GatewayHarness) -> None:
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": f"Basic {GATEWAY_KEY}"},
                    {"Authorization": f"Bearer {GATEWAY_KEY}x"}, {"Authorization": "Bearer"}, {"x-api-key": GATEWAY_KEY[:-1]}):
        status, resp_headers, payload = keyed.raw("POST", "/v1/chat/completions", OK, headers=headers)
        assert status == 401, headers
        err = payload["error"]
        assert set(err) == {"message", "type", "param", "code"} and err["code"] == "invalid_api_key"
        assert "Authorization: Bearer" in err["message"]
        assert resp_headers["WWW-Authenticate"].startswith("Bearer")
        assert GATEWAY_KEY not in str(payload) and "nope" not in str(payload)
    assert keyed.counters("p-one").requests == 0


def test_every_configured_source_is_accepted(keyed: GatewayHarness) -> None:
    for key in (GATEWAY_KEY, OTHER_KEY, "cfg-key-11111111", "env-key-2222"):
        status, _, payload = keyed.raw("POST", "/v1/chat/completions", OK, headers={"Authorization": f"Bearer {key}"})
        assert status == 200, payload
    status, _, _ = keyed.raw("POST", "/v1/chat/completions", OK, headers={"x-api-key": GATEWAY_KEY})
    assert status == 200


def test_models_need_a_key_and_health_does_not(keyed: GatewayHarness) -> None:
    assert keyed.raw("GET", "/v1/models")[0] == 401
    assert keyed.raw("GET", "/v1/models", headers={"Authorization": f"Bearer {GATEWAY_KEY}"})[0] == 200
    assert keyed.raw("GET", "/health")[0] == 200


def test_openai_sdk_with_gateway_key(keyed: GatewayHarness) -> None:
    good = openai.OpenAI(base_url=keyed.url, api_key=GATEWAY_KEY, max_retries=0, timeout=20)
    assert good.chat.completions.create(model="test/alpha", messages=OK["messages"]).choices[0].message.content
    bad = openai.OpenAI(base_url=keyed.url, api_key="wrong", max_retries=0, timeout=20)
    with pytest.raises(openai.AuthenticationError):
        bad.chat.completions.create(model="test/alpha", messages=OK["messages"])


def test_client_credentials_never_reach_the_upstream(keyed: GatewayHarness) -> None:
    c = openai.OpenAI(base_url=keyed.url, api_key=GATEWAY_KEY, max_retries=0, timeout=20,
                      default_headers={"x-api-key": GATEWAY_KEY, "Cookie": "session=abc", "Proxy-Authorization": "Basic eA=="})
    list(c.chat.completions.create(model="test/alpha", messages=OK["messages"], stream=True))
    c.chat.completions.create(model="test/alpha", messages=OK["messages"])
    seen = keyed.counters("p-one")
    headers = {k.lower(): v for k, v in seen.last_headers.items()}
    assert headers["authorization"] == "Bearer sk-test-p-one-secret-0123456789"
    assert GATEWAY_KEY not in str(seen.last_headers) and GATEWAY_KEY not in str(seen.last_body)
    assert not {"x-api-key", "cookie", "proxy-authorization"} & set(headers)


def test_no_keys_means_open() -> None:
    assert not KeyChecker(load_api_keys(ServerConfig(), {}))


def test_key_checker_matches_exactly() -> None:
    checker = KeyChecker(["alpha-key", "beta-key"])
    assert checker.accepts("alpha-key") and checker.accepts("beta-key")
    for guess in (None, "", "alpha", "alpha-key ", "alpha-keyx", "ALPHA-KEY", "beta-key\n", "\udcff"):
        assert not checker.accepts(guess)


def test_unreadable_key_file_names_the_field(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="server.api_keys_file"):
        load_api_keys(ServerConfig(api_keys_file=str(tmp_path / "missing.txt")), {})


def test_key_env_is_not_a_settings_path() -> None:
    from proxy.config import load_settings

    assert load_settings(None, environ={"SWITCHYARD_API_KEYS": "a,b"}).server.api_keys == []


def test_keys_have_names_and_admin_keys_are_keys() -> None:
    server = ServerConfig.model_validate(
        {"api_keys": [{"name": "team-a", "key": "sk-a"}, "sk-bare"], "admin_keys": [{"name": "ops", "key": "sk-ops"}]})
    keys = {k.secret: k for k in load_gateway_keys(server, {"SWITCHYARD_ADMIN_KEYS": "sk-env-admin,sk-a"})}
    assert (keys["sk-a"].name, keys["sk-a"].admin) == ("team-a", True)  # listed as admin too: admin wins
    assert keys["sk-bare"].name == "key-" + hashlib.sha256(b"sk-bare").hexdigest()[:8] == key_name("sk-bare")
    assert keys["sk-env-admin"].admin and keys["sk-ops"].name == "ops"
    checker = KeyChecker(load_gateway_keys(server, {}))
    assert checker.identify("sk-ops") == Identity("ops", True)
    assert checker.identify("sk-bare") == Identity(key_name("sk-bare"), False)
    assert checker.identify("sk-nope") is None


def test_admin_key_env_is_not_a_settings_path() -> None:
    from proxy.config import load_settings

    settings = load_settings(environ={"SWITCHYARD_ADMIN_KEYS": "sk-x"})
    assert settings.server.admin_keys == []
