"""The `switchyard` command: `switchyard serve [--config FILE] [--host H] [--port P] [--workers N]`,
`switchyard check-config`, `switchyard keys create|list|revoke --url URL --admin-key KEY`, and
`switchyard router fit --data evals.jsonl --out router.json [--config FILE]`."""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import os
import signal
import socket
import sys
import tempfile
from typing import Any

from proxy.auth import load_api_keys
from proxy.config import ConfigError, Settings, load_settings
from proxy.keys_cli import add_keys_parser, run_keys
from proxy.serving_mode import keyed_upstreams, should_simulate


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="switchyard", description="Self-hosted OpenAI-compatible LLM gateway.")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the gateway")
    serve.add_argument("--config", help="YAML or TOML file extending the bundled catalogue (or SWITCHYARD_CONFIG)")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default 8080)")
    serve.add_argument("--workers", type=int, help="processes sharing the port with SO_REUSEPORT (default 1)")
    check = sub.add_parser("check-config", help="validate the configuration and print a summary")
    check.add_argument("--config")
    add_keys_parser(sub)
    router = sub.add_parser("router", help="the `auto` router's abilities")
    router_sub = router.add_subparsers(dest="router_command", required=True)
    fit = router_sub.add_parser("fit", help="fit the abilities of the models your evals score (routing.router_path)")
    fit.add_argument("--config")
    fit.add_argument("--data", required=True, help='JSONL: {"prompt": str, "scores": {"<model slug>": 0..1}}')
    fit.add_argument("--out", required=True, help="where to write the fitted abilities (JSON)")
    return parser


def router_fit(settings: Settings, data: str, out: str) -> int:
    """Fit, write, and print a calibration summary; bad rows are errors naming the line and field."""
    from pathlib import Path

    from proxy.routing.fit import FitError, fit, read_rows
    from proxy.routing.model_routing import load_weights, new_router

    try:
        rows = read_rows(Path(data), settings.models)
    except (OSError, FitError) as exc:
        print(f"switchyard: {exc}", file=sys.stderr)
        return 2
    weights = load_weights()
    doc, summary = fit(new_router(weights), rows, settings.models, weights)
    Path(out).write_text(json.dumps(doc, indent=1) + "\n")
    print("\n".join(summary))
    print(f"wrote {out}: {len(doc['models'])} model(s) from {len(rows)} rows; serve with "
          f"routing.router_path: {out} (or SWITCHYARD_ROUTING__ROUTER_PATH)")
    return 0


def cli_overrides(args: argparse.Namespace) -> dict[str, Any]:
    server = {k: v for k, v in (("host", args.host), ("port", args.port), ("workers", args.workers)) if v is not None}
    return {"server": server} if server else {}


def run_worker(settings: Settings, sock: socket.socket | None, worker: int) -> None:
    import uvloop
    from aiohttp import web

    from proxy.app import create_app

    uvloop.install()
    logging.basicConfig(level=settings.server.log_level.upper(), format=f"%(asctime)s switchyard[{worker}] %(levelname)s %(message)s")
    app = create_app(settings, worker=worker)
    print(
        f"switchyard worker {worker}: listening on http://{settings.server.host}:{settings.server.port} "
        f"(pid {os.getpid()})",
        flush=True,
    )
    web.run_app(
        app,
        sock=sock,
        host=None if sock else settings.server.host,
        port=None if sock else settings.server.port,
        print=None,
        access_log=None,
        handler_cancellation=True,
        shutdown_timeout=settings.server.shutdown_grace_s,
        reuse_port=True if sock is None and settings.server.workers > 1 else None,
        backlog=4096,
    )


def reuseport_socket(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def serve(settings: Settings) -> None:
    workers = settings.server.workers
    # Metrics from every worker in one scrape: prometheus-client's multiprocess mode, set up before any
    # worker imports it (a directory of memory-mapped sample files, emptied at start). One worker needs
    # it only when the environment asks for it.
    from proxy.metrics import MULTIPROC_ENV, prepare_multiprocess_dir, worker_exited

    if workers > 1 or os.environ.get(MULTIPROC_ENV):
        prepare_multiprocess_dir(os.environ.get(MULTIPROC_ENV) or tempfile.mkdtemp(prefix="switchyard-metrics-"))
    if workers == 1:
        run_worker(settings, None, 0)
        return
    # Each worker binds its own SO_REUSEPORT socket so the kernel spreads connections across them.
    ctx = multiprocessing.get_context("fork")
    procs = []
    for i in range(workers):
        sock = reuseport_socket(settings.server.host, settings.server.port)
        proc = ctx.Process(target=run_worker, args=(settings, sock, i), daemon=False)
        proc.start()
        sock.close()
        procs.append(proc)

    def forward(signum: int, _frame: object) -> None:
        # Each worker drains its own in-flight answers on SIGTERM; the parent only passes it on.
        for proc in procs:
            if proc.is_alive() and proc.pid is not None:
                os.kill(proc.pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, forward)
    try:
        for proc in procs:
            proc.join()
    except KeyboardInterrupt:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.join()
    for proc in procs:
        if proc.pid is not None:
            worker_exited(proc.pid)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "keys":
        return run_keys(args)  # talks to a running gateway: no local settings needed
    try:
        settings = load_settings(args.config, overrides=cli_overrides(args) if args.command == "serve" else None)
    except ConfigError as exc:
        print(f"switchyard: {exc}", file=sys.stderr)
        return 2
    try:
        api_keys = load_api_keys(settings.server, os.environ)
        simulated = should_simulate(settings, keyed_upstreams(settings, os.environ))
    except ConfigError as exc:
        print(f"switchyard: {exc}", file=sys.stderr)
        return 2
    if args.command == "router":
        return router_fit(settings, args.data, args.out)
    if args.command == "check-config":
        keys = f", {len(api_keys)} gateway API key(s)" if api_keys else ", no gateway API keys (open)"
        mode = ", simulated providers (no provider API key is set)" if simulated else ""
        print(f"ok: {len(settings.models)} models, {len(settings.providers)} providers{keys}{mode}")
        return 0
    serve(settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
