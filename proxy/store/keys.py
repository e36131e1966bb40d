"""Virtual keys as the store keeps them: one row each, the secret only as its SHA-256 digest.

Every change (create, patch, revoke, spend) bumps `updated_at`, which is how replicas find changes
to re-read (`keys_changed_since`). Spend is the durable truth of a key's budget: `add_spend` is one
atomic UPDATE, awaited, that also starts a new period's count when the period has moved on.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

import orjson

KEY_COLUMNS = (
    "id", "name", "secret_hash", "created_at", "updated_at", "expires_at", "revoked", "budget_nusd", "budget_period",
    "rpm", "tpm", "max_parallel", "models", "tags", "spend_nusd", "spend_period", "cache",
)
# What PATCH may change (the secret and the spend never).
EDITABLE = ("name", "expires_at", "budget_nusd", "budget_period", "rpm", "tpm", "max_parallel", "models", "tags", "cache")


class KeyCache(NamedTuple):
    """A key's default use of the answer cache, for its requests that do not say (request > key > config)."""

    enabled: bool
    ttl_s: float | None = None  # None: the config's cache.ttl_s

    def json(self) -> dict[str, Any]:
        return {"enabled": self.enabled, "ttl_s": self.ttl_s}


def cache_column(cache: KeyCache | None) -> str | None:
    return None if cache is None else orjson.dumps(cache.json()).decode()


def cache_of_column(text: str | None) -> KeyCache | None:
    if text is None:
        return None
    doc = orjson.loads(text)
    return KeyCache(bool(doc["enabled"]), None if doc.get("ttl_s") is None else float(doc["ttl_s"]))


@dataclass(frozen=True, slots=True)
class KeyRecord:
    id: str
    name: str
    secret_hash: str  # hex SHA-256 of the secret
    created_at: int  # Unix ms
    updated_at: int
    expires_at: int | None = None
    revoked: bool = False
    budget_nusd: int | None = None
    budget_period: str | None = None  # day | week | month | None (a lifetime budget)
    rpm: int | None = None
    tpm: int | None = None
    max_parallel: int | None = None
    models: tuple[str, ...] = ()  # allow-list patterns; empty: every model
    tags: dict[str, str] = field(default_factory=dict)
    spend_nusd: int = 0  # in the period starting at spend_period (Unix seconds)
    spend_period: int = 0
    cache: KeyCache | None = None  # None: the config decides

    def row(self) -> tuple[Any, ...]:
        return (self.id, self.name, self.secret_hash, self.created_at, self.updated_at, self.expires_at,
                int(self.revoked), self.budget_nusd, self.budget_period, self.rpm, self.tpm, self.max_parallel,
                orjson.dumps(list(self.models)).decode(), orjson.dumps(self.tags).decode(), self.spend_nusd,
                self.spend_period, cache_column(self.cache))

    @classmethod
    def from_row(cls, row: Any) -> KeyRecord:
        r = tuple(row)
        return cls(r[0], r[1], r[2], int(r[3]), int(r[4]), None if r[5] is None else int(r[5]), bool(r[6]),
                   None if r[7] is None else int(r[7]), r[8], r[9], r[10], r[11], tuple(orjson.loads(r[12])),
                   orjson.loads(r[13]), int(r[14]), int(r[15]), cache_of_column(r[16]))

    def edited(self, changes: dict[str, Any], now_ms: int) -> KeyRecord:
        return replace(self, **{k: v for k, v in changes.items() if k in EDITABLE}, updated_at=now_ms)


def keys_migration(dialect: str) -> list[str]:
    """Schema version 3: the virtual keys table, on both back ends."""
    real_bool = "INTEGER" if dialect == "sqlite" else "SMALLINT"
    return [
        f"""CREATE TABLE virtual_keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    secret_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    expires_at BIGINT,
    revoked {real_bool} NOT NULL DEFAULT 0,
    budget_nusd BIGINT,
    budget_period TEXT,
    rpm INTEGER,
    tpm INTEGER,
    max_parallel INTEGER,
    models TEXT NOT NULL,
    tags TEXT NOT NULL,
    spend_nusd BIGINT NOT NULL DEFAULT 0,
    spend_period BIGINT NOT NULL DEFAULT 0
)""",
        "CREATE INDEX virtual_keys_updated ON virtual_keys (updated_at)",
    ]


def keys_cache_migration(dialect: str) -> list[str]:
    """Schema version 6: a key's default use of the answer cache (NULL: the config decides)."""
    return ["ALTER TABLE virtual_keys ADD COLUMN cache TEXT"]


def marks(dialect: str, n: int, start: int = 1) -> list[str]:
    """Numbered placeholders (SQLite takes ?N too), so one parameter may be used twice."""
    sign = "?" if dialect == "sqlite" else "$"
    return [f"{sign}{i}" for i in range(start, start + n)]


def insert_sql(dialect: str) -> str:
    return f"INSERT INTO virtual_keys ({', '.join(KEY_COLUMNS)}) VALUES ({', '.join(marks(dialect, len(KEY_COLUMNS)))})"


def update_sql(dialect: str) -> str:
    """Every editable column and updated_at, by id (the last parameter); revoked is never un-set."""
    cols = (*EDITABLE, "updated_at", "revoked")
    m = marks(dialect, len(cols) + 1)
    sets = ", ".join(f"{c} = {m[i]}" for i, c in enumerate(cols))
    return f"UPDATE virtual_keys SET {sets} WHERE id = {m[-1]}"


def update_params(rec: KeyRecord) -> tuple[Any, ...]:
    row = dict(zip(KEY_COLUMNS, rec.row(), strict=True))
    return (*(row[c] for c in EDITABLE), rec.updated_at, int(rec.revoked), rec.id)


def spend_sql(dialect: str) -> str:
    """Add to this period's spend, or start the period's count when it has moved on; by id."""
    p, c, n, i = marks(dialect, 4)
    return (f"UPDATE virtual_keys SET spend_nusd = CASE WHEN spend_period = {p} THEN spend_nusd + {c} ELSE {c} END, "
            f"spend_period = {p}, updated_at = {n} WHERE id = {i}")


SELECT = f"SELECT {', '.join(KEY_COLUMNS)} FROM virtual_keys"
