"""The application factory: config in, a wired aiohttp app out (resources, routes, middlewares)."""

from __future__ import annotations

import gc
import logging
import os
from collections.abc import AsyncIterator, Callable, Mapping, Sequence

from aiohttp import web

from proxy.api import (
    anthropic_messages,
    corrections,
    count_tokens,
    embeddings,
    health,
    keys,
    legacy,
    models,
    openai_chat,
    responses,
    route,
)
from proxy.api.console import add_console_routes
from proxy.api.frontend import FRONT_ENDS
from proxy.api.middleware import gateway_middleware
from proxy.appkeys import CIRCUITS, GATEWAY, KEYS, LEARNING, METRICS, STORE
from proxy.auth import GatewayAccess, key_checker
from proxy.cache import MemoryStore
from proxy.cache.redis_store import RedisStore
from proxy.catalog import Upstream, build_catalog, build_embedding_catalog
from proxy.config import Settings
from proxy.gateway import Gateway, build_scorer
from proxy.keys.enforce import Enforcer
from proxy.keys.gate import KeyGate
from proxy.keys.registry import KeyRegistry
from proxy.keys.service import KeyService
from proxy.learning import FeedbackLearning, learning_hook
from proxy.observability import install_request_log, log_outcome
from proxy.outcome import Outcome
from proxy.pipeline import ChatResources
from proxy.pipeline.cached import AnswerCache
from proxy.providers.base import Adapter
from proxy.providers.embeddings import EMBEDDING_WIRES, embeddings_adapter_for
from proxy.providers.registry import adapter_for
from proxy.request_id import install_log_filter
from proxy.routing.hedging import Hedging
from proxy.routing.model_routing import build_model_router
from proxy.serving_mode import keyed_upstreams, should_simulate, startup_line
from proxy.simulated.launch import start_simulated
from proxy.simulated.server import MockServer
from proxy.state.circuits import SharedCircuits
from proxy.state.shared import SharedState
from proxy.upstream.drain import Drain
from proxy.upstream.keys import build_upstream_keys
from proxy.upstream.pool import UpstreamPool

log = logging.getLogger("switchyard")


def embedding_adapters(settings: Settings, upstreams: Mapping[str, Upstream]) -> dict[str, Adapter]:
    """The embeddings adapter of each live provider whose wire format has an embeddings API."""
    out: dict[str, Adapter] = {}
    for slug in upstreams:
        provider = settings.providers[slug]
        if provider.wire in EMBEDDING_WIRES:
            out[slug] = embeddings_adapter_for(provider.wire, provider.auth_header, provider.auth_scheme)
    return out


def gateway_context(
    settings: Settings, environ: Mapping[str, str], on_finish: Sequence[Callable[[Outcome], None]] = ()
) -> Callable[[web.Application], AsyncIterator[None]]:
    async def context(app: web.Application) -> AsyncIterator[None]:
        upstreams = keyed_upstreams(settings, environ)
        mocks: list[MockServer] = []
        simulated = should_simulate(settings, upstreams)
        if simulated:
            upstreams, mocks = await start_simulated(settings)
        keys_on = bool(key_checker(settings.server, environ)) or app[KEYS].registry.any
        log.warning(startup_line(simulated, upstreams, keys_on))
        adapters = {slug: adapter_for(settings.providers[slug]) for slug in upstreams}
        catalog = build_catalog(settings, upstreams, adapters)
        embeddings = build_embedding_catalog(settings, upstreams, embedding_adapters(settings, upstreams))
        pool = UpstreamPool()
        key_service = app[KEYS]
        scorer = build_scorer(settings, catalog, embeddings)
        # provider health shared with the other replicas (when state.redis_url is set)
        circuits = SharedCircuits(key_service.state, scorer, settings.state.sync_interval_ms / 1000)
        # the answer cache: shared by the replicas through Redis when there is one, else this process's LRU
        redis_url = settings.state.redis_url
        store = RedisStore.from_url(redis_url.get_secret_value(), settings.cache.redis_timeout_s) if redis_url else MemoryStore(settings.cache.max_bytes)
        model_router = build_model_router(catalog, settings.routing.router_path)
        chat = ChatResources(
            catalog=catalog,
            scorer=scorer,
            model_router=model_router,
            upstreams=pool,
            drain=Drain(),
            max_attempts=settings.routing.max_attempts,
            on_finish=tuple(on_finish),
            hedging=Hedging(settings.routing.hedge, catalog, scorer),
            cache=AnswerCache(store, settings.cache),
            upstream_keys=build_upstream_keys(settings, environ) if not simulated else None,
            probe_gate=circuits.probe_gate if key_service.state.shared else None,
            bodies_max_bytes=settings.log.body_max_bytes if settings.log.enabled and settings.log.bodies else 0,
        )
        app[GATEWAY] = Gateway(settings=settings, chat=chat, simulated=simulated, gateway_keys=keys_on, embeddings=embeddings)
        key_service.gate = KeyGate(key_service.enforcer, catalog, embeddings)
        app[CIRCUITS] = circuits
        circuits.start()
        learning = None
        if model_router is not None and settings.routing.feedback.enabled and settings.log.enabled:
            # it learns from the log (without one, a rebuild would forget everything): after the store
            # opened (install_request_log's context runs first), start-up replays it
            learning = app[LEARNING] = FeedbackLearning(model_router, app[STORE], settings.routing.feedback)
            await learning.start()
        thresholds = tune_gc()
        try:
            yield
        finally:
            if learning is not None:
                await learning.close()
            await circuits.close()
            if isinstance(store, RedisStore):
                await store.close()
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


async def begin_drain(app: web.Application) -> None:
    """SIGTERM: the listener is closed already; in-flight answers get `shutdown_grace_s` to finish."""
    gw = app.get(GATEWAY)
    if gw is not None:
        gw.drain.begin(gw.settings.server.shutdown_grace_s)


def build_key_service(settings: Settings) -> KeyService:
    """Virtual keys and the shared state their limits live in (opened by keys_context)."""
    state = SharedState(settings.state, workers=settings.server.workers)
    registry = KeyRegistry(settings.state.key_sync_ms)
    # a slot or reservation whose request never settles (its replica died) lives this long
    lease_s = max((p.timeouts.total_s for p in settings.providers.values()), default=600.0) + 30.0
    return KeyService(registry, Enforcer(registry, state, settings.state.window_s, lease_s), state)


async def keys_context(app: web.Application) -> AsyncIterator[None]:
    """After the store opens: start the shared state, then load the keys and follow their changes."""
    service = app[KEYS]
    state, registry = service.state, service.registry
    state.subscribe(registry.on_event)
    registry.on_spend = lambda rec: state.sync_spent(rec.id, rec.spend_period, rec.spend_nusd)
    await state.start()
    backend = app[STORE].backend
    service.backend = service.enforcer.spend.backend = backend
    service.enforcer.on_refused = app[METRICS].refused
    await registry.start(backend)
    try:
        yield
    finally:
        await registry.close()
        await service.enforcer.drain()
        await state.close()


# One module per inbound API: its routes, and the front end that renders that path's errors.
CHAT_APIS = ((openai_chat, "/v1/chat/completions", openai_chat.chat_completions),
             (anthropic_messages, "/v1/messages", anthropic_messages.messages),
             (responses, "/v1/responses", responses.create_response))


def create_app(
    settings: Settings,
    *,
    environ: Mapping[str, str] | None = None,
    on_finish: Sequence[Callable[[Outcome], None]] = (),
    worker: int = 0,
) -> web.Application:
    """`on_finish`: hooks called once with each chat request's finished Outcome (request log, metrics)."""
    environ = os.environ if environ is None else environ
    install_log_filter(log)
    checker = key_checker(settings.server, environ)
    key_service = build_key_service(settings)
    # the key check is always on the path, since issuing the first virtual key turns it on; its 401
    # leaves in the API's own error shape, as every error does
    middlewares = [gateway_middleware(GatewayAccess(checker, environ, key_service.registry))]
    app = web.Application(
        middlewares=middlewares, handler_args={"max_field_size": 65536}, client_max_size=settings.server.max_body_bytes
    )
    app[KEYS] = key_service
    install_request_log(app, settings, worker)  # first in, last out: the store outlives the gateway
    app.cleanup_ctx.append(keys_context)
    hooks = (*on_finish, log_outcome(app), learning_hook(lambda: app.get(LEARNING)))
    app.cleanup_ctx.append(gateway_context(settings, environ, hooks))
    app.on_shutdown.append(begin_drain)
    app[FRONT_ENDS] = {}
    for module, path, handler in CHAT_APIS:
        app.router.add_post(path, handler)
        app[FRONT_ENDS][path] = module.FRONT_END
    app.router.add_get("/v1/responses/{response_id}", responses.get_response)
    app.router.add_delete("/v1/responses/{response_id}", responses.delete_response)
    app.router.add_get("/v1/responses/{response_id}/input_items", responses.list_input_items)
    app.router.add_post("/v1/embeddings", embeddings.create_embeddings)
    app[FRONT_ENDS]["/v1/embeddings"] = openai_chat.FRONT_END
    app.router.add_post("/v1/completions", legacy.completions)
    app.router.add_post("/v1/messages/count_tokens", count_tokens.count_tokens)
    app[FRONT_ENDS]["/v1/messages/count_tokens"] = anthropic_messages.FRONT_END
    app.router.add_post("/v1/route", route.route_dry_run)
    app.router.add_get("/v1/routing/corrections", corrections.list_corrections)
    app.router.add_get("/v1/models", models.list_models)
    app.router.add_get("/v1/models/{slug:.+}", models.get_model)
    app.router.add_get("/health", health.health)
    keys.add_routes(app)
    add_console_routes(app)
    return app
