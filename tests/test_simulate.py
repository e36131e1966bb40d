"""Simulation only when it is safe: `auto` simulates only without any provider key, says so at start-up,
on /health and on every answer; `never` without a live provider refuses to start."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest
from aiohttp.test_utils import TestClient

from proxy.app import create_app
from proxy.config import ConfigError, load_settings
from proxy.serving_mode import keyed_upstreams, should_simulate, startup_line

OK = {"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


def test_auto_simulates_only_without_any_provider_key() -> None:
    settings = load_settings(None, environ={})
    assert should_simulate(settings, keyed_upstreams(settings, {})) is True
    with_key = keyed_upstreams(settings, {"OPENAI_API_KEY": "sk-live"})
    assert should_simulate(settings, with_key) is False and "openai" in with_key


def test_never_without_a_live_provider_names_the_variables() -> None:
    settings = load_settings(None, environ={}, overrides={"simulate": "never"})
    with pytest.raises(ConfigError) as info:
        should_simulate(settings, keyed_upstreams(settings, {}))
    assert "OPENAI_API_KEY" in str(info.value) and "ANTHROPIC_API_KEY" in str(info.value)
    assert should_simulate(settings, keyed_upstreams(settings, {"GROQ_API_KEY": "k"})) is False


def test_startup_line_says_simulating_and_whether_keys_are_on() -> None:
    settings = load_settings(None, environ={})
    upstreams = keyed_upstreams(settings, {"OPENAI_API_KEY": "sk-live"})
    assert "SIMULATING" in startup_line(True, upstreams, keys_on=False) and "keys OFF" in startup_line(True, upstreams, False)
    live = startup_line(False, upstreams, keys_on=True)
    assert "SIMULATING" not in live and "keys ON" in live and "sk-live" not in live


async def test_simulated_answers_and_health_say_so(aiohttp_client, caplog: pytest.LogCaptureFixture, tmp_path) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.WARNING, logger="switchyard")
    settings = load_settings(None, environ={}, overrides={"store": {"data_dir": str(tmp_path)}})
    client: TestClient = await aiohttp_client(create_app(settings, environ={}))
    assert sum("SIMULATING" in r.getMessage() for r in caplog.records) == 1
    health = await (await client.get("/health")).json()
    assert health["simulated"] is True and health["gateway_keys"] is False
    resp = await client.post("/v1/chat/completions", json=OK)
    assert resp.status == 200 and resp.headers["x-switchyard-simulated"] == "true"
    resp = await client.post("/v1/chat/completions", json={**OK, "stream": True})
    assert resp.status == 200 and resp.headers["x-switchyard-simulated"] == "true"
    await resp.read()
    resp = await client.post("/v1/chat/completions", json={"model": "nope"})
    assert resp.status == 400 and resp.headers["x-switchyard-simulated"] == "true"


async def test_live_answers_carry_no_simulated_header(aiohttp_client, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = load_settings(None, environ={}, overrides={"simulate": "never", "store": {"data_dir": str(tmp_path)}})
    client: TestClient = await aiohttp_client(create_app(settings, environ={"OPENAI_API_KEY": "sk-unused"}))
    resp = await client.get("/health")
    assert (await resp.json())["simulated"] is False and "x-switchyard-simulated" not in resp.headers


def test_serve_refuses_to_start_without_a_live_provider(tmp_path) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "never.yaml"
    config.write_text("simulate: never\n")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "proxy", "check-config", "--config", str(config)], capture_output=True,
                          text=True, env=env, timeout=60)
    assert done.returncode == 2 and "OPENAI_API_KEY" in done.stderr and "simulate" in done.stderr
