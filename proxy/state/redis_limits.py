"""The Redis back end: every admission is one atomic Lua call, so N replicas share exact limits.

Why a round trip per request rather than a leased local slice: a lease lets each replica admit from
its own slice without asking, but a slice one replica holds is one another cannot use, so a strict
RPM of 20 over two replicas admits 10 on each (a client pinned to one replica gets half its limit),
or leases must be small and renewed so often that they cost the round trip they were meant to save.
An admission is one EVALSHA: one round trip (the script itself runs in ~44 µs inside Redis; see
bench/limits_bench.py), far below any upstream call, and "no window admits more than rpm" stays exact
across replicas. Under load, admissions that arrive while one is on the wire leave together
(`proxy.state.coalesce`): one script call per key admits the whole batch in order, so the event loop
pays one round trip per batch rather than per request. Settlements go after the answer, batched the
same way. Keys without limits never touch Redis.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from proxy.state import lua
from proxy.state.backend import Decision, Demand, RefusedBy, Settlement, StateUnavailable

PREFIX = "sy"
NONE = -1  # "no limit" in the scripts' arguments
SPENT_TTL_S = 40 * 24 * 3600  # longer than any period; a lost counter is re-seeded from the store


def key_names(key_id: str, period_id: int) -> list[str]:
    """One key per structure; the `{key_id}` hash tag keeps a key's structures on one Redis Cluster slot."""
    base = f"{PREFIX}:{{{key_id}}}"
    return [f"{base}:rq", f"{base}:tk", f"{base}:tkv", f"{base}:par", f"{base}:res", f"{base}:resv",
            f"{base}:spent:{period_id}", f"{base}:tksum", f"{base}:ressum"]


def _limit(value: int | None) -> int:
    return NONE if value is None else value


def _decisions(out: list[Any]) -> list[Decision]:
    """The script's 8 values a request, as Decisions."""
    decisions = []
    for i in range(0, len(out), 8):
        refused = out[i].decode() if isinstance(out[i], bytes) else str(out[i])
        retry = float(out[i + 1])
        by: RefusedBy | None = refused or None  # type: ignore[assignment]
        decisions.append(Decision(
            admitted=by is None, refused_by=by, retry_after_s=retry if retry >= 0 else None,
            requests_in_window=int(out[i + 2]), tokens_in_window=int(out[i + 3]), requests_reset_s=float(out[i + 4]),
            tokens_reset_s=float(out[i + 5]), spent_nusd=int(out[i + 6]), reserved_nusd=int(out[i + 7]),
        ))
    return decisions


def _admit_group(demand: Demand) -> tuple[Any, ...]:
    """Demands that may share one script call: the same key, period, limits and lease (a PATCH between
    two requests of a batch splits it)."""
    return demand.key_id, demand.period_id, demand.limits, demand.spent_seed_nusd, demand.lease_s, demand.window_s


def _grouped(items: list[Any], key: Callable[[Any], Any]) -> list[list[int]]:
    """Indices of `items` grouped by `key`, each group in arrival order."""
    groups: dict[Any, list[int]] = {}
    for i, item in enumerate(items):
        groups.setdefault(key(item), []).append(i)
    return list(groups.values())


class RedisLimits:
    name = "redis"

    def __init__(self, client: Redis) -> None:
        self.client = client
        self._admit = client.register_script(lua.ADMIT)
        self._settle = client.register_script(lua.SETTLE)

    async def admit(self, demand: Demand, now: float) -> Decision:
        """`now` < 0 takes the Redis server's clock (what replicas use); tests pass their own."""
        return (await self.admit_many([demand], now))[0]

    def _admit_call(self, demands: list[Demand], now: float) -> tuple[list[str], list[str | int | float]]:
        first = demands[0]
        lim = first.limits
        args: list[str | int | float] = [now, first.window_s, first.lease_s, first.spent_seed_nusd, _limit(lim.rpm),
                                         _limit(lim.tpm), _limit(lim.max_parallel), _limit(lim.budget_nusd), SPENT_TTL_S]
        for d in demands:
            args += (d.ticket, d.tokens, d.cost_nusd)
        return key_names(first.key_id, first.period_id), args

    async def admit_many(self, demands: list[Demand], now: float = -1.0) -> list[Decision]:
        """Admit a batch in one round trip, one script call per key (each request in arrival order, as if
        it came alone); the decisions in the demands' order."""
        groups = _grouped(demands, _admit_group)
        try:
            if len(groups) == 1:
                keys, args = self._admit_call(demands, now)
                return _decisions(await self._admit(keys=keys, args=args))
            async with self.client.pipeline(transaction=False) as pipe:
                for group in groups:
                    keys, args = self._admit_call([demands[i] for i in group], now)
                    await self._admit(keys=keys, args=args, client=pipe)
                replies = await pipe.execute()
        except (RedisError, OSError) as exc:
            raise StateUnavailable(f"redis: {type(exc).__name__}") from exc
        out: list[Decision | None] = [None] * len(demands)
        for group, reply in zip(groups, replies, strict=True):
            for i, decision in zip(group, _decisions(reply), strict=True):
                out[i] = decision
        return [d for d in out if d is not None]

    async def settle(self, done: Settlement, now: float) -> None:
        await self.settle_many([done])

    async def settle_many(self, batch: list[Settlement]) -> None:
        """Several settlements in one round trip: one script call per key and period (each settlement
        is applied as if alone; no transaction across keys)."""
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                for group in _grouped(batch, lambda done: (done.key_id, done.period_id)):
                    names = key_names(batch[group[0]].key_id, batch[group[0]].period_id)
                    args: list[str | int] = []
                    for i in group:
                        args += (batch[i].ticket, batch[i].tokens, batch[i].cost_nusd)
                    await self._settle(keys=[names[2], names[3], names[4], names[5], names[6], names[7], names[8]],
                                       args=args, client=pipe)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            raise StateUnavailable(f"redis: {type(exc).__name__}") from exc

    async def spent(self, key_id: str, period_id: int) -> int | None:
        try:
            raw = await self.client.get(key_names(key_id, period_id)[6])
        except (RedisError, OSError) as exc:
            raise StateUnavailable(f"redis: {type(exc).__name__}") from exc
        return None if raw is None else int(raw)

    async def forget_spent(self) -> int:
        """After an outage: drop every spend counter, so each is re-seeded from the store, which kept
        counting while Redis was away."""
        dropped = 0
        async for name in self.client.scan_iter(match=f"{PREFIX}:*:spent:*", count=500):
            dropped += await self.client.delete(name)
        return dropped
