"""From a checked call to the ordered (model, provider) candidates the fallback loop will try."""

from __future__ import annotations

from typing import NamedTuple

from proxy._scorer import Scorer
from proxy.call import ChatCall, ProviderRouting
from proxy.catalog import Catalog, Route
from proxy.errors import GatewayError
from proxy.routing.model_fit import able_routes, check_fits_model, token_counter
from proxy.routing.model_routing import AutoDecision, ModelRouter, extract_prompt, route_auto
from proxy.routing.providers import order_providers


class CandidatePlan(NamedTuple):
    """(A named tuple: one is built per request.)"""

    candidates: list[Route]
    decision: AutoDecision | None = None  # how auto routing picked the model, when it did


def plan_candidates(call: ChatCall, catalog: Catalog, scorer: Scorer, router: ModelRouter | None) -> CandidatePlan:
    if call.auto is not None:
        return plan_auto(call, catalog, scorer, router)
    entry, pin = catalog.resolve(call.model)
    check_fits_model(entry.slug, entry.config, call.body, token_counter(router))
    providers = order_providers(
        entry.slug,
        known=entry.config.providers,
        live=entry.routes,
        pin=pin,
        routing=call.provider_routing,
        rank=scorer.rank_providers,
    )
    return CandidatePlan(able_routes([entry.routes[p] for p in providers], call.body, call.stream))


def decide_auto(call: ChatCall, catalog: Catalog, scorer: Scorer, router: ModelRouter | None) -> AutoDecision:
    """What both `model: auto` and `POST /v1/route` do."""
    if router is None or call.auto is None:
        raise GatewayError(400, "Automatic model routing is not available in this build.", param="model")
    return route_auto(catalog, scorer, router, call.auto, extract_prompt(call.body), call.tenant)


def plan_auto(call: ChatCall, catalog: Catalog, scorer: Scorer, router: ModelRouter | None) -> CandidatePlan:
    """The ranked (model, provider) list is the fallback order; the request's provider routing, when
    it set one, orders each model's providers instead of the router."""
    decision = decide_auto(call, catalog, scorer, router)
    by_model: dict[str, list[str]] = {}
    for model, provider in decision.candidates:
        by_model.setdefault(model, []).append(provider)
    routes: list[Route] = []
    explicit = call.provider_routing_set
    for model, providers in by_model.items():
        routes += providers_for(catalog, scorer, model, providers, call.provider_routing, explicit)
    if not routes:
        raise GatewayError(400, "provider.routing.providers names no provider that serves a model in the routing pool.",
                           param="provider.routing.providers", code="unknown_provider")
    return CandidatePlan(able_routes(routes, call.body, call.stream), decision)


def providers_for(catalog: Catalog, scorer: Scorer, model: str, ranked: list[str], routing: ProviderRouting,
                  explicit: bool) -> list[Route]:
    """Provider order for one model: the router's order, or the request's provider routing when it set one."""
    entry = catalog.models[model]
    if routing.kind == "order":
        wanted = [p for p in routing.providers if p in entry.routes]
    elif explicit:
        wanted = [p for p in scorer.rank_providers(model, routing.factor) if p in entry.routes]
    else:
        wanted = ranked
    return [entry.routes[p] for p in wanted]
