"""Prometheus metrics, with OpenTelemetry's GenAI names where one exists and `switchyard_*` for ours.

A finished request's record feeds every per-request metric in one call (`observe`), so metrics and the
log can never disagree about what happened. Gauges are refreshed from live state (`refresh`) every
few seconds and at each scrape. No label carries a key, a prompt or an id: models, providers,
outcomes and a bounded error type only.

Observations are tallied in plain dicts on the event loop and handed to prometheus-client in bulk
(`flush`: at each scrape and every couple of seconds). Its own `observe()` takes a lock and walks the
buckets in Python, about 3 us each; a request makes ten of them, which at c=64 cost more than the rest
of the log together. The bulk hand-over adds each bucket's count and each sum once per flush.

With `--workers N` the server sets PROMETHEUS_MULTIPROC_DIR before any worker starts: each worker
writes its samples to memory-mapped files there and a scrape of any worker reads them all, counters
and histograms summed, gauges one series per `worker`.
"""

from __future__ import annotations

import os
from bisect import bisect_left
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)

if TYPE_CHECKING:  # metrics and the store are siblings beside the pipeline: neither imports the other
    from proxy.store.records import RequestRecord

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# OpenTelemetry GenAI semantic conventions' advisory bucket boundaries.
DURATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
TTFT_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864)
CIRCUIT_VALUES = {"closed": 0, "half_open": 1, "open": 2}
OPERATION = {"chat.completions": "chat", "messages": "chat", "responses": "chat", "embeddings": "embeddings"}
REQUEST_LABELS = ("gen_ai_operation_name", "gen_ai_request_model", "gen_ai_response_model", "gen_ai_provider_name",
                  "error_type")


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


class Metrics:
    def __init__(self, worker: int = 0) -> None:
        self.worker = str(worker)
        self.multiprocess = multiprocess_dir() is not None
        if self.multiprocess and values.ValueClass is values.MutexValue:
            # prometheus_client chose its value class when first imported; the directory was set after
            values.ValueClass = values.get_value_class()
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.request_duration = Histogram(
            "gen_ai_server_request_duration_seconds", "Time from request to the end of the answer.",
            REQUEST_LABELS, buckets=DURATION_BUCKETS, registry=r)
        self.time_to_first_token = Histogram(
            "gen_ai_server_time_to_first_token_seconds", "Time from request to the first content sent.",
            REQUEST_LABELS, buckets=TTFT_BUCKETS, registry=r)
        self.token_usage = Histogram(
            "gen_ai_client_token_usage", "Tokens per request, by type (input, output).",
            ("gen_ai_operation_name", "gen_ai_request_model", "gen_ai_response_model", "gen_ai_provider_name",
             "gen_ai_token_type"), buckets=TOKEN_BUCKETS, registry=r)
        self.operation_duration = Histogram(
            "gen_ai_client_operation_duration_seconds", "Duration of each upstream attempt.",
            ("gen_ai_operation_name", "gen_ai_request_model", "gen_ai_provider_name", "error_type"),
            buckets=DURATION_BUCKETS, registry=r)
        self.attempts = Counter("switchyard_attempts", "Upstream attempts by outcome.",
                                ("provider", "model", "outcome"), registry=r)
        self.fallbacks = Counter("switchyard_fallbacks", "Attempts that moved on to another candidate.", registry=r)
        self.route_decisions = Counter("switchyard_route_decisions", "Models chosen by `auto` routing.",
                                       ("preference", "model"), registry=r)
        self.cost = Counter("switchyard_cost_usd", "Upstream spend in USD (failed attempts included).",
                            ("model", "provider"), registry=r)
        self.hedges = Counter("switchyard_hedges", "Hedged requests: won (a hedge answered), lost (the first "
                              "attempt answered anyway), skipped_budget (wanted, over budget).", ("outcome",), registry=r)
        self.cache_lookups = Counter("switchyard_cache_lookups", "Answer cache lookups by result (hit, miss).",
                                     ("result",), registry=r)
        self.cost_saved = Counter("switchyard_cost_saved_usd", "Upstream spend avoided by answer cache hits, in USD.",
                                  ("model", "provider"), registry=r)
        self.log_dropped = Counter("switchyard_log_dropped", "Request log records dropped (queue full or database away).",
                                   registry=r)
        self.in_flight = Gauge("switchyard_in_flight", "Requests being answered.", ("worker",),
                               multiprocess_mode="livesum", registry=r)
        self.log_queue_depth = Gauge("switchyard_log_queue_depth", "Request log records waiting for the writer.",
                                     ("worker",), multiprocess_mode="livesum", registry=r)
        self.circuit_state = Gauge("switchyard_circuit_state", "Circuit per model and provider: 0 closed, 1 half-open, 2 open.",
                                   ("provider", "model", "worker"), multiprocess_mode="livesum", registry=r)
        self.limits_divisor = Gauge(
            "switchyard_limits_divisor", "What each key limit is divided by on this worker (1: shared exactly "
            "through Redis; N: in-process, limit / N workers or known replicas).", ("worker",),
            multiprocess_mode="livemax", registry=r)
        self.state_redis_up = Gauge("switchyard_state_redis_up", "1 when the shared state's Redis answers, 0 when "
                                    "down, absent without Redis.", ("worker",), multiprocess_mode="livemin", registry=r)
        self.key_refusals = Counter("switchyard_key_refusals", "Requests a virtual key's limits refused, by reason "
                                    "(rpm, tpm, max_parallel, budget, limits_unavailable).", ("reason",), registry=r)
        self._children: dict[tuple[Any, ...], Any] = {}
        # tallies since the last flush: (metric, label values) -> (bucket counts, [sum]) or a counter's amount
        self._histograms: dict[tuple[Any, tuple[str, ...]], tuple[list[int], list[float]]] = {}
        self._counters: dict[tuple[Any, tuple[str, ...]], float] = {}

    def _child(self, metric: Any, *labels: str) -> Any:
        """labels() is slow (a lock, validation): each label set's child is kept after its first use."""
        key = (id(metric), *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels) if labels else metric
        return child

    def _observe(self, metric: Histogram, labels: tuple[str, ...], value: float, bounds: tuple[float, ...]) -> None:
        key = (metric, labels)
        tally = self._histograms.get(key)
        if tally is None:
            tally = self._histograms[key] = ([0] * (len(bounds) + 1), [0.0])
        # the first bucket whose upper bound is >= value (the last is +Inf), as Histogram.observe picks it
        tally[0][bisect_left(bounds, value)] += 1
        tally[1][0] += value

    def _inc(self, metric: Counter, labels: tuple[str, ...], amount: float = 1.0) -> None:
        key = (metric, labels)
        self._counters[key] = self._counters.get(key, 0.0) + amount

    def flush(self) -> None:
        """Hand the tallies to prometheus-client: one add per bucket, sum and counter that moved."""
        histograms, self._histograms = self._histograms, {}
        counters, self._counters = self._counters, {}
        for (metric, labels), (counts, total) in histograms.items():
            child = self._child(metric, *labels)
            for i, n in enumerate(counts):
                if n:
                    child._buckets[i].inc(n)
            child._sum.inc(total[0])
        for (metric, labels), amount in counters.items():
            self._child(metric, *labels).inc(amount)

    def observe(self, rec: RequestRecord) -> None:
        """Every per-request metric from the request's finished record."""
        op = OPERATION.get(rec.api, "chat")
        request_model = rec.model_requested if rec.model is not None or rec.model_requested == "auto" else "_unknown"
        response_model = rec.model or ""
        provider = rec.provider or ""
        error = error_type(rec)
        labels = (op, request_model, response_model, provider, error)
        self._observe(self.request_duration, labels, rec.duration_ms / 1000, DURATION_BUCKETS)
        if rec.ttft_ms is not None:
            self._observe(self.time_to_first_token, labels, rec.ttft_ms / 1000, TTFT_BUCKETS)
        if rec.model is not None:
            usage = rec.usage
            self._observe(self.token_usage, (op, request_model, response_model, provider, "input"), usage.prompt_tokens,
                          TOKEN_BUCKETS)
            self._observe(self.token_usage, (op, request_model, response_model, provider, "output"),
                          usage.completion_tokens, TOKEN_BUCKETS)
        for attempt in rec.attempts:
            attempt_error = "" if attempt.outcome == "ok" else attempt.outcome
            self._observe(self.operation_duration, (op, attempt.model, attempt.provider, attempt_error),
                          attempt.duration_ms / 1000, DURATION_BUCKETS)
            self._inc(self.attempts, (attempt.provider, attempt.model, attempt.outcome))
            if attempt.cost_usd:
                self._inc(self.cost, (attempt.model, attempt.provider), attempt.cost_usd)
        if len(rec.attempts) > 1:
            self._inc(self.fallbacks, (), len(rec.attempts) - 1)
        if rec.route is not None and rec.model is not None:
            self._inc(self.route_decisions, (rec.route.preference, rec.model))
        if rec.hedge is not None:
            self._inc(self.hedges, (rec.hedge,))
        if rec.cache is not None:
            self._inc(self.cache_lookups, (rec.cache,))
            if rec.cost_saved_usd:
                self._inc(self.cost_saved, (response_model, provider), rec.cost_saved_usd)

    def dropped(self, n: int) -> None:
        self._inc(self.log_dropped, (), n)

    def refresh(self, in_flight: int, log_queue_depth: int, circuits: Iterable[tuple[str, str, str]]) -> None:
        """Gauges from live state; `circuits` yields (model, provider, state)."""
        self._child(self.in_flight, self.worker).set(in_flight)
        self._child(self.log_queue_depth, self.worker).set(log_queue_depth)
        for model, provider, state in circuits:
            self._child(self.circuit_state, provider, model, self.worker).set(CIRCUIT_VALUES.get(state, 0))

    def refused(self, reason: str) -> None:
        self._child(self.key_refusals, reason).inc()

    def refresh_limits(self, divisor: int, redis_up: bool | None) -> None:
        self._child(self.limits_divisor, self.worker).set(divisor)
        if redis_up is not None:
            self._child(self.state_redis_up, self.worker).set(1 if redis_up else 0)

    def exposition(self) -> tuple[bytes, str]:
        """The scrape body and its content type: every worker's samples in multiprocess mode."""
        self.flush()
        if self.multiprocess:
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


def error_type(rec: RequestRecord) -> str:
    """"" for success; else a bounded class: cancelled, partial, or the last attempt's outcome."""
    if rec.status == "ok":
        return ""
    if rec.status in ("cancelled", "partial"):
        return rec.status
    if rec.attempts:
        return rec.attempts[-1].outcome
    return f"http_{rec.http_status}"


def prepare_multiprocess_dir(path: str) -> None:
    """Called by `serve` before workers start: an empty directory, so a restart starts from zero."""
    os.makedirs(path, exist_ok=True)
    for name in os.listdir(path):
        if name.endswith(".db"):
            os.remove(os.path.join(path, name))
    os.environ[MULTIPROC_ENV] = path


def worker_exited(pid: int) -> None:
    """Drop a dead worker's live gauges from the scrape."""
    if multiprocess_dir():
        multiprocess.mark_process_dead(pid)
