"""One process's view of the shared live state: which limits back end answers, and what to do when
Redis is away.

- No `state.redis_url`: in-process limits. With `--workers N` each worker enforces limit ÷ N (they
  cannot see each other's counters), so N workers together never exceed the limit.
- Redis up: every admission is one atomic call in Redis (see redis_limits.py for why not a lease).
- Redis down, `on_redis_down: local`: in-process limits at limit ÷ (replicas known from the last
  heartbeats), so the replicas together still never exceed the limit; `/health` and the
  `switchyard_limits_divisor` metric say so. `closed`: a limited key's request gets a 503.
- Redis back: a probe every `sync_interval_ms` notices, and Redis answers again (no restart). Spend
  counters are dropped then so they are re-seeded from the store, which kept counting meanwhile.

Events (key changes, circuit transitions) go over one pub/sub channel; subscribers get dicts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from proxy.config import StateConfig
from proxy.state.backend import Decision, Demand, Settlement, StateUnavailable
from proxy.state.coalesce import Coalescer
from proxy.state.local import LocalLimits
from proxy.state.redis_limits import RedisLimits

log = logging.getLogger("switchyard")

CHANNEL = "sy:events"
REPLICAS_KEY = "sy:replicas"
HEARTBEAT_EVERY_S = 1.0
REPLICA_TTL_S = 5.0  # a replica silent this long is no longer counted
MAX_UNSENT = 100_000  # settlements kept while Redis is away (the oldest go first beyond this)
REDIS_TIMEOUT_S = 0.5  # a Redis slower than this is treated as down: limits must not stall answers
EventHandler = Callable[[dict[str, Any]], None]


class SharedState:
    def __init__(self, cfg: StateConfig, workers: int = 1, replica_id: str | None = None) -> None:
        self.cfg = cfg
        self.workers = max(workers, 1)
        self.replica_id = replica_id or uuid.uuid4().hex[:12]
        self.local = LocalLimits()
        self.client: Redis | None = None
        self.redis: RedisLimits | None = None
        self.admissions: Coalescer[Demand, Decision] | None = None  # Redis admissions, batched under load
        self.redis_up = False
        self.known_replicas = self.workers  # until a heartbeat counts them
        self.handlers: list[EventHandler] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._last_heartbeat = 0.0
        self._settles: list[Settlement] = []
        self._unsent: list[Settlement] = []
        self._settling: asyncio.Task[None] | None = None

    @property
    def shared(self) -> bool:
        return self.cfg.redis_url is not None

    # -- lifecycle ---------------------------------------------------------------------------------
    async def start(self) -> None:
        if self.cfg.redis_url is None:
            return
        self.client = Redis.from_url(self.cfg.redis_url.get_secret_value(), socket_timeout=REDIS_TIMEOUT_S,
                                     socket_connect_timeout=REDIS_TIMEOUT_S)
        self.redis = RedisLimits(self.client)
        self.admissions = Coalescer(self._admit_batch, self._give_back)
        await self._probe()
        if not self.redis_up:
            log.warning("state: Redis is not reachable at start-up; limits run %s until it is", self.mode_words())
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._keep_in_touch()), loop.create_task(self._listen())]

    async def close(self) -> None:
        if self._settles:
            self._start_settling()
        if self._settling is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._settling
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.client is not None:
            with contextlib.suppress(RedisError, OSError):
                await self.client.zrem(REPLICAS_KEY, self.replica_id)
            await self.client.aclose()

    # -- limits ------------------------------------------------------------------------------------
    @property
    def divisor(self) -> int:
        """What each limit is divided by on this process right now (1: the full limit, shared exactly)."""
        if not self.shared:
            return self.workers
        if self.redis_up:
            return 1
        return max(self.known_replicas, self.workers)

    def backend_name(self) -> str:
        return "redis" if self.shared and self.redis_up else "local"

    async def admit(self, demand: Demand) -> tuple[Decision, str]:
        """The decision and the name of the back end that made it (settle goes to the same one).
        Raises StateUnavailable when Redis is down and the mode is `closed`."""
        if self.admissions is not None and self.redis_up:
            try:
                return await self.admissions.call(demand), "redis"
            except StateUnavailable:
                self._went_down()
        if self.shared and self.cfg.on_redis_down == "closed":
            raise StateUnavailable("redis is down and state.on_redis_down is closed")
        divisor = self.divisor
        local = demand if divisor == 1 else replace(demand, limits=demand.limits.shared(divisor))
        return self.local.admit_now(local, time.time()), "local"

    async def _admit_batch(self, demands: list[Demand]) -> list[Decision]:
        """A batch of admissions, with the settlements made since the last one: one round trip for both."""
        assert self.redis is not None and self.admissions is not None
        settles, self._settles = self._settles, []
        try:
            return await self.redis.admit_many(demands, settles)
        except StateUnavailable:
            self._keep_unsent(settles)
            raise
        finally:
            if self._settles and not self.admissions.waiting:  # no batch follows to take them
                self._start_settling()

    def _give_back(self, demand: Demand, decision: Decision) -> None:
        """An admission whose request was cancelled while it was on the wire: free its slot and
        reservation now (it reached no upstream, so it cost nothing) rather than when its lease ends."""
        if decision.admitted:  # called as its batch ends: nothing would take it along, so it leaves alone
            self._settles.append(Settlement(demand.key_id, demand.ticket, 0, 0, demand.period_id))
            self._start_settling()

    async def settle(self, done: Settlement, backend: str) -> None:
        """Settlements to Redis leave in batches: with the next batch of admissions when one is on the
        wire, else on their own, every one made meanwhile in the next (they are off the answer's path,
        so only their cost matters)."""
        if backend == "redis" and self.redis is not None:
            self._queue_settlements([done])
            return
        self.local.settle_now(done)

    async def _send_settlements(self) -> None:
        assert self.redis is not None
        try:
            while self._settles:
                batch, self._settles = self._settles, []
                try:
                    await self.redis.settle_many(batch)
                except StateUnavailable:
                    self._went_down()
                    self._keep_unsent(batch)
        finally:
            self._settling = None

    def _keep_unsent(self, batch: list[Settlement]) -> None:
        """Kept for when Redis returns: their slots and reservations are freed then, rather than
        blocking the key until their leases run out (the store has the spend meanwhile)."""
        self._unsent = (self._unsent + batch)[-MAX_UNSENT:]

    def _resend_unsent(self) -> None:
        if self._unsent and self.redis_up:
            unsent, self._unsent = self._unsent, []
            self._queue_settlements(unsent)

    def _queue_settlements(self, settlements: list[Settlement]) -> None:
        self._settles.extend(settlements)
        if self.admissions is None or not self.admissions.busy:  # else they ride with the next admissions
            self._start_settling()

    def _start_settling(self) -> None:
        if self._settling is None:
            self._settling = asyncio.get_running_loop().create_task(self._send_settlements())

    def sync_spent(self, key_id: str, period_id: int, durable_nusd: int) -> None:
        self.local.sync_spent(key_id, period_id, durable_nusd)

    # -- events ------------------------------------------------------------------------------------
    def subscribe(self, handler: EventHandler) -> None:
        self.handlers.append(handler)

    async def publish(self, event: dict[str, Any]) -> bool:
        """To every replica (this one included, through its own subscription); False without Redis."""
        event = {**event, "from": self.replica_id}
        if self.client is None or not self.redis_up:
            self._dispatch(event)
            return False
        try:
            await self.client.publish(CHANNEL, orjson.dumps(event))
            return True
        except (RedisError, OSError):
            self._went_down()
            self._dispatch(event)
            return False

    def _dispatch(self, event: dict[str, Any]) -> None:
        for handler in self.handlers:
            try:
                handler(event)
            except Exception:  # noqa: BLE001 - one subscriber's bug must not stop the others
                log.exception("state: event handler failed on %s", event.get("type"))

    async def _listen(self) -> None:
        assert self.client is not None
        while True:
            try:
                pubsub = self.client.pubsub(ignore_subscribe_messages=True)
                await pubsub.subscribe(CHANNEL)
                try:
                    while True:
                        msg = await pubsub.get_message(timeout=0.25)
                        if msg is not None and msg.get("type") == "message":
                            self._dispatch(orjson.loads(msg["data"]))
                finally:
                    with contextlib.suppress(RedisError, OSError):
                        await pubsub.aclose()
            except (RedisError, OSError, orjson.JSONDecodeError):
                await asyncio.sleep(self.cfg.sync_interval_ms / 1000)

    # -- Redis's health ----------------------------------------------------------------------------
    def _went_down(self) -> None:
        if self.redis_up:
            self.redis_up = False
            log.warning("state: lost Redis; limits now run %s", self.mode_words())

    def mode_words(self) -> str:
        if self.cfg.on_redis_down == "closed":
            return "closed (requests from limited keys get a 503)"
        return f"locally at 1/{self.divisor} of each limit per replica"

    async def _probe(self) -> None:
        assert self.client is not None and self.redis is not None
        try:
            await self.client.ping()
            if not self.redis_up:
                await self.redis.forget_spent()
        except (RedisError, OSError):
            self._went_down()
            return
        if not self.redis_up:
            self.redis_up = True
            log.warning("state: Redis reachable; limits are shared exactly across replicas")
            self._resend_unsent()
        await self._heartbeat()

    async def _heartbeat(self) -> None:
        assert self.client is not None
        now = time.time()
        if now - self._last_heartbeat < HEARTBEAT_EVERY_S:
            return
        try:
            pipe = self.client.pipeline(transaction=True)
            pipe.zadd(REPLICAS_KEY, {self.replica_id: now})
            pipe.zremrangebyscore(REPLICAS_KEY, "-inf", now - REPLICA_TTL_S)
            pipe.zcard(REPLICAS_KEY)
            counted = (await pipe.execute())[-1]
        except (RedisError, OSError):
            self._went_down()
            return
        self._last_heartbeat = now
        self.known_replicas = max(int(counted), 1)

    async def _keep_in_touch(self) -> None:
        while True:
            await asyncio.sleep(self.cfg.sync_interval_ms / 1000)
            if self.redis_up:
                await self._heartbeat()
            else:
                await self._probe()

    def health(self) -> dict[str, Any]:
        """For /health: where limits live, and by how much each is divided on this process."""
        if not self.shared:
            note = "in-process" if self.workers == 1 else f"in-process per worker: each enforces limit / {self.workers}"
            return {"backend": "local", "redis": None, "limits_divisor": self.divisor, "note": note}
        if self.redis_up:
            return {"backend": "redis", "redis": "up", "limits_divisor": 1, "replicas": self.known_replicas,
                    "on_redis_down": self.cfg.on_redis_down}
        return {"backend": "local" if self.cfg.on_redis_down == "local" else "closed", "redis": "down",
                "limits_divisor": self.divisor, "replicas": self.known_replicas,
                "on_redis_down": self.cfg.on_redis_down, "note": "Redis is down: limits run " + self.mode_words()}
