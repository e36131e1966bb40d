"""A virtual key's limits at the door of a front end (chat, messages, responses, embeddings): what each
calls once its request is parsed, before the pipeline runs.

A key's `cache` setting becomes the request's cache ask when the request made none of its own
(precedence: request > key > config).

It passes the call through the key's gate (allow-list, rate limits, budget reservation), narrows
`auto`'s pool to the allowed models, and hooks the settlement onto the request's outcome, so the true
cost (failed attempts included) replaces the reservation whenever and however the answer ends. A
refusal is a GatewayError the front end renders in its own shape, with its own rate-limit headers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any, Literal

from aiohttp import web

from proxy.api.frontend import ChatArrival, identity_of
from proxy.appkeys import KEYS
from proxy.call import CacheAsk
from proxy.errors import GatewayError
from proxy.keys.enforce import Admission, Enforcer
from proxy.keys.gate import KeyGate, KeyPass
from proxy.outcome import Outcome
from proxy.pipeline import fail
from proxy.providers.embeddings import estimated_tokens
from proxy.store.keys import KeyCache, KeyRecord


def max_tokens_of(body: dict[str, Any]) -> int | None:
    value = body.get("max_completion_tokens", body.get("max_tokens"))
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def has_virtual_key(request: web.Request) -> bool:
    """Whether the caller came with a virtual key: a front end awaits `enter_key_limits` only then, so a
    caller without one (keys off, the admin key) pays no coroutine for the {} it would return."""
    return identity_of(request).key_id is not None


async def enter_key_limits(request: web.Request, arrival: ChatArrival, api: Literal["openai", "anthropic"]) -> dict[str, str]:
    """The rate-limit headers for the answer ({} for a caller without a virtual key). Raises the
    gate's 403/400/429/503, with the outcome finished."""
    call = arrival.call

    def enter(gate: KeyGate, key: KeyRecord) -> Awaitable[KeyPass]:
        return gate.enter(key, model=call.model, auto_pool=call.auto.pool if call.auto is not None else None,
                          messages=call.messages, max_tokens=max_tokens_of(call.body), ticket=call.request_id, api=api)

    passed = await through_gate(request, arrival.outcome, enter)
    if passed is None:
        return {}
    if passed.auto_pool is not None and call.auto is not None:
        arrival.call = call._replace(auto=replace(call.auto, pool=passed.auto_pool))
    if passed.cache is not None and arrival.call.cache is None:  # the request's own cache ask wins over its key's
        arrival.call = arrival.call._replace(cache=key_cache_ask(passed.cache))
    return passed.headers


async def enter_embedding_limits(request: web.Request, body: dict[str, Any], outcome: Outcome) -> dict[str, str]:
    """The same door for /v1/embeddings (a checked body): the allow-list over the embedding models, the
    rate limits and the budget, with the prompt's tokens reserved and no output."""
    texts = [body["input"]] if isinstance(body["input"], str) else body["input"]
    prompt_tokens = estimated_tokens([t if isinstance(t, str) else "    " * len(t) for t in texts])

    def enter(gate: KeyGate, key: KeyRecord) -> Awaitable[KeyPass]:
        return gate.enter_embeddings(key, model=body["model"], prompt_tokens=prompt_tokens, ticket=outcome.request_id)

    passed = await through_gate(request, outcome, enter)
    return {} if passed is None else passed.headers


async def through_gate(request: web.Request, outcome: Outcome,
                       enter: Callable[[KeyGate, KeyRecord], Awaitable[KeyPass]]) -> KeyPass | None:
    """The caller's key through its gate (None without a virtual key), the settlement hooked onto the
    outcome; a refusal finishes the outcome and is raised for the front end to render."""
    identity = identity_of(request)
    if identity.key_id is None:
        return None
    service = request.app[KEYS]
    key = service.registry.by_id.get(identity.key_id)
    try:
        if key is None or service.gate is None:
            raise GatewayError(503, "The gateway is still loading its keys; retry shortly.", code="keys_loading")
        passed = await enter(service.gate, key)
    except BaseException as exc:
        fail(outcome, exc)
        raise
    if passed.admission is not None:
        outcome.hooks = (*outcome.hooks, settlement(passed.admission, service.enforcer))
    return passed


def key_cache_ask(cache: KeyCache) -> CacheAsk:
    """A key's cache setting as the request-level ask it stands in for."""
    return CacheAsk("use", cache.ttl_s) if cache.enabled else CacheAsk("skip")


def settlement(adm: Admission, enforcer: Enforcer) -> Any:
    """An on_finish hook: settle the key's reservation to what the request truly cost."""

    def settle(outcome: Outcome) -> None:
        usage = outcome.usage or {}
        # every attempt carries its own cost (failed ones included); the answer's usage is the last one's
        attempts = sum(a.cost_usd or 0.0 for a in outcome.attempts)
        cost = max(attempts, float(usage.get("cost_usd") or 0.0))
        enforcer.settle_soon(adm, int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0), cost)

    return settle
