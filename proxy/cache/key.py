"""The cache key: a digest of the canonical form of everything in a ChatCall that determines its answer.

Computed from the internal (OpenAI-shaped) body, so a hit can cross APIs. Everything in the body
counts (model or `auto` with its routing config, the provider pin, messages with system and
instructions, tools, tool_choice, response_format, sampling, penalties, n, max tokens, stop,
reasoning and thinking settings, and any field we do not know, which may change the answer), except
what cannot: `stream` and its options, `user`, `metadata` (tags) and the gateway's own `switchyard`
settings. Scoped by tenant: another key's requests hash to other entries.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from proxy.call import ChatCall

# Fields that change how the answer is delivered or labelled, never what it says.
NOT_IN_KEY = frozenset({"stream", "stream_options", "user", "metadata", "switchyard", "store", "service_tier"})
KEY_VERSION = b"switchyard-cache-v1"


def canonical_request(call: ChatCall) -> bytes:
    """The call's answer-determining fields as canonical JSON (sorted keys, no whitespace)."""
    body: dict[str, Any] = {k: v for k, v in call.body.items() if k not in NOT_IN_KEY}
    if call.auto is not None:  # the strategy header also steers `auto`
        body["model_routing_config"] = {"pool": call.auto.pool, "preference": call.auto.preference}
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)


def cache_key(call: ChatCall, namespace: str) -> str:
    """`namespace` is the tenant (a digest of the caller's key), or the config's shared namespace."""
    digest = hashlib.sha256(KEY_VERSION)
    digest.update(namespace.encode())
    digest.update(b"\0")
    digest.update(canonical_request(call))
    return digest.hexdigest()
