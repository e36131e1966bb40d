"""A fast OpenAI upstream for benchmarks: the project's OpenAI mock app on uvloop, in N processes.

    python -m bench.fast_mock --port 9100 --procs 2 --ttft-ms 0 --chunks 8 --chunk-gap-ms 0
    python -m bench.fast_mock --ttft-ms 5 --chunks 8 --chunk-gap-ms 2   # paced like a real upstream

A non-streaming answer waits as a real upstream's would, for the whole answer: the first-token delay
plus `chunks` x the chunk gap (with no gap, the first-token delay alone, as before). Every process binds the traffic port with SO_REUSEPORT, so the kernel spreads connections across
them, and also its own control port, where `POST /_mock/knobs` changes that process's knobs.
Once all are up the launcher prints one JSON line: {"port": ..., "control_ports": [...], "pids": [...]}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import orjson
from aiohttp import web
from aiohttp.typedefs import Handler

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from proxy.simulated.server import CONTEXT_KEY  # noqa: E402  (after the path fix, for `python bench/fast_mock.py`)


def knobs_from_args(args: argparse.Namespace) -> dict[str, float | int]:
    """Turn a chunk gap into the mock's tokens-per-second pace (one token per chunk)."""
    tokens_per_s = 1000.0 / args.chunk_gap_ms if args.chunk_gap_ms > 0 else 0.0
    return {"ttft_ms": args.ttft_ms, "chunks": args.chunks, "tokens_per_chunk": 1, "tokens_per_s": tokens_per_s}


def reuseport_socket(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def wants_stream(body: bytes) -> bool:
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return False
    return isinstance(parsed, dict) and parsed.get("stream") is True


@web.middleware
async def whole_answer_pacing(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Hold a non-streaming chat answer until its last chunk would have come (the mock itself waits only for the first)."""
    if request.method != "POST" or request.path != "/v1/chat/completions":
        return await handler(request)
    knobs = request.app[CONTEXT_KEY].knobs
    pace_s = knobs.chunks * knobs.chunk_gap_s
    if pace_s <= 0 or wants_stream(await request.read()):  # read() caches the body for the mock's handler
        return await handler(request)
    ready_at = time.monotonic() + knobs.ttft_ms / 1000.0 + pace_s
    response = await handler(request)
    await asyncio.sleep(max(0.0, ready_at - time.monotonic()))
    return response


async def serve_one(host: str, port: int, knobs: dict[str, float | int]) -> None:
    from proxy.simulated.knobs import Knobs
    from proxy.simulated.openai_mock import create_openai_mock

    app = create_openai_mock(Knobs(**knobs), name="bench-mock")  # type: ignore[arg-type]
    app.middlewares.append(whole_answer_pacing)
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.2, handler_cancellation=True)
    await runner.setup()
    await web.SockSite(runner, reuseport_socket(host, port), backlog=4096).start()
    control = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    control.bind((host, 0))
    await web.SockSite(runner, control).start()
    print(json.dumps({"control_port": control.getsockname()[1], "pid": os.getpid()}), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def launch(args: argparse.Namespace) -> int:
    """Start `--procs` children on one port, print where they are, and wait for a signal."""
    port = args.port or free_port(args.host)
    child_argv = [sys.executable, "-m", "bench.fast_mock", "--child", "--host", args.host, "--port", str(port),
                  "--ttft-ms", str(args.ttft_ms), "--chunks", str(args.chunks), "--chunk-gap-ms", str(args.chunk_gap_ms)]
    children = [subprocess.Popen(child_argv, stdout=subprocess.PIPE, text=True, cwd=ROOT) for _ in range(args.procs)]
    infos = []
    for child in children:
        line = child.stdout.readline() if child.stdout else ""
        if not line:
            for c in children:
                c.terminate()
            print("fast_mock: a mock process failed to start", file=sys.stderr)
            return 1
        infos.append(json.loads(line))
    print(json.dumps({"port": port, "control_ports": [i["control_port"] for i in infos],
                      "pids": [i["pid"] for i in infos]}), flush=True)

    def stop(_signum: int, _frame: object) -> None:
        for c in children:
            c.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    deadline = time.monotonic() + args.max_seconds
    while time.monotonic() < deadline and all(c.poll() is None for c in children):
        time.sleep(0.2)
    stop(0, None)
    for c in children:
        c.wait(timeout=5)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="traffic port (0: pick a free one)")
    parser.add_argument("--procs", type=int, default=1)
    parser.add_argument("--ttft-ms", type=float, default=0.0)
    parser.add_argument("--chunks", type=int, default=8)
    parser.add_argument("--chunk-gap-ms", type=float, default=0.0)
    parser.add_argument("--max-seconds", type=float, default=3600.0, help="exit after this long regardless")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        import uvloop

        uvloop.run(serve_one(args.host, args.port, knobs_from_args(args)))
        return 0
    return launch(args)


if __name__ == "__main__":
    sys.exit(main())
