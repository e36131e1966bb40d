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


Call = tuple[list[int], list[Demand], list[Settlement]]


def _calls(demands: list[Demand], settlements: list[Settlement]) -> list[Call]:
    """A batch split into script calls: demands grouped by key, period, limits and lease (a PATCH between
    two requests of a batch splits them), each group in arrival order; a key's settlements ride with its
    first group, or make a call of their own."""
    groups: dict[tuple[Any, ...], list[int]] = {}
    for i, d in enumerate(demands):
        groups.setdefault((d.key_id, d.period_id, d.limits, d.spent_seed_nusd, d.lease_s, d.window_s), []).append(i)
    settles: dict[tuple[str, int], list[Settlement]] = {}
    for done in settlements:
        settles.setdefault((done.key_id, done.period_id), []).append(done)
    calls: list[Call] = []
    for (key_id, period_id, *_), group in groups.items():
        calls.append((group, [demands[i] for i in group], settles.pop((key_id, period_id), [])))
    calls += [([], [], rest) for rest in settles.values()]
    return calls


def triples(items: list[Demand] | list[Settlement]) -> str:
    """A batch as the scripts read it: `ticket tokens cost` for each, space-separated (tickets are the
    gateway's own ids, never with a space)."""
    return " ".join(f"{i.ticket} {i.tokens} {i.cost_nusd}" for i in items)


class RedisLimits:
    name = "redis"

    def __init__(self, client: Redis) -> None:
        self.client = client
        self._admit = client.register_script(lua.ADMIT)
        self._settle = client.register_script(lua.SETTLE)

    async def admit(self, demand: Demand, now: float) -> Decision:
        """`now` < 0 takes the Redis server's clock (what replicas use); tests pass their own."""
        return (await self.admit_many([demand], now=now))[0]

    async def settle(self, done: Settlement, now: float) -> None:
        await self.settle_many([done])

    async def settle_many(self, batch: list[Settlement]) -> None:
        await self.admit_many([], batch)

    async def admit_many(self, demands: list[Demand], settlements: list[Settlement] | None = None,
                         now: float = -1.0) -> list[Decision]:
        """Settle, then admit, a batch in one round trip: one script call per key (and budget period),
        each applying that key's settlements and then its requests in order, as if each came alone.
        The decisions come in the demands' order."""
        calls = _calls(demands, settlements or [])
        if not calls:
            return []
        try:
            if len(calls) == 1:
                replies = [await self._run(*calls[0], now)]
            else:
                async with self.client.pipeline(transaction=False) as pipe:
                    for call in calls:
                        await self._run(*call, now, pipe)
                    replies = await pipe.execute()
        except (RedisError, OSError) as exc:
            raise StateUnavailable(f"redis: {type(exc).__name__}") from exc
        out: list[Decision | None] = [None] * len(demands)
        for (group, _, _), reply in zip(calls, replies, strict=True):
            for i, decision in zip(group, _decisions(reply) if group else [], strict=True):
                out[i] = decision
        return [d for d in out if d is not None]

    async def _run(self, group: list[int], demands: list[Demand], settles: list[Settlement], now: float,
                   client: Any = None) -> Any:
        """One script call: `demands` (at `group` in the batch) after `settles`, all of one key and period."""
        if not demands:
            return await self._settle(keys=key_names(settles[0].key_id, settles[0].period_id), args=[triples(settles)],
                                      client=client)
        first = demands[0]
        lim = first.limits
        args: list[str | int | float] = [triples(settles), now, first.window_s, first.lease_s, first.spent_seed_nusd, _limit(lim.rpm),
                _limit(lim.tpm), _limit(lim.max_parallel), _limit(lim.budget_nusd), SPENT_TTL_S, triples(demands)]
        return await self._admit(keys=key_names(first.key_id, first.period_id), args=args, client=client)

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
