"""The chaos soak's log reconciliation catches a lost, a duplicated and a mismatched record."""

from __future__ import annotations

from typing import Any

from bench.log_reconcile import Seen, reconcile


def rec(cid: str, status: str, attempts: int) -> dict[str, Any]:
    return {"client_request_id": cid, "status": status, "attempts": [{}] * attempts}


def test_a_clean_run_reconciles() -> None:
    seen = [Seen("a", "ok", 1), Seen("b", "error", 3), Seen("c", "error_midstream", 1, content_before_error=True),
            Seen("d", "error_midstream", 2), Seen("e", "client_hung_up", None, hung_up="early"),
            Seen("f", "client_hung_up", 1, hung_up="after_content")]
    records = [rec("a", "ok", 1), rec("b", "error", 3), rec("c", "partial", 1), rec("d", "error", 2),
               rec("e", "error", 4), rec("f", "cancelled", 1), rec(None, "ok", 1)]  # type: ignore[arg-type]
    assert reconcile(seen, records) == {"records": 7, "lost": 0, "duplicated": 0, "mismatched": 0, "examples": []}


def test_lost_duplicated_and_mismatched_are_counted() -> None:
    seen = [Seen("a", "ok", 1), Seen("b", "ok", 1), Seen("c", "ok", 2), Seen("d", "error_midstream", 1,
                                                                          content_before_error=True)]
    records = [rec("b", "ok", 1), rec("b", "ok", 1), rec("c", "ok", 1), rec("d", "error", 1)]
    got = reconcile(seen, records)
    assert (got["lost"], got["duplicated"], got["mismatched"]) == (1, 1, 2)
    assert len(got["examples"]) == 4
