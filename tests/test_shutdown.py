"""Graceful shutdown of a real `switchyard serve` process on SIGTERM.

It stops accepting at once, lets in-flight streams finish up to server.shutdown_grace_s, ends any
still running with an error event and [DONE], then exits.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path

import aiohttp
import orjson
import pytest
import yaml

from proxy.simulated.knobs import Knobs
from proxy.simulated.openai_mock import create_openai_mock
from proxy.simulated.server import MockServer
from tests.sse_client import StreamResult, decode_events

KEY = "sk-test-shutdown-0123456789"


class MockThread:
    """One OpenAI mock upstream on its own loop in a background thread."""

    def __init__(self, knobs: Knobs) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server: MockServer = self.call(MockServer.start(create_openai_mock(knobs, "p-one")))

    def call(self, coro):  # type: ignore[no-untyped-def]
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    def stop(self) -> None:
        self.call(self.server.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_gateway(tmp_path: Path, mock_url: str, grace_s: float, workers: int = 1) -> tuple[subprocess.Popen[str], int]:
    port = free_port()
    config = {
        "simulate": "never",
        "store": {"data_dir": str(tmp_path / "data")},
        "server": {"shutdown_grace_s": grace_s, "log_level": "info"},
        "providers": {"p-one": {"base_url": mock_url + "/v1", "api_key_env": "SHUTDOWN_TEST_KEY"}},
        "models": {"test/alpha": {"context_window": 32000, "max_output": 4096,
                                  "providers": {"p-one": {"id": "alpha-one", "input": 1.0, "output": 2.0}}}},
    }
    path = tmp_path / "switchyard.yaml"
    path.write_text(yaml.safe_dump(config))
    exe = shutil.which("switchyard")
    cmd = [exe] if exe else [sys.executable, "-m", "proxy"]
    env = {**os.environ, "SHUTDOWN_TEST_KEY": KEY}
    proc = subprocess.Popen([*cmd, "serve", "--config", str(path), "--port", str(port), "--workers", str(workers)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"switchyard exited early: {proc.stdout.read() if proc.stdout else ''}")
        if accepts(port):
            return proc, port
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("switchyard did not start listening within 20 s")


def accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def stream_in_background(port: int, first_content: threading.Event) -> Future[StreamResult]:
    """Run one streaming request on its own thread; `first_content` is set when content arrives."""
    future: Future[StreamResult] = Future()

    async def go() -> StreamResult:
        body = {"model": "test/alpha", "messages": [{"role": "user", "content": "ping"}], "stream": True}
        started = time.perf_counter()
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as s, s.post(
            f"http://127.0.0.1:{port}/v1/chat/completions", data=orjson.dumps(body), headers={"Content-Type": "application/json"}
        ) as r:
            raw = b""
            async for piece in r.content.iter_any():
                raw += piece
                if b'"content":"[' in raw:
                    first_content.set()
            return StreamResult(r.status, dict(r.headers), decode_events(raw), elapsed_s=time.perf_counter() - started)

    def run() -> None:
        try:
            future.set_result(asyncio.run(go()))
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            future.set_exception(exc)

    threading.Thread(target=run, daemon=True).start()
    return future


@pytest.fixture
def slow_mock() -> Iterator[MockThread]:
    # 0.1 s between content chunks
    mock = MockThread(Knobs(api_key=KEY, ttft_ms=5.0, tokens_per_s=20.0, chunks=15))
    yield mock
    mock.stop()


def terminate_mid_stream(tmp_path: Path, mock: MockThread, grace_s: float) -> tuple[StreamResult, float, float, subprocess.Popen[str]]:
    proc, port = start_gateway(tmp_path, mock.server.url, grace_s)
    try:
        first = threading.Event()
        result = stream_in_background(port, first)
        assert first.wait(10), "no content before SIGTERM"
        signalled = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        refused_at = time.monotonic() if not accepts(port) else None
        assert refused_at is not None, "still accepting connections 0.3 s after SIGTERM"
        stream = result.result(30)
        proc.wait(30)
        return stream, signalled, time.monotonic(), proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_in_flight_stream_finishes_within_grace(tmp_path: Path, slow_mock: MockThread) -> None:
    stream, signalled, exited, proc = terminate_mid_stream(tmp_path, slow_mock, grace_s=10.0)
    assert stream.status == 200 and stream.done and not stream.errors
    assert stream.finish_reasons == ["stop"] and stream.content.startswith("[alpha-one] re:ping")
    assert proc.returncode == 0
    assert exited - signalled < 5.0  # exits when the stream is done, not at the end of the grace period
    assert slow_mock.server.context.counters.in_flight == 0


def test_stream_past_grace_ends_with_error_event(tmp_path: Path, slow_mock: MockThread) -> None:
    slow_mock.server.knobs.update({"chunks": 200})  # a 20 s answer
    stream, signalled, exited, proc = terminate_mid_stream(tmp_path, slow_mock, grace_s=1.0)
    assert stream.status == 200 and stream.content.startswith("[alpha-one]")
    assert stream.finish_reasons == [] and stream.done
    assert [e["code"] for e in stream.errors] == ["gateway_shutting_down"]
    assert set(stream.errors[0]) == {"message", "type", "param", "code"}
    assert exited - signalled < 4.0 and proc.returncode == 0
    deadline = time.monotonic() + 3
    while slow_mock.server.context.counters.in_flight and time.monotonic() < deadline:
        time.sleep(0.05)
    assert slow_mock.server.context.counters.in_flight == 0  # the upstream request was let go too


def test_idle_server_exits_promptly(tmp_path: Path, slow_mock: MockThread) -> None:
    proc, port = start_gateway(tmp_path, slow_mock.server.url, grace_s=10.0)
    try:
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
        assert time.monotonic() - started < 3.0
    finally:
        if proc.poll() is None:
            proc.kill()


def test_non_stream_past_grace_gets_a_503(tmp_path: Path, slow_mock: MockThread) -> None:
    slow_mock.server.knobs.update({"ttft_ms": 20_000.0})
    proc, port = start_gateway(tmp_path, slow_mock.server.url, grace_s=0.5)
    try:
        answer: Future[tuple[int, dict]] = Future()

        async def ask() -> tuple[int, dict]:
            body = {"model": "test/alpha", "messages": [{"role": "user", "content": "ping"}]}
            async with aiohttp.ClientSession() as s, s.post(f"http://127.0.0.1:{port}/v1/chat/completions",
                                                            data=orjson.dumps(body), headers={"Content-Type": "application/json"}) as r:
                return r.status, orjson.loads(await r.read())

        threading.Thread(target=lambda: answer.set_result(asyncio.run(ask())), daemon=True).start()
        deadline = time.monotonic() + 5
        while slow_mock.server.context.counters.in_flight == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.send_signal(signal.SIGTERM)
        status, payload = answer.result(10)
        assert status == 503 and payload["error"]["code"] == "gateway_shutting_down"
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def test_workers_all_drain_and_exit(tmp_path: Path, slow_mock: MockThread) -> None:
    proc, port = start_gateway(tmp_path, slow_mock.server.url, grace_s=5.0, workers=2)
    try:
        first = threading.Event()
        result = stream_in_background(port, first)
        assert first.wait(10)
        proc.send_signal(signal.SIGTERM)  # to the parent only: it passes the signal on to its workers
        stream = result.result(20)
        assert stream.done and stream.finish_reasons == ["stop"] and not stream.errors
        assert proc.wait(10) == 0
        assert not accepts(port)
    finally:
        if proc.poll() is None:
            proc.kill()
