"""From a validated request to the ordered (model, provider) candidates the fallback loop will try."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

from proxy.catalog import Route
from proxy.errors import GatewayError
from proxy.gateway import Gateway
from proxy.routing.model_fit import check_fits_model
from proxy.routing.providers import order_providers, parse_provider_routing

AUTO_MODEL = "auto"


class CandidatePlan(NamedTuple):
    """(A named tuple: one is built per request.)"""

    candidates: list[Route]
    route_reason: str | None = None  # for x-switchyard-route when the model was picked by auto routing
    details: Mapping[str, Any] = MappingProxyType({})


def plan_candidates(gw: Gateway, body: dict[str, Any], headers: Mapping[str, str]) -> CandidatePlan:
    model_name: str = body["model"]
    routing = parse_provider_routing(body, gw.settings.routing.default_factor)
    if model_name == AUTO_MODEL:
        if gw.model_router is None:
            raise GatewayError(400, "Automatic model routing is not available in this build.", param="model")
        from proxy.routing.model_routing import plan_auto

        return plan_auto(gw, body, headers, routing)  # type: ignore[no-any-return]
    entry, pin = gw.catalog.resolve(model_name)
    check_fits_model(entry.slug, entry.config, body, gw.count_tokens)
    providers = order_providers(
        entry.slug,
        known=entry.config.providers,
        live=entry.routes,
        pin=pin,
        routing=routing,
        rank=gw.scorer.rank_providers,
    )
    return CandidatePlan([entry.routes[p] for p in providers])
