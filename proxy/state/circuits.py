"""Provider health shared by replicas: an ejection seen by one replica ejects the pair on all.

Every `sync_interval_ms` each replica looks over its scorer's circuits. A pair that has newly opened
(its own failures tripped it) is announced on the events channel with how long it stays open; every
other replica opens the same pair for that long (the scorer's `retry_after_ms` path, which opens a
circuit for at least that long). Only provider-caused failures ever open a circuit: a failure the
client caused (its own bad request, its own deadline, leaving) is scored as `cancelled`, so it never
trips a breaker and never spreads.

When the shared cooldown ends, every replica's circuit turns half-open at once; `take_probe` lets
one replica take the half-open probe (a short-lived Redis lock per pair), and the others treat the
pair as still ejected until that probe's verdict arrives as an announcement (reopened) or its
circuit closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable
from typing import Any, Protocol

from redis.exceptions import RedisError

from proxy.state.shared import SharedState

log = logging.getLogger("switchyard")

PROBE_LOCK_MS = 5_000  # a probe that takes longer lets another replica try
SNAPSHOT_EVERY_S = 2.0  # each replica's stats snapshot, for the others' /health
PEER_STALE_S = 10.0  # a peer silent this long is left out
SLACK_MS = 250.0  # an opening this close to one already known is the same opening


def probe_lock(model: str, provider: str) -> str:
    return f"sy:probe:{model}:{provider}"


class CircuitScorer(Protocol):
    def all_stats(self, now_ms: float | None = None) -> list[Any]: ...

    def begin(self, model: str, provider: str, now_ms: float | None = None) -> None: ...

    def stats(self, model: str, provider: str, now_ms: float | None = None) -> Any: ...

    def record(self, model: str, provider: str, outcome: str, first_token_ms: float | None = None,
               tokens_per_s: float | None = None, retry_after_ms: float | None = None,
               now_ms: float | None = None) -> None: ...


class SharedCircuits:
    def __init__(self, state: SharedState, scorer: CircuitScorer, interval_s: float = 0.1) -> None:
        self.state = state
        self.scorer = scorer
        self.interval_s = interval_s
        self.known_until: dict[tuple[str, str], float] = {}  # pair -> when its known opening ends (epoch ms)
        self.announced = 0
        self.applied = 0
        self.peers: dict[str, tuple[float, list[list[Any]]]] = {}  # replica -> (when, its pairs' stats)
        self._last_snapshot = 0.0
        self._task: asyncio.Task[None] | None = None
        state.subscribe(self.on_event)

    def start(self) -> None:
        if self.state.shared:
            self._task = asyncio.get_running_loop().create_task(self._watch())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def new_openings(self) -> list[dict[str, Any]]:
        """Pairs whose circuit is open now, ending later than any opening already known or applied;
        and pairs of a known opening that have closed again (their probe succeeded here)."""
        now = time.time() * 1000
        out = []
        for s in self.scorer.all_stats():
            pair = (s["model"], s["provider"])
            known = self.known_until.get(pair)
            if s["circuit"] == "closed" and known is not None and known <= now:
                del self.known_until[pair]
                out.append({"type": "circuit", "model": pair[0], "provider": pair[1], "state": "closed"})
            if s["circuit"] != "open":
                continue
            until = now + float(s["cooldown_remaining_ms"])
            if until > (known or 0.0) + SLACK_MS:
                self.known_until[pair] = until
                out.append({"type": "circuit", "model": pair[0], "provider": pair[1], "state": "open", "until_ms": until})
        return out

    def on_event(self, event: dict[str, Any]) -> None:
        """Another replica's ejection: open the same pair here until the same moment. Its recovery
        (the probe it took succeeded): close the pair here too."""
        if event.get("from") == self.state.replica_id:
            return
        if event.get("type") == "stats" and isinstance(event.get("pairs"), list):
            self.peers[str(event.get("from"))] = (time.time(), event["pairs"])
            return
        if event.get("type") != "circuit":
            return
        pair = (str(event.get("model")), str(event.get("provider")))
        if event.get("state") == "closed":
            self.recovered(pair)
            return
        until = float(event.get("until_ms") or 0)
        remaining = until - time.time() * 1000
        if remaining <= 0 or until <= self.known_until.get(pair, 0.0) + SLACK_MS:
            return
        self.known_until[pair] = until
        try:
            self.scorer.begin(*pair)  # record() ends an attempt: begin one so in-flight counts stay true
            self.scorer.record(pair[0], pair[1], "error", retry_after_ms=remaining)
            self.applied += 1
        except ValueError:
            log.warning("state: ejection of %s on %s announced, but this replica does not serve it", *pair)

    def snapshot(self) -> dict[str, Any]:
        """This replica's live stats per pair, compact: [model, provider, circuit, first-token ms,
        error rate, in flight]."""
        pairs = [[s["model"], s["provider"], s["circuit"], s["first_token_ms"], round(float(s["error_rate"]), 4),
                  s["in_flight"]] for s in self.scorer.all_stats()]
        return {"type": "stats", "pairs": pairs}

    def peer_view(self) -> dict[str, Any]:
        """For /health: the peers heard from lately, and the pairs any of them has ejected."""
        now = time.time()
        live = {r: pairs for r, (at, pairs) in self.peers.items() if now - at < PEER_STALE_S}
        ejected = sorted({f"{p[0]}:{p[1]}" for pairs in live.values() for p in pairs if p[2] == "open"})
        return {"peers": len(live), "ejected_by_peers": ejected}

    def recovered(self, pair: tuple[str, str]) -> None:
        self.known_until.pop(pair, None)
        try:
            if self.scorer.stats(*pair)["circuit"] != "closed":
                self.scorer.begin(*pair)
                self.scorer.record(pair[0], pair[1], "ok")
        except ValueError:
            pass

    def probe_gate(self, model: str, provider: str) -> Awaitable[bool] | None:
        """None (go ahead) unless the pair is half-open after a shared ejection; then an awaitable
        that says whether this replica won the probe. Cheap on the hot path: one dict look-up."""
        until = self.known_until.get((model, provider))
        if until is None or until > time.time() * 1000:
            return None
        return self.take_probe(model, provider)

    async def take_probe(self, model: str, provider: str) -> bool:
        """Whether this replica may send the half-open probe for a pair (True without Redis)."""
        client = self.state.client
        if client is None or not self.state.redis_up:
            return True
        lock = probe_lock(model, provider)
        try:
            if await client.set(lock, self.state.replica_id, nx=True, px=PROBE_LOCK_MS):
                return True
            holder = await client.get(lock)
        except (RedisError, OSError):
            return True  # Redis away: each replica probes for itself, as a lone gateway would
        if isinstance(holder, bytes):
            holder = holder.decode()
        return holder == self.state.replica_id

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                for event in self.new_openings():
                    if event["state"] == "closed" and self.state.client is not None:
                        with contextlib.suppress(RedisError, OSError):  # the next ejection's probe is open to all
                            await self.state.client.delete(probe_lock(event["model"], event["provider"]))
                    await self.state.publish(event)
                    self.announced += 1
                if time.time() - self._last_snapshot >= SNAPSHOT_EVERY_S and self.state.redis_up:
                    self._last_snapshot = time.time()
                    await self.state.publish(self.snapshot())
            except Exception:  # noqa: BLE001 - the watch must outlive one bad pass
                log.exception("state: circuit watch failed")
