"""The answer store shared by replicas: Redis, entries under one prefix with Redis's own expiry.

A cache that is down or slow never stops an answer: a failed read is a miss and a failed write is
dropped, each logged once per outage (the next success re-arms the log line).
"""

from __future__ import annotations

import logging

import redis.asyncio as redis
from redis.exceptions import RedisError

log = logging.getLogger("switchyard")
PREFIX = "switchyard:cache:"


class RedisStore:
    def __init__(self, client: redis.Redis, prefix: str = PREFIX) -> None:
        self.client = client
        self.prefix = prefix
        self.failing = False

    @classmethod
    def from_url(cls, url: str, timeout_s: float = 0.25) -> RedisStore:
        """A store on its own connection pool; short timeouts, since a miss is cheaper than a wait."""
        return cls(redis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s))

    async def get(self, key: str) -> bytes | None:
        try:
            value = await self.client.get(self.prefix + key)
        except (RedisError, OSError) as exc:
            self._failed("read", exc)
            return None
        self.failing = False
        return value.encode() if isinstance(value, str) else value  # bytes unless decode_responses is on

    async def put(self, key: str, value: bytes, ttl_s: float) -> None:
        try:
            await self.client.set(self.prefix + key, value, px=max(1, int(ttl_s * 1000)))
        except (RedisError, OSError) as exc:
            self._failed("write", exc)
            return
        self.failing = False

    async def close(self) -> None:
        await self.client.aclose()

    def _failed(self, what: str, exc: BaseException) -> None:
        if not self.failing:
            self.failing = True
            log.warning("answer cache: Redis %s failed (%s); answering without the cache until it is back",
                        what, type(exc).__name__)
