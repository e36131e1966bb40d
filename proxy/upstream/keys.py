"""A provider's several API keys on the wire: each attempt takes the next key with room under its caps.

Providers configured with `api_keys` get a KeyRing (proxy.upstream.keyring); the rest go straight through
with their route's one target. When every key of a provider is capped or cooling, the attempt fails
at once as a retriable 429 carrying when a key frees up, so the fallback loop moves on and the
scorer rests the provider until then, instead of sending a request bound to be refused. A 429 from
the provider cools the key that got it; the provider itself is rested only when no other key of it
has room.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import Any, TypeVar

from proxy.catalog import AdapterTarget, Route
from proxy.config import Settings
from proxy.errors import UpstreamError
from proxy.upstream.keyring import KeyRing, UpstreamKey

T = TypeVar("T")
DEFAULT_OUTPUT_TOKENS = 256  # a request's output estimate for TPM caps when it sets no max_tokens


def estimate_tokens(body: Mapping[str, Any]) -> int:
    """Prompt characters / 4 plus max_tokens: what a request counts against a key's TPM cap."""
    chars = 0
    for message in body.get("messages") or ():
        content = message.get("content") if isinstance(message, Mapping) else None
        if isinstance(content, str):
            chars += len(content)
        elif isinstance(content, list):
            chars += sum(len(p.get("text") or "") for p in content if isinstance(p, Mapping))
    out = body.get("max_completion_tokens") or body.get("max_tokens") or DEFAULT_OUTPUT_TOKENS
    return chars // 4 + (out if isinstance(out, int) else DEFAULT_OUTPUT_TOKENS)


class UpstreamKeys:
    def __init__(self, rings: Mapping[str, KeyRing]) -> None:
        self.rings = dict(rings)
        self._targets: dict[tuple[str, str, int], AdapterTarget] = {}

    def target(self, route: Route, index: int, secret: str) -> AdapterTarget:
        found = self._targets.get((route.model, route.provider, index))
        if found is None:  # built once per (route, key): the adapter caches its auth headers in it
            found = replace(route.target, api_key=secret, prepared={})
            self._targets[(route.model, route.provider, index)] = found
        return found

    async def call(self, route: Route, body: Mapping[str, Any], run: Callable[[AdapterTarget], Awaitable[T]]) -> T:
        ring = self.rings[route.provider]
        now = time.monotonic()
        picked = ring.pick(now, estimate_tokens(body))
        if picked is None:
            wait = ring.retry_after_s(now)
            raise UpstreamError(429, f"Every API key of provider '{route.provider}' is at its rpm/tpm cap or resting "
                                     f"after a 429; one frees up in {wait:.1f} s.",
                                type="rate_limit_error", code="upstream_keys_capped", retriable=True,
                                retry_after_s=max(wait, 0.001))
        index, secret = picked
        try:
            return await run(self.target(route, index, secret))
        except UpstreamError as exc:
            if exc.status == 429:
                ring.cool(index, time.monotonic(), exc.retry_after_s)
                if ring.retry_after_s(time.monotonic()) == 0:
                    exc.retry_after_s = None  # another key has room: do not rest the whole provider
            raise


def build_upstream_keys(settings: Settings, environ: Mapping[str, str], window_s: float = 60.0) -> UpstreamKeys:
    """Rings for the providers that list `api_keys` (keys whose variable is unset are left out)."""
    rings = {}
    for slug, provider in settings.providers.items():
        keys = [UpstreamKey(environ[k.env], k.rpm, k.tpm) for k in provider.api_keys if environ.get(k.env)]
        if keys:
            rings[slug] = KeyRing(keys, window_s)
    return UpstreamKeys(rings)
