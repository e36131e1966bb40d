"""Provider routing for one model: pure functions over the scorer's live ranking."""

from __future__ import annotations

from collections.abc import Callable, Collection

from proxy.call import ProviderRouting
from proxy.errors import GatewayError


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
