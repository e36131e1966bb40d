"""The benchmark's own parts: the load generator's HTTP parsing and stream timing, and the report's arithmetic."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bench import report
from bench.compare import Slice, cpu_layout
from bench.loadgen import HttpConnection, Outcome, Recorder, build_request


class FakeTransport:
    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def close(self) -> None:
        self.closed = True


def exchange(pieces: list[bytes], stream: bool) -> Outcome:
    """Feed a response to a connection in the given pieces and return what it made of it."""

    async def go() -> Outcome:
        conn = HttpConnection(stream)
        conn.connection_made(FakeTransport())  # type: ignore[arg-type]
        waiter = conn.send(b"GET / HTTP/1.1\r\n\r\n", 0.0)
        for piece in pieces:
            conn.data_received(piece)
        assert waiter.done(), "the response should be complete"
        return waiter.result()

    return asyncio.run(go())


def chunked(body: bytes, size: int) -> bytes:
    out = b""
    for i in range(0, len(body), size):
        part = body[i : i + size]
        out += f"{len(part):x}\r\n".encode() + part + b"\r\n"
    return out + b"0\r\n\r\n"


def test_content_length_body_split_anywhere() -> None:
    raw = b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\nContent-Type: application/json\r\n\r\nhello world"
    for cut in range(1, len(raw)):
        outcome = exchange([raw[:cut], raw[cut:]], stream=False)
        assert outcome.status == 200 and outcome.error is None


def test_chunked_stream_counts_content_events_and_done() -> None:
    events = [b'data: {"choices":[{"delta":{"role":"assistant","content":""}}]}\n\n']
    events += [b'data: {"choices":[{"delta":{"content":"w%d"}}]}\n\n' % i for i in range(5)]
    events += [b"data: [DONE]\n\n"]
    raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked(b"".join(events), 7)
    for cut in (5, 40, 90, len(raw) - 3):
        outcome = exchange([raw[:cut], raw[cut:]], stream=True)
        assert outcome.status == 200 and outcome.done
        assert len(outcome.content_times) == 5  # the role-only chunk is not content


def test_error_status_is_recorded_as_error() -> None:
    outcome = exchange([b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 2\r\n\r\n{}"], stream=False)
    rec = Recorder(stream=False, pace_ms=0, expect_chunks=0)
    rec.add(outcome)
    assert rec.errors == {"http_503": 1} and not rec.latencies


def test_recorder_counts_stalls_and_incomplete_streams() -> None:
    rec = Recorder(stream=True, pace_ms=10.0, expect_chunks=4)
    rec.add(Outcome(status=200, started=0.0, finished=0.1, content_times=[0.02, 0.03, 0.065, 0.075], done=True))
    rec.add(Outcome(status=200, started=0.0, finished=0.1, content_times=[0.02, 0.03], done=True))
    summary = rec.summary(1.0, "closed c=1", 2)
    assert summary["stalls"] == 1 and summary["stalled_streams"] == 1  # the 35 ms gap is over 2 x 10 ms
    assert summary["error_kinds"] == {"incomplete_stream": 1}
    assert summary["ttft_ms"] == [pytest.approx(20.0)]


def test_build_request_has_length_and_key() -> None:
    host, port, raw = build_request("http://127.0.0.1:8123/v1/chat/completions", {"model": "m"}, "sk-x")
    head, _, body = raw.partition(b"\r\n\r\n")
    assert (host, port) == ("127.0.0.1", 8123)
    assert b"Content-Length: %d" % len(body) in head and b"Authorization: Bearer sk-x" in head


def loadgen_result(latencies: list[float], rps: float) -> dict[str, Any]:
    return {"mode": "closed c=1", "latencies_ms": latencies, "elapsed_s": 1.0, "ok": len(latencies), "errors": 0,
            "error_kinds": {}, "rps": rps, "peak_rss_mb": 50.0}


def test_report_added_latency_and_targets() -> None:
    direct = Slice([loadgen_result([0.1] * 100, 1000)])
    forwarder = Slice([loadgen_result([0.5] * 100, 500)])
    switchyard = Slice([loadgen_result([0.6] * 100, 450)])
    results: dict[str, Any] = {
        "scenarios": {"c1": {n: report.summarise(s) for n, s in
                             (("direct", direct), ("forwarder", forwarder), ("switchyard", switchyard))}},
        "max_rate": {}, "held_streams": {},
    }
    report.add_relative(results)
    assert results["scenarios"]["c1"]["switchyard"]["added_p50"] == pytest.approx(0.5)
    by_name = {t["target"]: t for t in report.targets(results)}
    added = by_name["added p50 at c=1, switchyard / forwarder"]
    assert added["value"] == pytest.approx(0.5 / 0.4) and added["pass"] is True
    assert by_name["switchyard / forwarder throughput (c1)"]["pass"] is True  # 450 / 500 = 0.9
    assert "| c1 | switchyard |" in report.table(results | {"targets": report.targets(results)})


def test_cpu_layout_splits_the_machine() -> None:
    assert cpu_layout(2) == ("1", "0")
    assert cpu_layout(8) == ("4-7", "0-3")
