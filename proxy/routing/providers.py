"""Provider routing for one model: pure functions over the scorer's live ranking."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from proxy.errors import GatewayError

FACTORS = ("latency", "price", "throughput")


@dataclass(frozen=True, slots=True)
class ProviderRouting:
    """`provider.routing` from the request: sort by a factor, or try exactly the listed providers."""

    kind: str  # "priority" | "order"
    factor: str = "latency"
    providers: tuple[str, ...] = ()


def parse_provider_routing(body: dict[str, Any], default_factor: str) -> ProviderRouting:
    """Read `provider.routing`; the request was validated already, so only shape is checked here."""
    routing = (body.get("provider") or {}).get("routing") or {}
    kind = routing.get("type")
    if kind == "order":
        providers = routing.get("providers") or []
        if not providers:
            raise GatewayError(400, "provider.routing.providers must list at least one provider when type is 'order'.", param="provider.routing.providers")
        return ProviderRouting("order", providers=tuple(providers))
    if kind == "priority":
        return ProviderRouting("priority", factor=routing.get("primary_factor") or default_factor)
    default = _DEFAULT_ROUTING.get(default_factor)
    if default is None:  # frozen, so one per factor serves every request that sets none
        default = _DEFAULT_ROUTING[default_factor] = ProviderRouting("priority", factor=default_factor)
    return default


_DEFAULT_ROUTING: dict[str, ProviderRouting] = {}


def order_providers(
    model: str,
    known: Collection[str],
    live: Collection[str],
    pin: str | None,
    routing: ProviderRouting,
    rank: Callable[..., list[str]],
) -> list[str]:
    """The providers to try for `model`, best first.

    `known` are the providers the catalogue lists for the model, `live` those with credentials, and
    `rank(model, factor)` the scorer's live ranking of the live ones.
    """
    if pin is not None:
        if pin not in live:
            raise no_live_provider(model, [pin], param="model")
        return [pin]
    if routing.kind == "order":
        for i, provider in enumerate(routing.providers):
            if provider not in known:
                raise GatewayError(
                    400,
                    f"provider.routing.providers[{i}]: '{provider}' does not serve {model}. Providers: {', '.join(known)}.",
                    param=f"provider.routing.providers[{i}]",
                    code="unknown_provider",
                )
        ordered = [p for p in dict.fromkeys(routing.providers) if p in live]
        if not ordered:
            raise no_live_provider(model, list(routing.providers), param="provider.routing.providers")
        return ordered
    if routing.factor not in FACTORS:
        raise GatewayError(400, f"provider.routing.primary_factor must be one of {', '.join(FACTORS)}.", param="provider.routing.primary_factor")
    if not live:
        raise no_live_provider(model, list(known), param="model")
    return rank(model, routing.factor)


def no_live_provider(model: str, providers: list[str], param: str) -> GatewayError:
    return GatewayError(
        503,
        f"No configured provider can serve {model} (wanted: {', '.join(providers)}). "
        "Set the provider's API key environment variable, or pick another provider.",
        param=param,
        code="no_provider_configured",
    )
