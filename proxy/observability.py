"""The gateway's memory, wired into an app: the store, metrics, the access log and their routes.

`install_request_log(app, settings)` adds one cleanup context (open the store and start its writer;
on shutdown flush the queue and close), the log's routes, /metrics, and the optional metrics-only
listener. `RequestLog.finish(record)` is what a request's end calls: log, metrics, access line.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from proxy.api import prometheus, requests_log
from proxy.appkeys import METRICS, RESPONSE_STORE, STORE
from proxy.config import Settings
from proxy.metrics import Metrics
from proxy.outcome import Outcome
from proxy.store import RequestRecord, Store, backend_for
from proxy.store.outcome_record import record_of
from proxy.store.responses import DatabaseResponseStore

access = logging.getLogger("switchyard.access")
log = logging.getLogger("switchyard")

GAUGE_REFRESH_S = 2.0


class RequestLog:
    """Where a finished request goes: the store's queue, the metrics, one access line."""

    __slots__ = ("store", "metrics", "log_enabled", "metrics_enabled", "access_log", "active")

    def __init__(self, store: Store, metrics: Metrics, *, log_enabled: bool = True, metrics_enabled: bool = True,
                 access_log: bool = True) -> None:
        self.store = store
        self.metrics = metrics
        self.log_enabled = log_enabled
        self.metrics_enabled = metrics_enabled
        self.access_log = access_log
        self.active = log_enabled or metrics_enabled or access_log

    def finish(self, outcome: Outcome) -> None:
        """The on_finish hook: called once per request, on the event loop, right after its answer ends."""
        if self.active:
            self.record(record_of(outcome))

    def record(self, rec: RequestRecord) -> None:
        if self.log_enabled:
            self.store.log(rec)
        if self.metrics_enabled:
            self.metrics.observe(rec)
        if self.access_log and access.isEnabledFor(logging.INFO):
            access.info(
                "request id=%s key=%s api=%s model=%s provider=%s status=%s http=%d attempts=%d ms=%.1f",
                rec.id, rec.key or "-", rec.api, rec.model or rec.model_requested, rec.provider or "-", rec.status,
                rec.http_status, len(rec.attempts), rec.duration_ms,
            )


REQUEST_LOG = web.AppKey("request_log", RequestLog)


def log_outcome(app: web.Application) -> Callable[[Outcome], None]:
    """The hook the pipeline calls with each finished Outcome (the store opens after create_app).

    The record is made on the loop's next turn, not in the hook: the pipeline finishes a whole answer
    before the front end writes it, so recording here (the record, the log queue, the metric tallies,
    the access line: tens of microseconds) would delay every answer. The task serving the request writes
    the answer in the same turn, so the record follows right after it. An Outcome is not changed once
    finished, so the record is the same."""

    def hook(outcome: Outcome) -> None:
        request_log = app.get(REQUEST_LOG)
        if request_log is not None and request_log.active:
            asyncio.get_running_loop().call_soon(request_log.finish, outcome)

    return hook


def open_store(settings: Settings, metrics: Metrics) -> Store:
    url = settings.store.url.get_secret_value() if settings.store.url else None
    cfg = settings.log
    return Store.create(
        backend_for(settings.store.data_dir, url), log_enabled=cfg.enabled, queue_max=cfg.queue_max,
        batch_rows=cfg.batch_rows, interval_s=cfg.batch_interval_ms / 1000, retention_days=cfg.retention_days,
        on_dropped=metrics.dropped,
    )


def store_context(settings: Settings, worker: int) -> Callable[[web.Application], AsyncIterator[None]]:
    async def context(app: web.Application) -> AsyncIterator[None]:
        metrics = Metrics(worker)
        store = open_store(settings, metrics)
        app[METRICS] = metrics
        app[STORE] = store
        app[RESPONSE_STORE] = DatabaseResponseStore(store.backend)
        app[REQUEST_LOG] = RequestLog(store, metrics, log_enabled=settings.log.enabled,
                                      metrics_enabled=settings.server.metrics, access_log=settings.server.access_log)
        await store.start()
        refresher = asyncio.get_running_loop().create_task(keep_gauges_fresh(app))
        metrics_site = await start_metrics_listener(settings, metrics, app) if settings.server.metrics_listen else None
        try:
            yield
        finally:
            refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await refresher
            if metrics_site is not None:
                await metrics_site.cleanup()
            await store.close(timeout=settings.server.shutdown_grace_s or 5.0)
            metrics.flush()

    return context


async def keep_gauges_fresh(app: web.Application) -> None:
    """Gauges of every worker stay current between scrapes (a scrape reaches only one worker)."""
    while True:
        try:
            prometheus.refresh_gauges(app)
            app[METRICS].flush()
        except Exception:  # noqa: BLE001 - a gauge refresh must never end the loop
            log.exception("metrics: gauge refresh failed")
        await asyncio.sleep(GAUGE_REFRESH_S)


async def start_metrics_listener(settings: Settings, metrics: Metrics, main: web.Application) -> web.AppRunner:
    """`server.metrics_listen`: /metrics alone on its own port, without auth, as scrapers expect."""
    assert settings.server.metrics_listen is not None
    host, _, port = settings.server.metrics_listen.rpartition(":")
    app = web.Application()
    app[prometheus.SOURCE] = main
    app.router.add_get("/metrics", prometheus.scrape_open)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host.strip("[]"), int(port), reuse_port=settings.server.workers > 1)
    await site.start()
    return runner


def install_request_log(app: web.Application, settings: Settings, worker: int = 0) -> None:
    """Cleanup context and routes; call before the gateway's own context so the store closes last."""
    app.cleanup_ctx.append(store_context(settings, worker))
    app.router.add_get("/v1/requests", requests_log.list_requests)
    app.router.add_get("/v1/requests/{id}", requests_log.get_request)
    app.router.add_get("/v1/usage", requests_log.usage)
    app.router.add_post("/v1/feedback", requests_log.feedback)
    app.router.add_get("/metrics", prometheus.scrape)
