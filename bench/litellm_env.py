"""LiteLLM proxy as a benchmark contender: its own virtualenv under bench/, a config against our mock.

`ensure_litellm()` creates bench/.venv-litellm with `pip install 'litellm[proxy]'` on first use (minutes,
once); later runs reuse it. Nothing here is imported by the gateway.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

BENCH = Path(__file__).resolve().parent
VENV = BENCH / ".venv-litellm"
LITELLM_BIN = VENV / "bin" / "litellm"
MASTER_KEY = "sk-bench-litellm-0123456789abcdef"  # LiteLLM refuses to start without a non-trivial one
INSTALL_LOG = VENV.with_suffix(".install.log")


def ensure_litellm(install_timeout_s: float = 900.0) -> tuple[Path | None, str]:
    """The `litellm` executable, installing it if needed; (None, why) when it cannot be had."""
    if LITELLM_BIN.exists():
        return LITELLM_BIN, "ready"
    try:
        if not (VENV / "bin" / "python").exists():
            venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
        with INSTALL_LOG.open("w") as log:
            proc = subprocess.run(
                [str(VENV / "bin" / "pip"), "install", "-q", "litellm[proxy]"],
                stdout=log, stderr=subprocess.STDOUT, timeout=install_timeout_s, check=False,
            )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"could not install litellm[proxy] into {VENV}: {exc}"
    if proc.returncode != 0 or not LITELLM_BIN.exists():
        tail = INSTALL_LOG.read_text(errors="replace").strip().splitlines()[-3:]
        return None, f"pip install 'litellm[proxy]' failed (exit {proc.returncode}): {' | '.join(tail)}"
    return LITELLM_BIN, "installed"


def write_config(path: Path, model: str, upstream_v1: str, upstream_key: str) -> Path:
    """One model name, served by LiteLLM's OpenAI client against the mock (no routing: it has one deployment)."""
    path.write_text(
        "model_list:\n"
        f"  - model_name: {model}\n"
        "    litellm_params:\n"
        "      model: openai/mock-model\n"
        f"      api_base: {upstream_v1}\n"
        f"      api_key: {upstream_key}\n"
        "litellm_settings:\n"
        "  drop_params: true\n"
        "  telemetry: false\n"
    )
    return path


def litellm_command(config: Path, port: int) -> tuple[list[str], dict[str, str]]:
    """The command line and environment that serve `config` on 127.0.0.1:`port`, one worker, quiet."""
    env = dict(os.environ)
    env.update({
        "LITELLM_MASTER_KEY": MASTER_KEY,
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # no fetch of the price list at start-up
        "LITELLM_LOG": "ERROR",
        "LITELLM_TELEMETRY": "False",
    })
    return [str(LITELLM_BIN), "--config", str(config), "--host", "127.0.0.1", "--port", str(port), "--num_workers", "1"], env


if __name__ == "__main__":
    exe, status = ensure_litellm()
    print(exe or "", status)
    sys.exit(0 if exe else 1)
