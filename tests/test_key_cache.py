"""A virtual key's `cache` setting, through the openai SDK: it applies to the key's requests unless the
request says otherwise (request > key > config), and the keys API checks it by field."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import openai
import pytest

from tests.conftest import FAST
from tests.gateway_harness import GatewayHarness, simple_model

ADMIN_KEY = "gw-cache-admin-51d7e2"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
MODEL = "test/alpha"


def start(cache: dict[str, Any]) -> GatewayHarness:
    return GatewayHarness(
        providers={"p-one": {"knobs": FAST}}, models={MODEL: simple_model({"p-one": "alpha-one"})},
        extra_config={"server": {"admin_keys": [ADMIN_KEY]}, "cache": cache},
    ).start()


@pytest.fixture(scope="module")
def cache_off() -> Iterator[GatewayHarness]:
    """The config leaves the cache off: only a key or a request turns it on."""
    harness = start({"enabled": False})
    yield harness
    harness.stop()


@pytest.fixture(scope="module")
def cache_on() -> Iterator[GatewayHarness]:
    harness = start({"enabled": True, "ttl_s": 600})
    yield harness
    harness.stop()


def issue(h: GatewayHarness, name: str, cache: Any) -> tuple[str, openai.OpenAI]:
    made = h.issue_key(ADMIN, name=name) if cache is ... else h.issue_key(ADMIN, name=name, cache=cache)
    assert made["cache"] == (None if cache in (..., None) else {"ttl_s": None, **cache})
    return made["id"], openai.OpenAI(base_url=h.url, api_key=made["key"], max_retries=0, timeout=30)


def cache_header(client: openai.OpenAI, prompt: str, **kwargs: Any) -> str | None:
    raw = client.chat.completions.with_raw_response.create(
        model=MODEL, messages=[{"role": "user", "content": prompt}], **kwargs)
    raw.parse()
    return raw.headers.get("x-switchyard-cache")


def test_a_key_with_the_cache_on_gets_a_hit_where_the_config_has_it_off(cache_off: GatewayHarness) -> None:
    _, client = issue(cache_off, "cached-team", {"enabled": True, "ttl_s": 120})
    assert [cache_header(client, "cached question") for _ in range(3)] == ["miss", "hit", "hit"]
    # the request still decides for itself: skip, or refresh (fill, never read)
    assert cache_header(client, "cached question", extra_headers={"x-switchyard-cache": "skip"}) is None
    assert cache_header(client, "cached question", extra_body={"switchyard": {"cache": False}}) is None
    assert cache_header(client, "cached question", extra_headers={"x-switchyard-cache": "refresh"}) == "miss"
    # a key without a setting follows the config (off here), and never reads another key's entries
    _, plain = issue(cache_off, "plain-team", ...)
    assert [cache_header(plain, "cached question") for _ in range(2)] == [None, None]


def test_a_key_with_the_cache_off_never_hits_even_where_the_config_has_it_on(cache_on: GatewayHarness) -> None:
    _, client = issue(cache_on, "fresh-team", {"enabled": False})
    assert [cache_header(client, "a fresh answer each time") for _ in range(3)] == [None, None, None]
    # a request that asks for the cache gets it (request > key)
    ask = {"switchyard": {"cache": {"ttl_s": 60}}}
    assert [cache_header(client, "asked for", extra_body=ask) for _ in range(2)] == ["miss", "hit"]
    # a key without a setting follows the config (on here)
    _, plain = issue(cache_on, "config-team", ...)
    assert [cache_header(plain, "config decides") for _ in range(2)] == ["miss", "hit"]


def test_patch_changes_and_clears_a_keys_cache_setting(cache_off: GatewayHarness) -> None:
    key_id, client = issue(cache_off, "patched-team", None)
    assert [cache_header(client, "patched") for _ in range(2)] == [None, None]
    status, _, body = cache_off.raw("PATCH", f"/v1/keys/{key_id}", {"cache": {"enabled": True}}, ADMIN)
    assert status == 200 and body["cache"] == {"enabled": True, "ttl_s": None}
    assert cache_off.raw("GET", f"/v1/keys/{key_id}", headers=ADMIN)[2]["cache"] == {"enabled": True, "ttl_s": None}
    assert [cache_header(client, "patched") for _ in range(2)] == ["miss", "hit"]
    status, _, body = cache_off.raw("PATCH", f"/v1/keys/{key_id}", {"cache": None}, ADMIN)
    assert status == 200 and body["cache"] is None
    assert cache_header(client, "patched") is None


@pytest.mark.parametrize(("cache", "param"), [
    ({"enabled": "yes"}, "cache.enabled"), ({"ttl_s": 60}, "cache.enabled"), ({"enabled": True, "ttl_s": 0}, "cache.ttl_s"),
    ({"enabled": True, "ttl_s": 31 * 86400}, "cache.ttl_s"), ({"enabled": True, "mode": "use"}, "cache.mode"),
    (True, "cache"),
])
def test_bad_cache_settings_are_a_400_naming_the_field(cache_off: GatewayHarness, cache: Any, param: str) -> None:
    status, _, body = cache_off.raw("POST", "/v1/keys", {"name": "bad-cache", "cache": cache}, ADMIN)
    assert status == 400 and body["error"]["param"] == param, body


def test_the_cli_creates_a_key_with_the_cache_on(cache_off: GatewayHarness) -> None:
    import argparse
    import io
    import json

    from proxy.keys_cli import run_keys

    out = io.StringIO()
    args = argparse.Namespace(op="create", url=cache_off.base, admin_key=ADMIN_KEY, json=True, name="cli-cached",
                              budget_usd=None, budget_period=None, rpm=None, tpm=None, max_parallel=None, models=None,
                              expires_at=None, cache="on", cache_ttl_s=300.0)
    assert run_keys(args, out) == 0
    made = json.loads(out.getvalue())
    assert made["cache"] == {"enabled": True, "ttl_s": 300.0}
    client = openai.OpenAI(base_url=cache_off.url, api_key=made["key"], max_retries=0, timeout=30)
    assert [cache_header(client, "from the cli") for _ in range(2)] == ["miss", "hit"]
