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
    started_at: float = field(default_factory=time.time)
    requests_total: int = 0
    in_flight: int = 0
    drain: Drain = field(default_factory=Drain)

    def count_tokens(self, text: str) -> int:
        """The gateway's token estimate: the router's o200k count, else four characters a token."""
        if self.model_router is not None:
            return int(self.model_router.router.features(text)["est_tokens"])
        return max(1, len(text) // 4) if text else 0


def build_scorer(settings: Settings, catalog: Catalog) -> Scorer:
    r = settings.routing
    scorer = Scorer(
        ewma_alpha=r.ewma_alpha,
        failure_threshold=r.failure_threshold,
        cooldown_ms=r.cooldown_s * 1000.0,
        max_cooldown_ms=r.max_cooldown_s * 1000.0,
    )
    for model in catalog.models.values():
        for route in model.routes.values():
            scorer.register(model.slug, route.provider, route.input_price, route.output_price)
    return scorer
