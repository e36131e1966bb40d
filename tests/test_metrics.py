"""Metrics tallied in bulk give exactly what prometheus-client's own observe() would have."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from proxy.metrics import DURATION_BUCKETS, Metrics
from proxy.store import AttemptRecord, RequestRecord


def a_record(duration_ms: float) -> RequestRecord:
    return RequestRecord(id="x", ts_ms=0, api="chat.completions", model_requested="m", status="ok", model="m",
                         provider="p", duration_ms=duration_ms, attempts=[AttemptRecord("m", "p", "ok", 200, None,
                                                                                        0.0, 1.0, duration_ms, 0.01)])


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=200_000, allow_nan=False), min_size=1, max_size=40))
def test_bulk_tallies_equal_direct_observations(durations_ms: list[float]) -> None:
    metrics = Metrics()
    registry = CollectorRegistry()
    direct = Histogram("gen_ai_server_request_duration_seconds", "same", ("gen_ai_operation_name", "gen_ai_request_model",
                       "gen_ai_response_model", "gen_ai_provider_name", "error_type"), buckets=DURATION_BUCKETS,
                       registry=registry)
    for i, ms in enumerate(durations_ms):
        metrics.observe(a_record(ms))
        direct.labels("chat", "m", "m", "p", "").observe(ms / 1000)
        if i % 7 == 0:
            metrics.flush()  # flushes at any point add up to the same totals
    body, _ = metrics.exposition()
    ours, theirs = samples(body.decode()), samples(generate_latest(registry).decode())
    assert ours.keys() == theirs.keys()
    for key, value in theirs.items():
        # bucket counts and the count exactly; the sum up to float addition order
        assert ours[key] == value if not key[0].endswith("_sum") else ours[key] == pytest.approx(value)
    attempts = samples(body.decode(), "switchyard_attempts")
    assert list(attempts.values()) == [len(durations_ms)]


def samples(text: str, family: str = "gen_ai_server_request_duration_seconds") -> dict[tuple[str, str], float]:
    return {(s.name, str(sorted(s.labels.items()))): s.value for f in text_string_to_metric_families(text)
            if f.name == family for s in f.samples if not s.name.endswith("_created")}
