"""Issuing, changing and revoking virtual keys: durable in the store, then announced to every replica.

Each change is written and committed before the answer (the durable path), applied to this replica's
registry at once, and published so the other replicas re-read the key now instead of at their next
poll. A new key's secret (`sk-sy-` + 256 random bits) is returned once and only its digest is kept.
"""

from __future__ import annotations

import secrets
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from proxy.keys.enforce import Enforcer
from proxy.keys.gate import KeyGate
from proxy.keys.registry import KeyRegistry, secret_digest
from proxy.state import rules
from proxy.state.shared import SharedState
from proxy.store.base import LogBackend, StoreUnavailable
from proxy.store.keys import KeyRecord

SECRET_PREFIX = "sk-sy-"


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def iso_ms(ms: int | None) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def key_json(rec: KeyRecord, now: datetime | None = None) -> dict[str, Any]:
    """The key as every API shows it: never the secret, nor its digest."""
    now = now or datetime.now(UTC)
    period = rules.period_id(rec.budget_period, now)  # type: ignore[arg-type]
    spend = rec.spend_nusd if rec.spend_period == period else 0
    budget = rec.budget_nusd
    return {
        "id": rec.id, "name": rec.name, "created_at": iso_ms(rec.created_at), "expires_at": iso_ms(rec.expires_at),
        "revoked": rec.revoked,
        "budget_usd": None if budget is None else rules.nano_to_usd(budget),
        "budget_period": rec.budget_period,
        "spend_usd": rules.nano_to_usd(spend),
        "remaining_usd": None if budget is None else rules.nano_to_usd(max(budget - spend, 0)),
        "rpm": rec.rpm, "tpm": rec.tpm, "max_parallel": rec.max_parallel,
        "models": list(rec.models), "tags": rec.tags,
        "cache": None if rec.cache is None else rec.cache.json(),
    }


class KeyService:
    def __init__(self, registry: KeyRegistry, enforcer: Enforcer, state: SharedState) -> None:
        self.registry = registry
        self.enforcer = enforcer
        self.state = state
        self.backend: LogBackend | None = None
        self.gate: KeyGate | None = None  # set once the catalogue is built

    def _store(self) -> LogBackend:
        if self.backend is None:
            raise StoreUnavailable("the store is not open")
        return self.backend

    async def create(self, fields: dict[str, Any]) -> tuple[KeyRecord, str]:
        secret = new_secret()
        now = int(time.time() * 1000)
        rec = KeyRecord(id="key_" + uuid.uuid4().hex[:20], name=fields["name"], secret_hash=secret_digest(secret),
                        created_at=now, updated_at=now).edited(fields, now)
        await self._store().insert_key(rec)
        await self._announce(rec)
        return rec, secret

    async def get(self, key_id: str) -> KeyRecord | None:
        """Read back from the store (any replica's latest spend), not from the registry's view."""
        return await self._store().get_key(key_id)

    async def list(self) -> list[KeyRecord]:
        recs = await self._store().keys_changed_since(0)
        return sorted(recs, key=lambda r: (r.created_at, r.id), reverse=True)

    async def update(self, key_id: str, changes: dict[str, Any]) -> KeyRecord | None:
        rec = await self.get(key_id)
        if rec is None:
            return None
        rec = rec.edited(changes, max(int(time.time() * 1000), rec.updated_at + 1))
        if not await self._store().save_key(rec):
            return None
        await self._announce(rec)
        return rec

    async def revoke(self, key_id: str) -> KeyRecord | None:
        rec = await self.get(key_id)
        if rec is None:
            return None
        rec = replace(rec, revoked=True, updated_at=max(int(time.time() * 1000), rec.updated_at + 1))
        if not await self._store().save_key(rec):
            return None
        await self._announce(rec)
        return rec

    async def _announce(self, rec: KeyRecord) -> None:
        self.registry.apply(rec)
        await self.state.publish({"type": "key", "id": rec.id, "revoked": rec.revoked})
