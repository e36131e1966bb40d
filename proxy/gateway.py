"""The gateway's shared state for one process: catalogue, live scorer, upstream pool."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from proxy._scorer import Scorer
from proxy.catalog import Catalog
from proxy.config import Settings
from proxy.drain import Drain
from proxy.upstream import UpstreamPool


@dataclass
class Gateway:
    settings: Settings
    catalog: Catalog
    scorer: Scorer
    upstreams: UpstreamPool
    simulated: bool = False
    model_router: Any = None  # proxy.routing.model_routing's router, when auto routing is available
    embeddings: Catalog = field(default_factory=lambda: Catalog({}))  # /v1/embeddings models, apart from chat
    started_at: float = field(default_factory=time.time)
    requests_total: int = 0
    in_flight: int = 0
    drain: Drain = field(default_factory=Drain)


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
