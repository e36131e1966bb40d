"""The Redis back end: every admission is one atomic Lua call, so N replicas share exact limits.

Why a round trip per request rather than a leased local slice: a lease lets each replica admit from
its own slice without asking, but a slice one replica holds is one another cannot use, so a strict
RPM of 20 over two replicas admits 10 on each (a client pinned to one replica gets half its limit),
or leases must be small and renewed so often that they cost the round trip they were meant to save.
An admission is one EVALSHA: one round trip (the script itself runs in ~44 µs inside Redis; see
bench/limits_bench.py), far below any upstream call, and "no window admits more than rpm" stays exact
across replicas. Settlements go after the answer, pipelined in batches. Keys without limits never
touch Redis.
"""

from __future__ import annotations

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


class RedisLimits:
    name = "redis"

    def __init__(self, client: Redis) -> None:
        self.client = client
        self._admit = client.register_script(lua.ADMIT)
        self._settle = client.register_script(lua.SETTLE)

    async def admit(self, demand: Demand, now: float) -> Decision:
        """`now` < 0 takes the Redis server's clock (what replicas use); tests pass their own."""
        lim = demand.limits
        args: list[str | int | float] = [now, demand.window_s, demand.ticket, demand.tokens, demand.cost_nusd, demand.lease_s,
                demand.spent_seed_nusd, _limit(lim.rpm), _limit(lim.tpm), _limit(lim.max_parallel),
                _limit(lim.budget_nusd), SPENT_TTL_S]
        try:
            out: list[Any] = await self._admit(keys=key_names(demand.key_id, demand.period_id), args=args)
        except (RedisError, OSError) as exc:
            raise StateUnavailable(f"redis: {type(exc).__name__}") from exc
        refused = out[0].decode() if isinstance(out[0], bytes) else str(out[0])
        retry = float(out[1])
        by: RefusedBy | None = refused or None  # type: ignore[assignment]
        return Decision(
            admitted=by is None, refused_by=by, retry_after_s=retry if retry >= 0 else None,
            requests_in_window=int(out[2]), tokens_in_window=int(out[3]), requests_reset_s=float(out[4]),
            tokens_reset_s=float(out[5]), spent_nusd=int(out[6]), reserved_nusd=int(out[7]),
        )

    async def settle(self, done: Settlement, now: float) -> None:
        names = key_names(done.key_id, done.period_id)
        try:
            await self._settle(keys=[names[2], names[3], names[4], names[5], names[6], names[7], names[8]],
                               args=[done.ticket, done.tokens, done.cost_nusd])
        except (RedisError, OSError) as exc:
            raise StateUnavailable(f"redis: {type(exc).__name__}") from exc

    async def settle_many(self, batch: list[Settlement]) -> None:
        """Several settlements in one round trip (a pipeline of the same script, no transaction: each
        is atomic on its own)."""
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                for done in batch:
                    names = key_names(done.key_id, done.period_id)
                    await self._settle(keys=[names[2], names[3], names[4], names[5], names[6], names[7], names[8]],
                                       args=[done.ticket, done.tokens, done.cost_nusd], client=pipe)
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
