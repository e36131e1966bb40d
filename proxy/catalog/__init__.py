"""The runtime catalogue: each model with the providers that can actually serve it right now.

Built once at start-up from Settings. A route is one (model, provider) pair with its upstream id,
prices, limits and the adapter for the provider's wire format. A provider is live when its API key is
in the environment (or it needs none), or when the gateway runs simulated providers.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from proxy.config import ModelConfig, ProviderConfig, Settings
from proxy.errors import GatewayError

if TYPE_CHECKING:  # the adapters sit above the catalogue; a route only holds one
    from proxy.providers.base import Adapter

USER_AGENT = "switchyard/0.1"


@dataclass(frozen=True, slots=True)
class AdapterTarget:
    """What an adapter needs to know about the provider and model it is calling."""

    base_url: str
    upstream_model: str
    api_key: str | None
    extra_headers: Mapping[str, str] = field(default_factory=dict)
    default_max_tokens: int = 4096
    # what the adapter derives from this target alone (URL, auth headers), built on first use and
    # kept with the target, which lives as long as its catalogue route
    prepared: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)


class DefaultTimeouts(NamedTuple):
    """A provider's default limits in seconds, read once from its config."""

    connect_s: float
    first_token_s: float
    idle_s: float
    total_s: float


def with_user_agent(headers: Mapping[str, str]) -> dict[str, str]:
    """The provider's extra headers with Switchyard's User-Agent first, unless they set their own."""
    if any(name.lower() == "user-agent" for name in headers):
        return dict(headers)
    return {"User-Agent": USER_AGENT, **headers}


@dataclass(frozen=True, slots=True)
class Route:
    """One model served by one provider, with what every attempt on it needs computed once, here:
    the adapter's target (URL base, upstream id, key, headers) and the provider's default timeouts."""

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
    cached_input_price: float | None = None  # None: the vendor has no cache discount, so input_price
    cache_write_price: float | None = None
    target: AdapterTarget = field(init=False, repr=False, compare=False)
    timeouts: DefaultTimeouts = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        target = AdapterTarget(
            base_url=self.base_url,
            upstream_model=self.upstream_id,
            api_key=self.api_key,
            extra_headers=with_user_agent(self.provider_config.headers),
            default_max_tokens=min(self.max_output, 8192),
        )
        t = self.provider_config.timeouts
        object.__setattr__(self, "target", target)  # frozen: set once, at construction
        object.__setattr__(self, "timeouts", DefaultTimeouts(t.connect_s, t.first_token_s, t.idle_s, t.total_s))

    def cost_usd(self, prompt_tokens: int, completion_tokens: int, cached_tokens: int = 0, cache_write_tokens: int = 0) -> float:
        """`prompt_tokens` counts every prompt token, cached ones included (OpenAI's convention); cache
        reads and writes are priced at their own rates and the rest at the input price."""
        cached = min(max(cached_tokens, 0), prompt_tokens)
        written = min(max(cache_write_tokens, 0), prompt_tokens - cached)
        fresh = prompt_tokens - cached - written
        read_price = self.input_price if self.cached_input_price is None else self.cached_input_price
        write_price = self.input_price if self.cache_write_price is None else self.cache_write_price
        total = fresh * self.input_price + cached * read_price + written * write_price + completion_tokens * self.output_price
        return round(total / 1e6, 10)


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
    return build_routes(settings.models, settings, upstreams, adapters)


def build_embedding_catalog(settings: Settings, upstreams: Mapping[str, Upstream], adapters: Mapping[str, Adapter]) -> Catalog:
    """The embedding models, apart from the chat catalogue; `adapters` are the embeddings adapters."""
    configs = {slug: cfg.as_model_config() for slug, cfg in settings.embedding_models.items()}
    return build_routes(configs, settings, {p: u for p, u in upstreams.items() if p in adapters}, adapters)


def build_routes(configs: Mapping[str, ModelConfig], settings: Settings, upstreams: Mapping[str, Upstream],
                 adapters: Mapping[str, Adapter]) -> Catalog:
    models: dict[str, ModelEntry] = {}
    for slug, cfg in configs.items():
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
                cached_input_price=offer.cached_input,
                cache_write_price=offer.cache_write,
            )
        models[slug] = ModelEntry(slug=slug, config=cfg, routes=routes, unconfigured=tuple(missing))
    return Catalog(models)
