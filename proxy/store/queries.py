"""The log's read queries as SQL, for either back end: filters, keyset pages, usage groups.

Statements are written with `?` placeholders; PostgreSQL's `$n` numbering is applied last. The few
dialect differences (a tag inside the JSON column, percentiles) are the `SqlDialect` methods.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from proxy.store.records import ERROR_STATUSES

MAX_PAGE = 200
GROUP_DIMS = ("model", "provider", "key", "api", "hour", "day")  # and tag:<name>
_DIM_COLUMNS = {"model": "model", "provider": "provider", "key": "key_name", "api": "api"}
_BUCKET_MS = {"hour": 3_600_000, "day": 86_400_000}
TAG_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")


class BadQuery(ValueError):
    """A filter, cursor or group the caller sent is not valid; `param` names it."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param


@dataclass(frozen=True, slots=True)
class RequestFilter:
    model: str | None = None
    provider: str | None = None
    status: str | None = None
    key: str | None = None
    api: str | None = None
    tags: tuple[tuple[str, str], ...] = ()
    since_ms: int | None = None
    until_ms: int | None = None


@dataclass(frozen=True, slots=True)
class Page:
    limit: int = 50
    cursor: tuple[int, str] | None = None  # (ts, id) of the last record of the previous page


@dataclass(slots=True)
class Sql:
    text: str
    params: list[Any] = field(default_factory=list)


class SqlDialect:
    name = "sqlite"

    def tag(self, name: str, params: list[Any]) -> str:
        params.append('$."' + name + '"')
        return "json_extract(tags, ?)"

    def percentile(self, column: str, p: float) -> str:
        return f"percentile({column}, {p})"  # registered by the SQLite back end

    def finish(self, sql: Sql) -> Sql:
        return sql


class PostgresDialect(SqlDialect):
    name = "postgres"

    def tag(self, name: str, params: list[Any]) -> str:
        params.append(name)
        return "(tags ->> ?)"

    def percentile(self, column: str, p: float) -> str:
        return f"percentile_cont({p}) WITHIN GROUP (ORDER BY {column})"

    def finish(self, sql: Sql) -> Sql:
        parts = sql.text.split("?")
        text = parts[0] + "".join(f"${i}{part}" for i, part in enumerate(parts[1:], start=1))
        return Sql(text, sql.params)


def where(flt: RequestFilter, dialect: SqlDialect, params: list[Any]) -> list[str]:
    clauses: list[str] = []
    for column, value in (("model", flt.model), ("provider", flt.provider), ("status", flt.status),
                          ("key_name", flt.key), ("api", flt.api)):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    for name, value in flt.tags:
        expr = dialect.tag(name, params)
        clauses.append(f"{expr} = ?")
        params.append(value)
    if flt.since_ms is not None:
        clauses.append("ts >= ?")
        params.append(flt.since_ms)
    if flt.until_ms is not None:
        clauses.append("ts < ?")
        params.append(flt.until_ms)
    return clauses


def list_sql(flt: RequestFilter, page: Page, dialect: SqlDialect) -> Sql:
    """Newest first; one row more than the page, to know whether there is a next one."""
    params: list[Any] = []
    clauses = where(flt, dialect, params)
    if page.cursor is not None:
        # row-value comparison: both back ends turn it into one index range
        clauses.append("(ts, id) < (?, ?)")
        params += [page.cursor[0], page.cursor[1]]
    text = "SELECT ts, id, doc FROM requests"
    if clauses:
        text += " WHERE " + " AND ".join(clauses)
    text += " ORDER BY ts DESC, id DESC LIMIT ?"
    params.append(page.limit + 1)
    return dialect.finish(Sql(text, params))


def encode_cursor(ts_ms: int, request_id: str) -> str:
    return f"{ts_ms}_{request_id}"


def decode_cursor(raw: str) -> tuple[int, str]:
    ts, sep, request_id = raw.partition("_")
    if not sep or not ts.isdigit() or not request_id or len(request_id) > 128:
        raise BadQuery("cursor", "cursor: not a cursor from a previous page's next_cursor")
    return int(ts), request_id


def parse_group_by(raw: str) -> list[str]:
    dims = [d.strip() for d in raw.split(",") if d.strip()]
    if not 1 <= len(dims) <= 2:
        raise BadQuery("group_by", "group_by: give one or two of model, provider, key, api, tag:<name>, hour, day")
    for dim in dims:
        if dim.startswith("tag:"):
            if not TAG_NAME.match(dim[4:]):
                raise BadQuery("group_by", f"group_by: {dim!r} needs a tag name of letters, digits, '_', '-' or '.'")
        elif dim not in GROUP_DIMS:
            raise BadQuery("group_by", f"group_by: unknown dimension {dim!r}; use model, provider, key, api, "
                                       "tag:<name>, hour or day")
    if len(set(dims)) != len(dims):
        raise BadQuery("group_by", "group_by: a dimension is repeated")
    return dims


def dim_expr(dim: str, dialect: SqlDialect, params: list[Any]) -> str:
    if dim in _DIM_COLUMNS:
        return _DIM_COLUMNS[dim]
    if dim in _BUCKET_MS:
        return f"(ts / {_BUCKET_MS[dim]}) * {_BUCKET_MS[dim]}"
    return dialect.tag(dim[4:], params)


USAGE_FIELDS = ("requests", "errors", "prompt_tokens", "completion_tokens", "cached_tokens", "reasoning_tokens",
                "cost_usd", "failed_attempts_cost_usd", "cost_saved_usd", "ttft_ms_p50", "ttft_ms_p95", "duration_ms_p50",
                "duration_ms_p95")


def usage_sql(flt: RequestFilter, dims: list[str], dialect: SqlDialect) -> Sql:
    params: list[Any] = []
    selected = [dim_expr(d, dialect, params) for d in dims]
    errors = ", ".join(f"'{s}'" for s in ERROR_STATUSES)
    pct = dialect.percentile
    aggregates = [
        "COUNT(*)",
        f"SUM(CASE WHEN status IN ({errors}) THEN 1 ELSE 0 END)",
        "SUM(prompt_tokens)", "SUM(completion_tokens)", "SUM(cached_tokens)", "SUM(reasoning_tokens)",
        "SUM(cost_usd)", "SUM(failed_attempts_cost_usd)", "SUM(cost_saved_usd)",
        pct("ttft_ms", 0.5), pct("ttft_ms", 0.95), pct("duration_ms", 0.5), pct("duration_ms", 0.95),
    ]
    text = f"SELECT {', '.join(selected + aggregates)} FROM requests"
    clauses = where(flt, dialect, params)
    if clauses:
        text += " WHERE " + " AND ".join(clauses)
    ordinals = ", ".join(str(i + 1) for i in range(len(dims)))
    text += f" GROUP BY {ordinals} ORDER BY {ordinals}"
    return dialect.finish(Sql(text, params))


def usage_rows(dims: list[str], rows: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    """SQL rows -> `{"group": {...}, "requests": n, ...}` with time buckets as RFC 3339."""
    from proxy.store.records import iso_ms

    out = []
    for row in rows:
        group = {}
        for dim, value in zip(dims, row):
            group[dim] = iso_ms(int(value))[:-5] + "Z" if dim in _BUCKET_MS and value is not None else value
        item: dict[str, Any] = {"group": group}
        for name, value in zip(USAGE_FIELDS, row[len(dims):]):
            if name.endswith(("_usd", "_p50", "_p95")):
                item[name] = None if value is None else round(float(value), 10 if name.endswith("_usd") else 3)
            else:
                item[name] = int(value or 0)
        out.append(item)
    return out
