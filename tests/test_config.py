"""Config: bundled catalogue, user overrides, env overrides, and errors that name file and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from proxy.config import ConfigError, load_settings


def test_bundled_catalogue_is_real_and_broad() -> None:
    s = load_settings(environ={})
    assert len(s.models) >= 25
    assert len({slug.split("/")[0] for slug in s.models}) >= 6
    assert sum(len(m.providers) > 1 for m in s.models.values()) >= 10
    assert {"mistralai/mixtral-8x7b-instruct", "openai/gpt-4-turbo"} <= set(s.models)
    gpt4o = s.models["openai/gpt-4o"].providers["openai"]
    assert (gpt4o.input, gpt4o.output) == (2.5, 10.0)


def test_user_file_extends_and_overrides(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        "server: {port: 9123}\n"
        "providers:\n  local: {wire: openai, base_url: 'http://127.0.0.1:9/v1'}\n"
        "models:\n"
        "  openai/gpt-4o: {quality: 0.5}\n"
        "  local/tiny: {context_window: 4096, max_output: 512, providers: {local: {id: tiny, input: 0, output: 0}}}\n"
    )
    s = load_settings(cfg, environ={})
    assert s.server.port == 9123
    assert s.models["openai/gpt-4o"].quality == 0.5
    assert s.models["openai/gpt-4o"].providers["openai"].input == 2.5  # untouched fields survive the merge
    assert "local/tiny" in s.models


def test_toml_and_env_overrides(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("[server]\nport = 9001\n")
    s = load_settings(cfg, environ={"SWITCHYARD_SERVER__PORT": "9002", "SWITCHYARD_ROUTING__FAILURE_THRESHOLD": "7"})
    assert s.server.port == 9002 and s.routing.failure_threshold == 7


def test_bad_config_names_file_field_and_problem(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("models:\n  openai/gpt-4o:\n    providers:\n      openai: {input: -3}\n")
    with pytest.raises(ConfigError) as info:
        load_settings(cfg, environ={})
    text = str(info.value)
    assert "bad.yaml" in text and "models.openai/gpt-4o.providers.openai.input" in text and "greater than or equal to 0" in text


def test_unknown_provider_reference(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("models:\n  x/y: {context_window: 10, max_output: 5, providers: {ghost: {id: a, input: 1, output: 1}}}\n")
    with pytest.raises(ConfigError, match=r"models\.x/y\.providers\.ghost"):
        load_settings(cfg, environ={})


def test_unparsable_file(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("server: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_settings(cfg, environ={})
