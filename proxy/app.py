"""The application factory: config in, a wired aiohttp app out (resources, routes, middlewares)."""

from __future__ import annotations

import gc
import logging
import os
from collections.abc import AsyncIterator, Callable, Mapping

from aiohttp import web

from proxy.api import chat, health, messages, models, route
from proxy.api.console import add_console_routes
from proxy.appkeys import GATEWAY
from proxy.auth import auth_middlewares
from proxy.catalog import Upstream, build_catalog
from proxy.config import Settings
from proxy.gateway import Gateway, build_scorer
from proxy.middlewares import errors_middleware
from proxy.providers.registry import adapter_for
from proxy.simulated.launch import start_simulated
from proxy.simulated.server import MockServer
from proxy.upstream import UpstreamPool

log = logging.getLogger("switchyard")


def keyed_upstreams(settings: Settings, environ: Mapping[str, str]) -> dict[str, Upstream]:
    """Providers whose API key is in the environment, or that need none."""
    out: dict[str, Upstream] = {}
    for slug, provider in settings.providers.items():
        if provider.api_key_env is None:
            out[slug] = Upstream(provider.base_url, None)
        elif environ.get(provider.api_key_env):
            out[slug] = Upstream(provider.base_url, environ[provider.api_key_env])
    return out


def gateway_context(settings: Settings, environ: Mapping[str, str]) -> Callable[[web.Application], AsyncIterator[None]]:
    async def context(app: web.Application) -> AsyncIterator[None]:
        upstreams = keyed_upstreams(settings, environ)
        mocks: list[MockServer] = []
        simulated = settings.simulate == "always" or (settings.simulate == "auto" and not any(
            settings.providers[s].api_key_env for s in upstreams
        ))
        if simulated:
            upstreams, mocks = await start_simulated(settings)
            log.warning(
                "No provider API keys found in the environment: serving from %d built-in simulated providers (%s).",
                len(mocks), ", ".join(upstreams),
            )
        adapters = {}
        for slug in list(upstreams):
            try:
                adapters[slug] = adapter_for(settings.providers[slug])
            except ImportError:
                log.warning("provider %s speaks %s, which this build has no adapter for; left out", slug, settings.providers[slug].wire)
                del upstreams[slug]
        catalog = build_catalog(settings, upstreams, adapters)
        scorer = build_scorer(settings, catalog)
        pool = UpstreamPool()
        gw = Gateway(settings=settings, catalog=catalog, scorer=scorer, upstreams=pool, simulated=simulated)
        gw.model_router = load_model_router(gw)
        app[GATEWAY] = gw
        thresholds = tune_gc()
        try:
            yield
        finally:
            gc.set_threshold(*thresholds)
            gc.unfreeze()
            await pool.close()
            for server in mocks:
                await server.stop()

    return context


# Young-generation collection threshold while serving (CPython's default is 700). A request keeps
# ~100 container objects alive while in flight and frees them by reference counting (it makes no
# cyclic garbage), but the collector's count of young objects only falls while it is above zero, so
# under load it climbs to 700 every ~15 requests and each collection walks, then promotes, objects of
# the requests in flight: ~25 us of CPU per request at 2,500 requests/s, measured with gc.callbacks.
# At 10,000 it is reached a few times a minute instead, and cyclic garbage still gets collected.
GC_YOUNG_THRESHOLD = 10_000


def tune_gc() -> tuple[int, int, int]:
    """Set the collector up for serving; returns the thresholds to restore.

    The start-up heap (catalogue, pydantic models, router weights, modules: ~50,000 objects) lives as
    long as the process; frozen, out of the collector's reach, a full collection no longer walks it
    (~25 ms each, several a second under load before), and forked workers keep sharing its pages."""
    gc.collect()
    gc.freeze()
    thresholds = gc.get_threshold()
    gc.set_threshold(max(thresholds[0], GC_YOUNG_THRESHOLD), thresholds[1], thresholds[2])
    return thresholds


def load_model_router(gw: Gateway) -> object | None:
    """Auto routing's learned router (weights file + Rust scorer), when this build has it."""
    try:
        from proxy.routing.model_routing import build_model_router
    except ImportError:
        return None
    return build_model_router(gw)


async def begin_drain(app: web.Application) -> None:
    """SIGTERM: the listener is closed already; in-flight answers get `shutdown_grace_s` to finish."""
    gw = app.get(GATEWAY)
    if gw is not None:
        gw.drain.begin(gw.settings.server.shutdown_grace_s)


def create_app(settings: Settings, *, environ: Mapping[str, str] | None = None) -> web.Application:
    environ = os.environ if environ is None else environ
    # errors first, so a 401 from the key check leaves in OpenAI's error shape too
    middlewares = [errors_middleware, *auth_middlewares(settings.server, environ)]
    app = web.Application(
        middlewares=middlewares, handler_args={"max_field_size": 65536}, client_max_size=settings.server.max_body_bytes
    )
    app.cleanup_ctx.append(gateway_context(settings, environ))
    app.on_shutdown.append(begin_drain)
    app.router.add_post("/v1/chat/completions", chat.chat_completions)
    app.router.add_post("/v1/messages", messages.messages)
    app.router.add_post("/v1/route", route.route_dry_run)
    app.router.add_get("/v1/models", models.list_models)
    app.router.add_get("/v1/models/{slug:.+}", models.get_model)
    app.router.add_get("/health", health.health)
    add_console_routes(app)
    return app
