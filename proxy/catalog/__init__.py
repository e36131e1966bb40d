"""The runtime catalogue: each model with the providers that can actually serve it right now.

Built once at start-up from Settings. A route is one (model, provider) pair with its upstream id,
prices, limits and the adapter for the provider's wire format. A provider is live when its API key is
in the environment (or it needs none), or when the gateway runs simulated providers.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field

from proxy.config import ModelConfig, ProviderConfig, Settings
from proxy.errors import GatewayError
from proxy.providers.base import Adapter


@dataclass(frozen=True, slots=True)
class Route:
    """One model served by one provider."""

    model: str
    provider: str
    upstream_id: str
    input_price: float  # USD per 1M tokens
    output_price: float
    context_window: int
    max_output: int
    wire: str
    base_url: str
    adapter: Adapter = field(repr=False, compare=False)
    provider_config: ProviderConfig = field(repr=False, compare=False)
    api_key: str | None = field(default=None, repr=False, compare=False)

    def cost_usd(self, prompt_tokens: int, completion_tokens: int) -> float:
        return round((prompt_tokens * self.input_price + completion_tokens * self.output_price) / 1e6, 10)


@dataclass(frozen=True, slots=True)
class ModelEntry:
    slug: str
    config: ModelConfig
    routes: dict[str, Route]  # live providers, in catalogue order
    unconfigured: tuple[str, ...]  # providers listed for the model whose key is missing

    @property
    def vendor(self) -> str:
        return self.slug.split("/", 1)[0]


@dataclass(frozen=True, slots=True)
class Upstream:
    """Where a provider is reached and with which key; simulated mode swaps these for local mocks."""

    base_url: str
    api_key: str | None


def unambiguous(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """name -> slug, leaving out any name that two different models claim."""
    out: dict[str, str] = {}
    ambiguous: set[str] = set()
    for name, slug in pairs:
        if out.get(name, slug) != slug:
            ambiguous.add(name)
        out[name] = slug
    for name in ambiguous:
        del out[name]
    return out


class Catalog:
    def __init__(self, models: dict[str, ModelEntry]) -> None:
        self.models = models
        self._short_names = unambiguous([(slug.split("/", 1)[-1], slug) for slug in models])
        # other names a client may send: catalogue aliases first, then each provider's own model id
        self._aliases = {alias: m.slug for m in models.values() for alias in m.config.aliases}
        native = unambiguous([(offer.id, m.slug) for m in models.values() for offer in m.config.providers.values()])
        for name, slug in native.items():
            self._aliases.setdefault(name, slug)

    def live_models(self) -> list[ModelEntry]:
        return [m for m in self.models.values() if m.routes]

    def resolve(self, name: str) -> tuple[ModelEntry, str | None]:
        """`vendor/model`, a unique bare model name, an alias or a provider's own id for the model
        (`claude-sonnet-4-20250514`), or any of them with `:provider` pinned."""
        entry = self._lookup(name)
        if entry is not None:
            return entry, None
        base, sep, provider = name.rpartition(":")
        if sep:
            entry = self._lookup(base)
            if entry is not None:
                if provider not in entry.config.providers:
                    known = ", ".join(entry.config.providers)
                    raise GatewayError(
                        400,
                        f"Model '{entry.slug}' is not served by provider '{provider}'. Providers: {known}.",
                        param="model",
                        code="unknown_provider",
                    )
                return entry, provider
        raise self.unknown_model(name)

    def _lookup(self, name: str) -> ModelEntry | None:
        entry = self.models.get(name)
        if entry is None:
            slug = self._short_names.get(name) or self._aliases.get(name)
            entry = self.models[slug] if slug is not None else None
        return entry

    def unknown_model(self, name: str, param: str = "model") -> GatewayError:
        names = list(self.models) + list(self._short_names) + list(self._aliases)
        close = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
        hint = f" Did you mean: {', '.join(close)}?" if close else " GET /v1/models lists them."
        return GatewayError(404, f"The model '{name}' does not exist.{hint}", param=param, code="model_not_found")


def build_catalog(settings: Settings, upstreams: Mapping[str, Upstream], adapters: Mapping[str, Adapter]) -> Catalog:
    """`upstreams` holds only the live providers; a model's other providers are listed as unconfigured."""
    models: dict[str, ModelEntry] = {}
    for slug, cfg in settings.models.items():
        routes: dict[str, Route] = {}
        missing: list[str] = []
        for provider_slug, offer in cfg.providers.items():
            upstream = upstreams.get(provider_slug)
            if upstream is None:
                missing.append(provider_slug)
                continue
            provider = settings.providers[provider_slug]
            routes[provider_slug] = Route(
                model=slug,
                provider=provider_slug,
                upstream_id=offer.id,
                input_price=offer.input,
                output_price=offer.output,
                context_window=offer.context_window or cfg.context_window,
                max_output=offer.max_output or cfg.max_output,
                wire=provider.wire,
                base_url=upstream.base_url,
                adapter=adapters[provider_slug],
                provider_config=provider,
                api_key=upstream.api_key,
            )
        models[slug] = ModelEntry(slug=slug, config=cfg, routes=routes, unconfigured=tuple(missing))
    return Catalog(models)
