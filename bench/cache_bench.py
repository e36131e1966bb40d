"""Cache hit-path latency against a miss, in µs.

One gateway with the exact-match cache on, in front of a mock provider that answers at once
(ttft 0, no pacing), so a miss costs only the gateway's own work plus one upstream round trip on
loopback: the smallest miss there can be. Requests go one at a time (latency, not throughput), in
interleaved rounds: hits repeat one prompt; misses use a fresh prompt each (and fill the cache).
Non-streaming and streaming are measured separately. Also times the hit path inside the gateway
alone: key, lookup, decoding the entry and building the answer.

    python bench/cache_bench.py                     # writes bench/results/cache.json
    python bench/cache_bench.py --requests 50 --rounds 2 --out /tmp/c.json   # quick
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from proxy.simulated.knobs import Knobs  # noqa: E402
from proxy.simulated.openai_mock import create_openai_mock  # noqa: E402
from proxy.simulated.server import MockServer  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "cache.json"
MODEL = "bench/cached"


async def start_gateway() -> tuple[Any, Any, int, MockServer]:
    from aiohttp import web

    from proxy.app import create_app
    from proxy.appkeys import GATEWAY
    from proxy.config import load_settings

    mock = await MockServer.start(create_openai_mock(Knobs(ttft_ms=0.0, tokens_per_s=0.0, chunks=8), name="instant"))
    settings = load_settings(None, environ={}, overrides={
        "simulate": "never",
        "providers": {"instant": {"base_url": mock.url + "/v1", "api_key_env": "CACHE_BENCH_KEY"}},
        "models": {MODEL: {"context_window": 32000, "max_output": 1024,
                           "providers": {"instant": {"id": "m", "input": 1.0, "output": 2.0}}}},
        "cache": {"enabled": True, "ttl_s": 3600},
    })
    app = create_app(settings, environ={"CACHE_BENCH_KEY": "sk-bench-0000"})
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, app[GATEWAY], site._server.sockets[0].getsockname()[1], mock  # type: ignore[union-attr]


async def timed(session: aiohttp.ClientSession, url: str, body: bytes, expect: str) -> float:
    started = time.perf_counter()
    async with session.post(url, data=body, headers={"content-type": "application/json"}) as resp:
        await resp.read()
        if resp.status != 200 or resp.headers.get("x-switchyard-cache") != expect:
            raise RuntimeError(f"expected a cache {expect}, got {resp.status} {resp.headers.get('x-switchyard-cache')}")
    return (time.perf_counter() - started) * 1e6


def body(prompt: str, stream: bool) -> bytes:
    return orjson.dumps({"model": MODEL, "messages": [{"role": "user", "content": prompt}], "stream": stream})


def hot(stream: bool) -> str:
    return "hot stream" if stream else "hot json"


async def in_gateway_hit_us(gateway: Any, n: int) -> float:
    """Key + lookup + decode + the completion, without HTTP: the hit path's own cost."""
    from proxy.call import parse_chat_call
    from proxy.pipeline.cached import cache_use, lookup

    res = gateway.chat
    payload = orjson.loads(body(hot(False), False))
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        call = parse_chat_call(dict(payload), {}, request_id="bench")
        use = cache_use(call, res.cache)
        hit = await lookup(res.cache, use, res.catalog)  # type: ignore[arg-type]
        assert hit is not None
        orjson.dumps(hit[0].as_completion())
        samples.append((time.perf_counter() - started) * 1e6)
    return statistics.median(samples)


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    runner, gateway, port, mock = await start_gateway()
    url = f"http://127.0.0.1:{port}/v1/chat/completions"
    rows: list[dict[str, Any]] = []
    fresh = 0
    try:
        async with aiohttp.ClientSession() as session:
            for stream in (False, True):  # fill the two hot entries (a stream's entry keeps its chunks)
                await timed(session, url, body(hot(stream), stream), "miss")
            for _ in range(args.requests // 5):  # warm-up
                await timed(session, url, body(hot(False), False), "hit")
            for r in range(args.rounds):
                row: dict[str, Any] = {}
                for stream in (False, True):
                    kind = "stream" if stream else "json"
                    hits, misses = [], []
                    for _ in range(args.requests):  # alternate, so drift hits both alike
                        fresh += 1
                        misses.append(await timed(session, url, body(f"cold {r} {fresh}", stream), "miss"))
                        hits.append(await timed(session, url, body(hot(stream), stream), "hit"))
                    row[kind] = {"hit_us": round(statistics.median(hits), 1), "miss_us": round(statistics.median(misses), 1)}
                    row[kind]["miss_over_hit"] = round(row[kind]["miss_us"] / row[kind]["hit_us"], 2)
                rows.append(row)
                print(f"round {r + 1}/{args.rounds}: json hit {row['json']['hit_us']} µs, miss {row['json']['miss_us']} µs; "
                      f"stream hit {row['stream']['hit_us']} µs, miss {row['stream']['miss_us']} µs")
        result: dict[str, Any] = {"requests_per_round": args.requests, "rounds": args.rounds, "per_round": rows,
                                  "in_gateway_hit_path_us": round(await in_gateway_hit_us(gateway, 2000), 1)}
        for kind in ("json", "stream"):
            result[kind] = {
                "hit_us": statistics.median(r[kind]["hit_us"] for r in rows),
                "miss_us": statistics.median(r[kind]["miss_us"] for r in rows),
                "miss_over_hit_median": statistics.median(r[kind]["miss_over_hit"] for r in rows),
            }
        return result
    finally:
        await runner.cleanup()
        await mock.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=300, help="hits and misses per round and mode")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    result = asyncio.run(bench(args))
    print(f"\n{'':8}{'hit µs':>10}{'miss µs':>10}{'miss/hit':>10}   (client-measured, median of rounds)")
    for kind in ("json", "stream"):
        r = result[kind]
        print(f"{kind:<8}{r['hit_us']:>10.0f}{r['miss_us']:>10.0f}{r['miss_over_hit_median']:>9.2f}x")
    print(f"hit path inside the gateway (key, lookup, decode, build): {result['in_gateway_hit_path_us']} µs")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
