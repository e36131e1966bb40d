"""Provider health shared over real Redis between two replicas' scorers: an ejection spreads, one
replica takes the half-open probe, its recovery spreads, and client-caused failures never do."""

from __future__ import annotations

import asyncio
import time

from proxy._scorer import Scorer
from proxy.config import StateConfig
from proxy.state.circuits import SharedCircuits
from proxy.state.shared import SharedState
from tests.redis_server import RedisServer

PAIR = ("acme/alpha", "p-one")


def a_scorer() -> Scorer:
    scorer = Scorer(failure_threshold=3, cooldown_ms=400.0, max_cooldown_ms=400.0)
    scorer.register(*PAIR, 1.0, 2.0)
    return scorer


def circuit(scorer: Scorer) -> str:
    return str(scorer.stats(*PAIR)["circuit"])


async def until(check: object, timeout: float = 2.0) -> float:
    start = time.monotonic()
    while not check():  # type: ignore[operator]
        assert time.monotonic() - start < timeout, "condition not met in time"
        await asyncio.sleep(0.01)
    return time.monotonic() - start


def test_ejection_probe_and_recovery_spread(redis_server: RedisServer) -> None:
    async def run() -> None:
        cfg = StateConfig(redis_url=redis_server.url, sync_interval_ms=50)
        states = [SharedState(cfg), SharedState(cfg)]
        scorers = [a_scorer(), a_scorer()]
        shared = [SharedCircuits(s, sc, 0.05) for s, sc in zip(states, scorers, strict=True)]
        for s, c in zip(states, shared, strict=True):
            await s.start()
            c.start()
        await asyncio.sleep(0.3)  # both subscribed
        try:
            a, b = scorers
            for _ in range(5):  # client-caused failures are scored "cancelled": they never open a circuit
                a.begin(*PAIR)
                a.record(*PAIR, "cancelled")
            await asyncio.sleep(0.2)
            assert circuit(a) == circuit(b) == "closed" and shared[0].announced == 0
            for _ in range(3):
                a.begin(*PAIR)
                a.record(*PAIR, "error")
            assert circuit(a) == "open"
            took = await until(lambda: circuit(b) == "open", 1.0)
            print(f"ejection spread in {took * 1000:.0f} ms")

            await until(lambda: circuit(a) == "half_open" and circuit(b) == "half_open")
            gates = [c.probe_gate(*PAIR) for c in shared]
            assert all(g is not None for g in gates)
            won = [await g for g in gates if g is not None]
            assert sorted(won) == [False, True]  # one replica probes, not both

            prober = scorers[won.index(True)]
            other = scorers[won.index(False)]
            prober.begin(*PAIR)
            prober.record(*PAIR, "ok", first_token_ms=5.0)
            await until(lambda: circuit(other) == "closed", 1.0)
            assert all(c.probe_gate(*PAIR) is None for c in shared)
        finally:
            for s, c in zip(states, shared, strict=True):
                await c.close()
                await s.close()

    asyncio.run(run())


def test_a_settlement_lost_to_a_redis_blip_is_sent_when_redis_answers_again(redis_server: RedisServer) -> None:
    """A reservation whose settlement could not reach Redis must not block the key until its lease
    runs out: the settlement is kept and sent when Redis answers again."""
    from redis.asyncio import Redis

    from proxy.state.backend import Demand, Settlement
    from proxy.state.rules import KeyLimits

    async def run() -> None:
        state = SharedState(StateConfig(redis_url=redis_server.url, sync_interval_ms=50))
        await state.start()
        admin = Redis.from_url(redis_server.url)
        try:
            limits = KeyLimits(budget_nusd=1000)
            key = f"blip-{time.time_ns()}"

            def demand(ticket: str) -> Demand:
                return Demand(key, ticket, limits, 10, 600, 0, 0, 600.0, 60.0)

            first, backend = await state.admit(demand("a"))
            assert first.admitted and backend == "redis"
            await admin.execute_command("CLIENT", "PAUSE", "1200", "ALL")  # Redis stops answering for 1.2 s
            await state.settle(Settlement(key, "a", 10, 100, 0), "redis")
            await until(lambda: not state.redis_up, 2.0)
            await until(lambda: state.redis_up and not state._unsent and state._settling is None, 4.0)
            second, _ = await state.admit(demand("b"))
            assert second.admitted, second  # the first reservation was freed, not left to its 600 s lease
            # (the spend counter was re-seeded from the store after the outage: 0 here, with no store)
            assert second.reserved_nusd == 600
        finally:
            await admin.aclose()
            await state.close()

    asyncio.run(run())
