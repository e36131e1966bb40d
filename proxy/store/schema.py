"""The store's one schema, as numbered migrations for each back end, applied in order at start-up.

A migration is never edited once released: a change is a new number. `schema_migrations` records
what a database has; both back ends hold the same tables, columns and indexes.

Layout of `requests`: the columns that lists filter on and usage sums are real columns; the whole
record (attempts, route receipt, usage detail, bodies) is one JSON document in `doc`, so a new field
needs no migration. Lists page newest first on (ts, id): each filter that must answer fast on a big
log (model, status, key) has its own (filter, ts, id) index, so the newest page is an index range
scan that stops after `limit` rows, whatever the log's size. Learning's replay reads the few records
that may teach through a partial index of its own (migration 7), never the window's every document.
"""

from __future__ import annotations

from typing import Literal

from proxy.store.keys import keys_cache_migration, keys_migration, marks

Dialect = Literal["sqlite", "postgres"]

_REQUESTS = """
CREATE TABLE requests (
    id TEXT PRIMARY KEY,
    ts BIGINT NOT NULL,
    api TEXT NOT NULL,
    key_name TEXT,
    model_requested TEXT NOT NULL,
    model TEXT,
    provider TEXT,
    status TEXT NOT NULL,
    http_status INTEGER NOT NULL,
    ttft_ms {real},
    duration_ms {real} NOT NULL,
    prompt_tokens BIGINT NOT NULL,
    completion_tokens BIGINT NOT NULL,
    cached_tokens BIGINT NOT NULL,
    reasoning_tokens BIGINT NOT NULL,
    cost_usd {real} NOT NULL,
    failed_attempts_cost_usd {real} NOT NULL,
    attempts INTEGER NOT NULL,
    tags {json} NOT NULL,
    doc TEXT NOT NULL
)"""

_FEEDBACK = """
CREATE TABLE feedback (
    id {serial},
    request_id TEXT NOT NULL,
    ts BIGINT NOT NULL,
    key_name TEXT,
    metric TEXT NOT NULL,
    score {real},
    thumbs TEXT,
    comment TEXT
)"""

_INDEXES = (
    "CREATE INDEX requests_ts ON requests (ts, id)",
    "CREATE INDEX requests_model_ts ON requests (model, ts, id)",
    "CREATE INDEX requests_status_ts ON requests (status, ts, id)",
    "CREATE INDEX requests_key_ts ON requests (key_name, ts, id)",
    "CREATE INDEX feedback_request ON feedback (request_id)",
)


def _v1(dialect: Dialect) -> list[str]:
    if dialect == "sqlite":
        types = {"real": "REAL", "json": "TEXT", "serial": "INTEGER PRIMARY KEY AUTOINCREMENT"}
    else:
        types = {"real": "DOUBLE PRECISION", "json": "JSONB", "serial": "BIGSERIAL PRIMARY KEY"}
    return [_REQUESTS.format(**types), _FEEDBACK.format(**types), *_INDEXES]


def _v2(dialect: Dialect) -> list[str]:
    """What cache hits saved (issue 16), a column so that usage sums can report it."""
    real = "REAL" if dialect == "sqlite" else "DOUBLE PRECISION"
    return [f"ALTER TABLE requests ADD COLUMN cost_saved_usd {real} NOT NULL DEFAULT 0"]


# Stored Responses API conversations (issue 14): kept because the client asked (`store`), apart from
# the log and its retention. `doc` holds the response, its input items and the conversation as JSON.
_RESPONSES = """
CREATE TABLE responses (
    id TEXT PRIMARY KEY,
    key_name TEXT,
    created_ms BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL,
    doc TEXT NOT NULL
)"""


def _v4(dialect: Dialect) -> list[str]:
    return [_RESPONSES, "CREATE INDEX responses_expires ON responses (expires_ms)"]


def _v5(dialect: Dialect) -> list[str]:
    """Whose routing a rating teaches (issue 17): NULL is the rated request's key; 'deployment' everyone's."""
    return ["ALTER TABLE feedback ADD COLUMN scope TEXT"]


# Records that may carry an implicit learning signal (proxy.routing.feedback_learner checks each again): an
# `auto` request that failed, or whose finish reason is a truncation or a flagged refusal. Written out, not
# bound as parameters, so that both planners can prove a query with this filter may read the partial index
# of migration 7. Changing it means a new migration with a new index.
LEARNING_SIGNAL_WHERE = ("model_requested = 'auto' AND (status IN ('error', 'partial') OR "
                         "finish_reason IN ('length', 'content_filter', 'refusal'))")


def learning_sql(dialect: Dialect) -> tuple[str, str]:
    """LogBackend.learning_events' two queries, each bound to (since_ms, limit): rated `auto` requests,
    newest feedback first, and the records that may carry an implicit signal (this filter is what lets
    them read the partial index requests_learning of migration 7)."""
    since, limit = marks(dialect, 2)
    rated = ("SELECT f.ts, f.scope, f.score, f.thumbs, r.key_name, r.doc FROM feedback f "
             f"JOIN requests r ON r.id = f.request_id WHERE f.ts >= {since} AND r.model_requested = 'auto' "
             f"ORDER BY f.ts DESC, f.id DESC LIMIT {limit}")
    implicit = (f"SELECT ts, key_name, doc FROM requests WHERE ts >= {since} AND {LEARNING_SIGNAL_WHERE} "
                f"ORDER BY ts DESC LIMIT {limit}")
    return rated, implicit


def _v7(dialect: Dialect) -> list[str]:
    """The learning replay's index (start-up and every rebuild_s): only the records that may teach, by time,
    so the replay reads those instead of scanning the window's every record and matching its document.
    `finish_reason` becomes a column for it (written by every insert from now on); older `auto` records get
    theirs from their document, the only ones the replay reads (older named-model records keep NULL)."""
    from_doc = "json_extract(doc, '$.finish_reason')" if dialect == "sqlite" else "(doc::jsonb ->> 'finish_reason')"
    return [
        "ALTER TABLE requests ADD COLUMN finish_reason TEXT",
        f"UPDATE requests SET finish_reason = {from_doc} WHERE model_requested = 'auto'",
        f"CREATE INDEX requests_learning ON requests (ts) WHERE {LEARNING_SIGNAL_WHERE}",
    ]


# version -> statements, per dialect
MIGRATIONS: dict[int, dict[Dialect, list[str]]] = {
    1: {"sqlite": _v1("sqlite"), "postgres": _v1("postgres")},
    2: {"sqlite": _v2("sqlite"), "postgres": _v2("postgres")},
    3: {"sqlite": keys_migration("sqlite"), "postgres": keys_migration("postgres")},  # virtual keys
    4: {"sqlite": _v4("sqlite"), "postgres": _v4("postgres")},  # stored Responses conversations
    5: {"sqlite": _v5("sqlite"), "postgres": _v5("postgres")},  # feedback's learning scope
    6: {"sqlite": keys_cache_migration("sqlite"), "postgres": keys_cache_migration("postgres")},  # a key's cache use
    7: {"sqlite": _v7("sqlite"), "postgres": _v7("postgres")},  # the learning replay's partial index
}
LATEST = max(MIGRATIONS)

CREATE_VERSIONS = "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)"


def pending(applied: set[int]) -> list[int]:
    """Migration numbers not yet applied, in order."""
    return [v for v in sorted(MIGRATIONS) if v not in applied]
