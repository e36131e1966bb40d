"""The gateway's shared state for one process: settings, the pipeline's resources, liveness counters."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from proxy._scorer import Scorer
from proxy.catalog import Catalog
from proxy.config import Settings
from proxy.pipeline import ChatResources
from proxy.routing.model_fit import token_counter
from proxy.routing.model_routing import ModelRouter
from proxy.upstream.drain import Drain
from proxy.upstream.pool import UpstreamPool


@dataclass
class Gateway:
    settings: Settings
    chat: ChatResources
    simulated: bool = False
    gateway_keys: bool = False  # whether clients must present a gateway API key
    embeddings: Catalog = field(default_factory=lambda: Catalog({}))  # /v1/embeddings models, apart from chat
    started_at: float = field(default_factory=time.time)
    in_flight: int = 0

    @property
    def catalog(self) -> Catalog:
        return self.chat.catalog

    @property
    def scorer(self) -> Scorer:
        return self.chat.scorer

    @property
    def upstreams(self) -> UpstreamPool:
        return self.chat.upstreams

    @property
    def drain(self) -> Drain:
        return self.chat.drain

    @property
    def model_router(self) -> ModelRouter | None:
        return self.chat.model_router

    def count_tokens(self, text: str) -> int:
        """The gateway's token estimate (see `model_fit.token_counter`)."""
        return token_counter(self.model_router)(text)


def build_scorer(settings: Settings, *catalogs: Catalog) -> Scorer:
    r = settings.routing
    scorer = Scorer(
        ewma_alpha=r.ewma_alpha,
        failure_threshold=r.failure_threshold,
        cooldown_ms=r.cooldown_s * 1000.0,
        max_cooldown_ms=r.max_cooldown_s * 1000.0,
    )
    for catalog in catalogs:
        for model in catalog.models.values():
            for route in model.routes.values():
                scorer.register(model.slug, route.provider, route.input_price, route.output_price)
    return scorer
