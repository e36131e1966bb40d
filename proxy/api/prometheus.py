"""GET /metrics: Prometheus exposition. With gateway keys on it needs an admin key, unless served
alone on `server.metrics_listen`, which has no auth (scrapers send none)."""

from __future__ import annotations

from aiohttp import web

from proxy.api.frontend import identity_of
from proxy.appkeys import GATEWAY, KEYS, METRICS, STORE
from proxy.errors import GatewayError

SOURCE = web.AppKey("metrics_source", web.Application)  # the gateway app a metrics-only listener reads


async def scrape(request: web.Request) -> web.Response:
    if not request.app[GATEWAY].settings.server.metrics:
        raise GatewayError(404, "Metrics are off (server.metrics: false).", code="metrics_disabled")
    if not identity_of(request).admin:
        raise GatewayError(403, "/metrics needs an admin key (server.admin_keys), or scrape server.metrics_listen.",
                           code="forbidden")
    return exposition(request.app)


async def scrape_open(request: web.Request) -> web.Response:
    return exposition(request.app[SOURCE])


def refresh_gauges(app: web.Application) -> None:
    metrics, store, gw = app[METRICS], app[STORE], app.get(GATEWAY)
    circuits = ((s["model"], s["provider"], s["circuit"]) for s in gw.scorer.all_stats()) if gw is not None else ()
    metrics.refresh(gw.in_flight if gw is not None else 0, store.writer.depth, circuits)
    keys = app.get(KEYS)
    if keys is not None:
        metrics.refresh_limits(keys.state.divisor, keys.state.redis_up if keys.state.shared else None)


def exposition(app: web.Application) -> web.Response:
    refresh_gauges(app)
    body, content_type = app[METRICS].exposition()
    return web.Response(body=body, headers={"Content-Type": content_type})
