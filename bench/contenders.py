"""What bench.compare runs side by side: each contender is a name, a command, its environment and its config.

The built-in contenders are direct (the mock itself), the bare forwarder, Switchyard with 1 and 2 workers
and LiteLLM. More come from the command line, so a later change can be measured against Switchyard as it is:

    --variant logs-on=bench/variants/logs_on.yaml      Switchyard, the YAML merged over the bench config
    --variant-env logs-on:SWITCHYARD_SERVER__LOG_LEVEL=info
    --variant-sidecar pollers:'python -m bench.console_poll --origin {origin}'   runs during its turns only
    --variant before --variant-checkout before:/tmp/switchyard-1ce115a   another tree's Switchyard, same run
    --contender other='python -m other_proxy --port {port} --upstream {upstream}'
"""

from __future__ import annotations

import contextlib
import shlex
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import yaml

BUILT_IN = ("direct", "forwarder", "switchyard", "litellm", "switchyard-2w")


@dataclass
class ContenderSpec:
    """How to start one contender; `kind` picks the launcher, the rest adjusts it."""

    name: str
    kind: str  # direct | forwarder | switchyard | litellm | command
    workers: int = 1
    overlay: Path | None = None  # YAML merged over the bench's Switchyard config
    env: dict[str, str] = field(default_factory=dict)
    sidecars: list[str] = field(default_factory=list)  # commands run on the aux cpus during this contender's turns
    command: str | None = None  # kind "command": {port} and {upstream} are filled in
    checkout: Path | None = None  # kind "switchyard": run `python -m proxy` from this tree instead of ours
    baseline: str = "forwarder"  # ratios are reported against this contender (and variants also against switchyard)

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "workers": self.workers, "overlay": str(self.overlay) if self.overlay else None,
                "env": self.env, "sidecars": self.sidecars, "command": self.command,
                "checkout": str(self.checkout) if self.checkout else None}


def built_in(name: str) -> ContenderSpec:
    kinds = {"direct": ("direct", 1), "forwarder": ("forwarder", 1), "switchyard": ("switchyard", 1),
             "switchyard-2w": ("switchyard", 2), "litellm": ("litellm", 1)}
    kind, workers = kinds[name]
    return ContenderSpec(name, kind, workers=workers)


def split_named(text: str, sep: str, flag: str) -> tuple[str, str]:
    name, found, rest = text.partition(sep)
    if not found or not name or not rest:
        raise SystemExit(f"bench.compare: {flag} expects NAME{sep}VALUE, got {text!r}")
    return name, rest


def specs_from_args(names: list[str], variants: list[str], variant_env: list[str], variant_sidecars: list[str],
                    commands: list[str], checkouts: list[str] | None = None) -> list[ContenderSpec]:
    """The built-in contenders named, then `--variant`s (Switchyard with an overlay, env or sidecars), then `--contender`s."""
    specs = [built_in(n) for n in names]
    by_name: dict[str, ContenderSpec] = {}
    for text in variants:
        name, _, overlay = text.partition("=")
        if not name or name in BUILT_IN:
            raise SystemExit(f"bench.compare: --variant needs a new name (not one of {', '.join(BUILT_IN)}), got {text!r}")
        path = Path(overlay) if overlay else None
        if path is not None and not path.is_file():
            raise SystemExit(f"bench.compare: --variant {name}: no such config file {overlay!r}")
        by_name[name] = ContenderSpec(name, "switchyard", overlay=path, baseline="forwarder")
    for text in variant_env:
        name, assignment = split_named(text, ":", "--variant-env")
        var, found, value = assignment.partition("=")
        if name not in by_name or not found:
            raise SystemExit(f"bench.compare: --variant-env {text!r}: expected NAME:VAR=VALUE for a --variant NAME")
        by_name[name].env[var] = value
    for text in variant_sidecars:
        name, command = split_named(text, ":", "--variant-sidecar")
        if name not in by_name:
            raise SystemExit(f"bench.compare: --variant-sidecar {text!r}: no --variant named {name!r}")
        by_name[name].sidecars.append(command)
    for text in checkouts or []:
        name, tree = split_named(text, ":", "--variant-checkout")
        if name not in by_name or not (Path(tree) / "proxy" / "__main__.py").is_file():
            raise SystemExit(f"bench.compare: --variant-checkout {text!r}: expected NAME:PATH for a --variant NAME, "
                             "PATH a Switchyard checkout with its Rust module built")
        by_name[name].checkout = Path(tree).resolve()
    for text in commands:
        name, command = split_named(text, "=", "--contender")
        if "{port}" not in command:
            raise SystemExit(f"bench.compare: --contender {name}: the command must take {{port}}")
        by_name[name] = ContenderSpec(name, "command", command=command)
    return specs + list(by_name.values())


def deep_merge(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in overlay.items():
        out[key] = deep_merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def write_switchyard_config(path: Path, base: dict[str, Any], overlay: Path | None) -> Path:
    """The bench config (mock providers, one model) with a variant's YAML merged over it."""
    config = base
    if overlay is not None:
        extra = yaml.safe_load(overlay.read_text()) or {}
        if not isinstance(extra, dict):
            raise SystemExit(f"bench.compare: {overlay} must hold a YAML mapping")
        config = deep_merge(base, extra)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def command_argv(spec: ContenderSpec, port: int, upstream: str) -> list[str]:
    assert spec.command is not None
    return shlex.split(spec.command.format(port=port, upstream=upstream))


@dataclass
class Contender:
    """A started contender: where to send load, and its processes (for RSS)."""

    name: str
    url: str
    api_key: str | None
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    load_cpus: str | None = None  # where its load generator runs, when not the usual aux cpus
    sidecars: list[str] = field(default_factory=list)

    @property
    def origin(self) -> str:
        return self.url.split("/v1/", 1)[0]

    def processes(self) -> list[psutil.Process]:
        if self.proc is None:
            return []
        try:
            root = psutil.Process(self.proc.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def cpu_s(self) -> float:
        """User + system cpu seconds used so far by the contender's processes."""
        total = 0.0
        for p in self.processes():
            with contextlib.suppress(psutil.Error):
                t = p.cpu_times()
                total += t.user + t.system
        return total

    def rss_mb(self) -> float:
        total = 0
        for p in self.processes():
            with contextlib.suppress(psutil.Error):
                total += p.memory_info().rss
        return total / 1e6


@dataclass
class Slice:
    """One contender's raw results in one scenario, one per round, in round order."""

    results: list[dict[str, Any]] = field(default_factory=list)
    peak_rss_mb: float = 0.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
