"""The answer cache in the pipeline: whether a call uses it, the lookup, a hit's accounting and replay,
and filling it from a finished answer. A hit costs nothing upstream: no route is tried and the scorer
hears nothing; the outcome records `cache: "hit"` and what the answer cost first (`cost_saved_usd`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from proxy.cache import AnswerStore, CachedAnswer, cache_key
from proxy.cache.answer import CACHEABLE_FINISH, stream_answer_bytes
from proxy.call import ChatCall
from proxy.catalog import Catalog, Route
from proxy.config import CacheConfig
from proxy.outcome import Outcome

CACHE_HEADER = "x-switchyard-cache"
Write = Callable[[bytes], Awaitable[None]]


class Renderer(Protocol):  # the part of a front end's StreamRenderer a replay uses
    def encode(self, chunks: list[dict[str, Any]]) -> bytes: ...

    def closing(self, usage: dict[str, Any], first: dict[str, Any] | None) -> bytes: ...


@dataclass(frozen=True, slots=True)
class AnswerCache:
    store: AnswerStore
    config: CacheConfig


@dataclass(frozen=True, slots=True)
class CacheUse:
    """One request's use of the cache: its key, whether it may read (not on `refresh`), the entry's TTL."""

    key: str
    read: bool
    ttl_s: float


def cache_use(call: ChatCall, cache: AnswerCache | None) -> CacheUse | None:
    """None when the request does not use the cache (config off and not asked, or `skip`)."""
    if cache is None:
        return None
    ask = call.cache
    if ask is None:
        if not cache.config.enabled:
            return None
        mode, ttl = "use", None
    else:
        mode, ttl = ask.mode, ask.ttl_s
    if mode == "skip":
        return None
    shared = cache.config.namespace
    namespace = f"shared:{shared}" if shared is not None else f"tenant:{call.tenant}"
    return CacheUse(cache_key(call, namespace), mode == "use", ttl if ttl is not None else cache.config.ttl_s)


CacheHit = tuple[CachedAnswer, Route, dict[str, str]]  # the answer, its route, the answer's notes


async def consult(use: CacheUse, cache: AnswerCache | None, catalog: Catalog, outcome: Outcome) -> CacheHit | None:
    """On a hit, the stored answer with its route and notes, already accounted on the outcome. Awaited only
    when the request uses the cache (`cache_use`), so a request without it pays no coroutine."""
    found = await lookup(cache, use, catalog) if cache is not None else None
    if found is None:
        return None
    answer, route = found
    notes: dict[str, str] = {}
    account_hit(outcome, answer, notes)
    return answer, route, notes


async def lookup(cache: AnswerCache, use: CacheUse, catalog: Catalog) -> tuple[CachedAnswer, Route] | None:
    """A stored answer whose model is still served (its route carries the catalogue's prices and names)."""
    if not use.read:
        return None
    raw = await cache.store.get(use.key)
    if raw is None:
        return None
    answer = CachedAnswer.from_bytes(raw)
    entry = catalog.models.get(answer.model)
    if entry is None or not entry.routes:
        return None
    route = entry.routes.get(answer.provider) or next(iter(entry.routes.values()))
    return answer, route


def account_hit(outcome: Outcome, answer: CachedAnswer, notes: dict[str, str]) -> None:
    outcome.cache = "hit"
    outcome.model, outcome.provider = answer.model, answer.provider
    outcome.usage = {**answer.usage, "cost_usd": 0.0}
    outcome.cost_saved_usd = answer.cost_usd
    outcome.finish_reason = answer.finish_reason
    notes.update({CACHE_HEADER: "hit", "x-switchyard-provider": answer.provider, "x-switchyard-model": answer.model,
                  "x-switchyard-attempts": "0"})


async def fill_completion(cache: AnswerCache, use: CacheUse, data: dict[str, Any], route: Route,
                          finish_reason: str | None) -> None:
    if finish_reason not in CACHEABLE_FINISH:
        return
    answer = CachedAnswer(route.model, route.provider, data["usage"], finish_reason, completion=data)
    await cache.store.put(use.key, answer.to_bytes(), use.ttl_s)


async def fill_stream(cache: AnswerCache, use: CacheUse, batches: list[bytes], route: Route, usage: dict[str, Any],
                      finish_reason: str | None) -> None:
    if finish_reason not in CACHEABLE_FINISH or not batches:
        return
    value = stream_answer_bytes(route.model, route.provider, usage, finish_reason, batches)
    await cache.store.put(use.key, value, use.ttl_s)


@dataclass(slots=True)
class ReplayStream:
    """A stream answered from the cache: the stored chunks, in their batches, without the delays."""

    answer: CachedAnswer
    route: Route
    notes: dict[str, str]


async def replay(stream: ReplayStream, renderer: Renderer, start: Callable[[], Awaitable[Any]], write: Write,
                 outcome: Outcome) -> None:
    """Send the stored stream through the front end's renderer (so in the client's API format)."""
    status = "cancelled"
    try:
        await start()
        batches = stream.answer.as_batches()
        for i, batch in enumerate(batches):
            await write(renderer.encode(batch))
            if i == 0:
                outcome.ttft_ms = round(outcome.elapsed_ms(), 3)
        first = batches[0][0] if batches and batches[0] else None
        await write(renderer.closing(stream.answer.usage, first))
        status = "ok"
    except ConnectionError:
        pass  # the client left: recorded as cancelled
    finally:
        outcome.finish("ok" if status == "ok" else "cancelled", 200)
