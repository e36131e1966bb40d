"""Load generator for the benchmark: a lean HTTP/1.1 keep-alive client on uvloop, run as its own process.

    python -m bench.loadgen --url http://127.0.0.1:8080/v1/chat/completions --concurrency 64 --seconds 5
    python -m bench.loadgen --url ... --rate 2000 --seconds 5                 # open loop, fixed arrival rate
    python -m bench.loadgen --url ... --concurrency 32 --stream --pace-ms 5   # TTFT, chunk gaps, stalls

It speaks just enough HTTP (Content-Length and chunked bodies) to stay cheap next to what it measures,
and prints one JSON object: latencies (ms), errors by kind, requests/s and, when streaming, time to
first content token, gaps between content chunks and stalls (a gap over 2x the pace). In open loop a
request's latency counts from when it was due, not when it was sent, so a slow server cannot hide
its queue (no coordinated omission).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import sys
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import orjson

CONTENT_MARK = b'"content":"'
EMPTY_CONTENT = b'"content":""'


@dataclass
class Outcome:
    """What one request came to: status, whole latency, and for streams each content event's arrival."""

    status: int = 0
    error: str | None = None
    started: float = 0.0
    finished: float = 0.0
    content_times: list[float] = field(default_factory=list)
    done: bool = False  # saw `data: [DONE]`


class HttpConnection(asyncio.Protocol):
    """One keep-alive connection; `send()` one request at a time and await its `Outcome`."""

    def __init__(self, stream: bool) -> None:
        self.stream = stream
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.buf = bytearray()
        self.waiter: asyncio.Future[Outcome] | None = None
        self.outcome = Outcome()
        self.state = "head"
        self.remaining = 0  # body bytes left (content-length) or in the current chunk
        self.chunked = False
        self.keep_alive = True
        self.events = bytearray()  # SSE bytes not yet split into events

    # -- asyncio.Protocol -------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.outcome.error = "connection_lost"
            self.outcome.finished = time.perf_counter()
            self.waiter.set_result(self.outcome)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        try:
            self.parse(time.perf_counter())
        except ValueError as exc:
            self.finish(f"bad_response:{exc}")
            if self.transport is not None:
                self.transport.close()

    # -- requests ---------------------------------------------------------------------------------
    def send(self, request: bytes, started: float) -> asyncio.Future[Outcome]:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.outcome = Outcome(started=started)
        self.state, self.chunked, self.keep_alive = "head", False, True
        self.events.clear()
        self.transport.write(request)
        return self.waiter

    def finish(self, error: str | None = None) -> None:
        self.outcome.finished = time.perf_counter()
        if error is not None:
            self.outcome.error = error
        self.state = "idle"
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(self.outcome)
        if not self.keep_alive and self.transport is not None:
            self.transport.close()

    def parse(self, now: float) -> None:
        buf = self.buf
        while True:
            if self.state == "head":
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    return
                self.read_head(bytes(buf[:end]))
                del buf[: end + 4]
                if not self.chunked and self.remaining == 0:
                    self.finish()
                    return
                self.state = "size" if self.chunked else "body"
            elif self.state == "body":
                take = min(self.remaining, len(buf))
                self.on_body(bytes(buf[:take]), now)
                del buf[:take]
                self.remaining -= take
                if self.remaining:
                    return
                self.finish()
                return
            elif self.state == "size":
                end = buf.find(b"\r\n")
                if end < 0:
                    return
                self.remaining = int(bytes(buf[:end]).split(b";")[0], 16)
                del buf[: end + 2]
                self.state = "chunk" if self.remaining else "trailer"
            elif self.state == "chunk":
                if len(buf) < self.remaining + 2:
                    if self.stream and len(buf) > 0:  # hand partial chunk data on as it arrives
                        take = min(self.remaining, len(buf))
                        self.on_body(bytes(buf[:take]), now)
                        del buf[:take]
                        self.remaining -= take
                    return
                self.on_body(bytes(buf[: self.remaining]), now)
                del buf[: self.remaining + 2]
                self.remaining = 0
                self.state = "size"
            elif self.state == "trailer":
                end = buf.find(b"\r\n")
                if end < 0:
                    return
                del buf[: end + 2]
                if end == 0:
                    self.finish()
                    return
            else:  # idle: bytes nobody asked for
                buf.clear()
                return

    def read_head(self, head: bytes) -> None:
        lines = head.split(b"\r\n")
        parts = lines[0].split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
            raise ValueError("status line")
        self.outcome.status = int(parts[1])
        self.remaining = 0
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                self.remaining = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                self.chunked = True
            elif name == b"connection" and b"close" in value.lower():
                self.keep_alive = False

    def on_body(self, data: bytes, now: float) -> None:
        if not self.stream:
            return
        self.events += data
        while True:
            end = self.events.find(b"\n\n")
            if end < 0:
                return
            event = bytes(self.events[:end])
            del self.events[: end + 2]
            if event.startswith(b"data: [DONE]"):
                self.outcome.done = True
            elif CONTENT_MARK in event and EMPTY_CONTENT not in event:
                self.outcome.content_times.append(now)


def build_request(url: str, body: dict[str, Any], api_key: str | None) -> tuple[str, int, bytes]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    payload = orjson.dumps(body)
    head = [
        f"POST {parts.path or '/'} HTTP/1.1",
        f"Host: {host}:{port}",
        "Content-Type: application/json",
        f"Content-Length: {len(payload)}",
    ]
    if api_key:
        head.append(f"Authorization: Bearer {api_key}")
    return host, port, ("\r\n".join(head) + "\r\n\r\n").encode() + payload


class Recorder:
    """Collects outcomes and turns them into the JSON summary."""

    def __init__(self, stream: bool, pace_ms: float, expect_chunks: int) -> None:
        self.stream = stream
        self.pace_ms = pace_ms
        self.expect_chunks = expect_chunks
        self.latencies: list[float] = []
        self.ttfts: list[float] = []
        self.gaps: list[float] = []
        self.errors: collections.Counter[str] = collections.Counter()
        self.stalls = 0
        self.stalled_streams = 0
        self.bunched = 0  # gaps under a tenth of the pace: chunks that arrived together (buffered upstream of us)

    def add(self, o: Outcome) -> None:
        if o.error is not None:
            self.errors[o.error] += 1
            return
        if o.status != 200:
            self.errors[f"http_{o.status}"] += 1
            return
        if self.stream:
            times = o.content_times
            if not o.done or (self.expect_chunks and len(times) < self.expect_chunks):
                self.errors["incomplete_stream"] += 1
                return
            self.ttfts.append((times[0] - o.started) * 1000.0)
            gaps = [(b - a) * 1000.0 for a, b in zip(times, times[1:])]
            self.gaps.extend(gaps)
            if self.pace_ms > 0:
                stalls = sum(1 for g in gaps if g > 2.0 * self.pace_ms)
                self.stalls += stalls
                self.stalled_streams += bool(stalls)
                self.bunched += sum(1 for g in gaps if g < 0.1 * self.pace_ms)
        self.latencies.append((o.finished - o.started) * 1000.0)

    def summary(self, elapsed: float, mode: str, sent: int) -> dict[str, Any]:
        out: dict[str, Any] = {
            "mode": mode,
            "sent": sent,
            "ok": len(self.latencies),
            "errors": sum(self.errors.values()),
            "error_kinds": dict(self.errors),
            "elapsed_s": elapsed,
            "rps": len(self.latencies) / elapsed if elapsed > 0 else 0.0,
            "latencies_ms": [round(x, 4) for x in self.latencies],
        }
        if self.stream:
            out |= {
                "ttft_ms": [round(x, 4) for x in self.ttfts],
                "gap_ms": percentiles(self.gaps),
                "gaps_ms": [round(x, 3) for x in self.gaps],
                "stalls": self.stalls,
                "stalled_streams": self.stalled_streams,
                "bunched": self.bunched,
                "pace_ms": self.pace_ms,
            }
        return out


def percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p99": None, "p999": None, "max": None}
    s = sorted(values)

    def at(q: float) -> float:
        return s[min(len(s) - 1, int(q * len(s)))]

    return {"p50": at(0.5), "p99": at(0.99), "p999": at(0.999), "max": s[-1]}


class Client:
    def __init__(self, host: str, port: int, request: bytes, stream: bool, timeout_s: float) -> None:
        self.host, self.port, self.request, self.stream, self.timeout_s = host, port, request, stream, timeout_s
        self.idle: list[HttpConnection] = []
        self.opened = 0

    async def connect(self) -> HttpConnection:
        loop = asyncio.get_running_loop()
        _, conn = await loop.create_connection(lambda: HttpConnection(self.stream), self.host, self.port)
        self.opened += 1
        return conn

    async def exchange(self, conn: HttpConnection | None, started: float) -> tuple[Outcome, HttpConnection | None]:
        """One request on `conn` (or a new connection); the connection comes back if it is reusable."""
        try:
            if conn is None or conn.closed:
                conn = await self.connect()
            outcome = await asyncio.wait_for(conn.send(self.request, started), self.timeout_s)
        except TimeoutError:
            if conn is not None and conn.transport is not None:
                conn.transport.abort()
            return Outcome(error="timeout", started=started, finished=time.perf_counter()), None
        except OSError as exc:
            return Outcome(error=f"connect:{type(exc).__name__}", started=started, finished=time.perf_counter()), None
        return outcome, (None if conn.closed or not conn.keep_alive else conn)


async def closed_loop(client: Client, rec: Recorder, concurrency: int, seconds: float, count: int) -> tuple[float, int]:
    """`concurrency` workers, each sending its next request as soon as the last one ends."""
    deadline = time.perf_counter() + seconds
    sent = 0

    async def worker() -> None:
        nonlocal sent
        conn: HttpConnection | None = None
        while time.perf_counter() < deadline and (count <= 0 or sent < count):
            sent += 1
            outcome, conn = await client.exchange(conn, time.perf_counter())
            rec.add(outcome)
        if conn is not None and conn.transport is not None:
            conn.transport.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - t0, sent


async def open_loop(client: Client, rec: Recorder, rate: float, seconds: float, max_in_flight: int) -> tuple[float, int]:
    """Requests fall due every 1/rate s whatever the server does; past `max_in_flight` they count as errors."""
    interval = 1.0 / rate
    total = int(rate * seconds)
    in_flight = 0
    tasks: set[asyncio.Task[None]] = set()

    async def one(due: float) -> None:
        nonlocal in_flight
        conn = client.idle.pop() if client.idle else None
        outcome, conn = await client.exchange(conn, due)
        in_flight -= 1
        rec.add(outcome)
        if conn is not None:
            client.idle.append(conn)

    t0 = time.perf_counter()
    sent = 0
    while sent < total:
        now = time.perf_counter()
        due = t0 + sent * interval
        if due > now:
            await asyncio.sleep(min(due - now, 0.005))
            continue
        while sent < total and t0 + sent * interval <= now:
            due = t0 + sent * interval
            sent += 1
            if in_flight >= max_in_flight:
                rec.errors["overload_dropped"] += 1
                continue
            in_flight += 1
            task = asyncio.create_task(one(due))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.wait(tasks, timeout=client.timeout_s + 1)
    elapsed = time.perf_counter() - t0
    for conn in client.idle:
        if conn.transport is not None:
            conn.transport.close()
    return elapsed, sent


async def hold_streams(client: Client, streams: int, hold_s: float, ramp_s: float = 15.0) -> dict[str, Any]:
    """Open `streams` streaming requests, wait (up to `ramp_s`) until all answer, say so, hold `hold_s`, drop."""
    conns: list[HttpConnection] = []
    opened_at = time.perf_counter()
    for i in range(streams):
        try:
            conn = await client.connect()
        except OSError:
            break
        conns.append(conn)
        conn.send(client.request, time.perf_counter())
        if i % 50 == 49:
            await asyncio.sleep(0.01)

    def live() -> int:
        return sum(1 for c in conns if not c.closed and c.outcome.status == 200 and not (c.waiter and c.waiter.done()))

    deadline = time.perf_counter() + ramp_s
    while live() < len(conns) and time.perf_counter() < deadline:
        await asyncio.sleep(0.1)
    summary = {"live_streams": live(), "opened": len(conns), "open_s": time.perf_counter() - opened_at}
    print(orjson.dumps(summary).decode(), flush=True)
    await asyncio.sleep(hold_s)
    summary["live_at_end"] = live()
    for conn in conns:
        if conn.transport is not None:
            conn.transport.abort()
    return summary


async def run(args: argparse.Namespace) -> dict[str, Any]:
    body: dict[str, Any] = {"model": args.model, "messages": [{"role": "user", "content": args.prompt}]}
    if args.stream:
        body["stream"] = True
    host, port, request = build_request(args.url, body, args.api_key)
    client = Client(host, port, request, args.stream, args.timeout)
    if args.hold_streams:
        return await hold_streams(client, args.hold_streams, args.seconds)
    rec = Recorder(args.stream, args.pace_ms, args.expect_chunks)
    if args.warmup > 0:
        await closed_loop(client, Recorder(args.stream, 0, 0), min(args.concurrency or 8, 64), args.warmup, 0)
    if args.rate > 0:
        elapsed, sent = await open_loop(client, rec, args.rate, args.seconds, args.max_in_flight)
        mode = f"open rate={args.rate:g}/s"
    else:
        elapsed, sent = await closed_loop(client, rec, args.concurrency, args.seconds, args.count)
        mode = f"closed c={args.concurrency}"
    summary = rec.summary(elapsed, mode, sent)
    summary["connections_opened"] = client.opened
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True, help="full URL of /v1/chat/completions")
    parser.add_argument("--api-key")
    parser.add_argument("--model", default="bench/model")
    parser.add_argument("--prompt", default="Say hello to the benchmark.")
    parser.add_argument("--concurrency", type=int, default=1, help="closed loop: requests in flight")
    parser.add_argument("--rate", type=float, default=0.0, help="open loop: requests per second (overrides --concurrency)")
    parser.add_argument("--max-in-flight", type=int, default=2000, help="open loop: beyond this, requests are dropped as errors")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--count", type=int, default=0, help="closed loop: stop after this many requests (0: time only)")
    parser.add_argument("--warmup", type=float, default=0.0, help="seconds of unrecorded load first")
    parser.add_argument("--stream", action="store_true")
    parser.add_argument("--pace-ms", type=float, default=0.0, help="the upstream's chunk pace; a gap over 2x is a stall")
    parser.add_argument("--expect-chunks", type=int, default=0, help="a stream with fewer content chunks is an error")
    parser.add_argument("--hold-streams", type=int, default=0, help="open this many streams, hold them --seconds, then drop")
    parser.add_argument("--timeout", type=float, default=30.0, help="per-request timeout, seconds")
    args = parser.parse_args(argv)
    import uvloop

    result = uvloop.run(run(args))
    sys.stdout.write(orjson.dumps(result).decode() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
