"""Every replica's view of the virtual keys, kept current from the store.

The whole key table is small, so each replica holds it in memory: the hot path's lookup is one dict
get on the secret's SHA-256 (the secret itself is never kept). Changes reach every replica two ways:
a poll of the store every `state.key_sync_ms` (rows whose `updated_at` moved; this also works with
`--workers N` and no Redis), and a pub/sub event from the replica that made the change, which makes
that replica's peers re-read the key at once. A revocation thus lands everywhere well within 1 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import Callable
from typing import Any

from proxy.auth import Identity
from proxy.state.rules import KeyLimits
from proxy.store.base import LogBackend, StoreUnavailable
from proxy.store.keys import KeyRecord

log = logging.getLogger("switchyard")

# Re-read this far behind the newest change seen: replicas' clocks (which stamp updated_at) may differ.
CLOCK_SLACK_MS = 2_000


def secret_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def limits_of(rec: KeyRecord) -> KeyLimits:
    return KeyLimits(rec.rpm, rec.tpm, rec.max_parallel, rec.budget_nusd, rec.budget_period)  # type: ignore[arg-type]


class KeyRegistry:
    def __init__(self, sync_ms: float = 500.0) -> None:
        self.sync_s = sync_ms / 1000
        self.backend: LogBackend | None = None
        self.by_id: dict[str, KeyRecord] = {}
        self.by_digest: dict[str, KeyRecord] = {}
        self.limits: dict[str, KeyLimits] = {}
        self.identities: dict[str, Identity] = {}  # by id: built when a key changes, not per request
        self.watermark = 0
        self.on_spend: Callable[[KeyRecord], None] | None = None  # the durable spend, for in-process limits
        self._task: asyncio.Task[None] | None = None

    @property
    def any(self) -> bool:
        """Whether a virtual key was ever issued: from then on the gateway requires a key."""
        return bool(self.by_id)

    def identify(self, secret: str) -> KeyRecord | None:
        """The live key for a presented secret: None when unknown, revoked or expired."""
        return self._live(secret_digest(secret))

    def _live(self, hex_digest: str) -> KeyRecord | None:
        """The key with this digest if it may be used now: None when unknown, revoked or expired."""
        rec = self.by_digest.get(hex_digest)
        if rec is None or rec.revoked or (rec.expires_at is not None and rec.expires_at <= time.time() * 1000):
            return None
        return rec

    def identity(self, secret: str) -> Identity | None:
        rec = self.identify(secret)
        return None if rec is None else self.identities[rec.id]

    def digest_of_id(self, key_id: str) -> bytes | None:
        """The SHA-256 digest of the key with this id, live or not: what a console session is checked against."""
        rec = self.by_id.get(key_id)
        return None if rec is None else bytes.fromhex(rec.secret_hash)

    def identity_of_digest(self, digest: bytes) -> Identity | None:
        """The live key behind a console session's digest; None once it is revoked or expired."""
        rec = self._live(digest.hex())
        return None if rec is None else self.identities[rec.id]

    def apply(self, rec: KeyRecord) -> None:
        known = self.by_id.get(rec.id)
        if known is not None and known.updated_at > rec.updated_at:
            return  # an older read racing a newer one
        self.by_id[rec.id] = rec
        self.limits[rec.id] = limits_of(rec)
        self.identities[rec.id] = Identity(rec.name, False, rec.id)
        if rec.revoked:
            self.by_digest.pop(rec.secret_hash, None)
        else:
            self.by_digest[rec.secret_hash] = rec
        self.watermark = max(self.watermark, rec.updated_at)
        if self.on_spend is not None:
            self.on_spend(rec)

    async def start(self, backend: LogBackend) -> None:
        self.backend = backend
        with contextlib.suppress(StoreUnavailable):
            await self.sync()
        self._task = asyncio.get_running_loop().create_task(self._poll())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def sync(self) -> None:
        if self.backend is None:
            return
        since = self.watermark - CLOCK_SLACK_MS if self.watermark else 0
        for rec in await self.backend.keys_changed_since(since):
            self.apply(rec)

    async def reload(self, key_id: str) -> None:
        if self.backend is None:
            return
        try:
            rec = await self.backend.get_key(key_id)
        except StoreUnavailable:
            return  # the poll will catch up
        if rec is not None:
            self.apply(rec)

    def on_event(self, event: dict[str, Any]) -> None:
        """A pub/sub event from any replica: re-read a changed key now rather than at the next poll."""
        if event.get("type") == "key" and isinstance(event.get("id"), str):
            if event.get("revoked") and event["id"] in self.by_id:  # refuse at once, before the re-read
                rec = self.by_id[event["id"]]
                self.by_digest.pop(rec.secret_hash, None)
            asyncio.get_running_loop().create_task(self.reload(event["id"]))

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.sync_s)
            try:
                await self.sync()
            except StoreUnavailable:
                pass  # the database is away: keep the last view; the log reports the outage
            except Exception:  # noqa: BLE001 - the poll must outlive a bug in one pass
                log.exception("keys: sync failed")
