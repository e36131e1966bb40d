"""Reconcile what a soak's clients saw with the request log: every request has exactly one record,
whose status and attempt count match what its client got.

Clients send their own `x-request-id` (kept as the record's `client_request_id`), so even a request
the client abandoned before any header came back can be found. A record's status must be one the
client's view allows:

    client saw                    record status
    ok                            ok
    error (an error response)     error
    error mid-stream              partial if content came first, else error
    hung up after content         cancelled (or ok/partial when the answer ended first)
    hung up early                 any: the client never saw how it ended

and, whenever the client saw `x-switchyard-attempts`, the record has that many attempts.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

ANY_STATUS = frozenset({"ok", "error", "partial", "cancelled"})


@dataclass(slots=True)
class Seen:
    """One request as its client saw it."""

    client_id: str
    outcome: str  # the soak's verdict: ok, error, error_midstream, client_hung_up, or a violation
    attempts: int | None = None  # x-switchyard-attempts, when headers came back
    content_before_error: bool = False
    hung_up: str | None = None  # "early" | "after_content"


def allowed_statuses(seen: Seen) -> frozenset[str]:
    if seen.outcome == "ok":
        return frozenset({"ok"})
    if seen.outcome == "error":
        return frozenset({"error"})
    if seen.outcome == "error_midstream":
        return frozenset({"partial"}) if seen.content_before_error else frozenset({"error"})
    if seen.outcome == "client_hung_up" and seen.hung_up == "after_content":
        return frozenset({"cancelled", "ok", "partial"})
    return ANY_STATUS


def reconcile(seen: list[Seen], records: list[dict[str, Any]]) -> dict[str, Any]:
    """{"lost", "duplicated", "mismatched", "records", "examples"}; all three counts 0 is a pass."""
    by_client: dict[str, list[dict[str, Any]]] = {}
    for rec in records:
        cid = rec.get("client_request_id")
        if cid is not None:
            by_client.setdefault(cid, []).append(rec)
    counts: Counter[str] = Counter()
    examples: list[str] = []
    for s in seen:
        found = by_client.get(s.client_id, [])
        if not found:
            counts["lost"] += 1
            problem = f"{s.client_id}: no record ({s.outcome})"
        elif len(found) > 1:
            counts["duplicated"] += 1
            problem = f"{s.client_id}: {len(found)} records"
        else:
            rec = found[0]
            status_ok = rec["status"] in allowed_statuses(s)
            attempts_ok = s.attempts is None or s.outcome == "client_hung_up" or len(rec["attempts"]) == s.attempts
            if status_ok and attempts_ok:
                continue
            counts["mismatched"] += 1
            problem = (f"{s.client_id}: client saw {s.outcome} with {s.attempts} attempt(s); record says "
                       f"{rec['status']} with {len(rec['attempts'])}")
        if len(examples) < 8:
            examples.append(problem)
    return {"records": len(records), "lost": counts["lost"], "duplicated": counts["duplicated"],
            "mismatched": counts["mismatched"], "examples": examples}


# the soak's compact view of one request, by plan index: (outcome, attempts, answered, content_before_error, hang_up)
View = tuple[str, int, bool, bool, str | None]


def reconcile_views(views: dict[int, View], records: list[dict[str, Any]], dropped: int) -> dict[str, Any]:
    """Each request whose answer reached its client (`answered`) must have exactly one matching record;
    those abandoned before any answer are counted apart (the gateway may never have seen them)."""
    seen = [Seen(f"chaos-{i}", outcome, attempts, content_before_error, hang_up)
            for i, (outcome, attempts, answered, content_before_error, hang_up) in views.items() if answered]
    result = reconcile(seen, records)
    abandoned = {f"chaos-{i}" for i, view in views.items() if not view[2]}
    result["abandoned_before_an_answer"] = len(abandoned)
    result["abandoned_but_logged"] = sum(r.get("client_request_id") in abandoned for r in records)
    result["dropped"] = dropped
    return result


async def logged_records(app: Any, since_ms: int) -> tuple[list[dict[str, Any]], int]:
    """Every record since `since_ms` from a running gateway's store (its queue written out first), and
    how many records it dropped."""
    from proxy.appkeys import STORE
    from proxy.store import Page, RequestFilter

    store = app[STORE]
    await store.writer.flush(timeout=60)
    records: list[dict[str, Any]] = []
    cursor = None
    while True:
        page, next_cursor = await store.list_records(RequestFilter(since_ms=since_ms), Page(limit=200, cursor=cursor))
        records += page
        if next_cursor is None:
            return records, store.writer.dropped
        ts, _, rid = next_cursor.partition("_")
        cursor = (int(ts), rid)
