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
