"""Routing facts straight from the bundled catalogue, for offline tools (the eval, the speed bench, tests):
each model's limits, capabilities, offers' prices and resolved ability, without building a gateway."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from proxy.config import ModelConfig
from proxy.routing.abilities import Ability, resolve

CATALOG_PATH = Path(__file__).parents[1] / "catalog" / "catalog.yaml"


@dataclass(frozen=True, slots=True)
class CatalogSpec:
    """A model's routing facts from the catalogue, its offers' prices and its ability."""

    slug: str
    config: ModelConfig
    ability: Ability
    prices: dict[str, tuple[float, float]]  # provider -> (input, output) USD per 1M tokens

    def model_kwargs(self) -> dict[str, Any]:
        """Arguments of `Router.add_model`."""
        cfg = self.config
        caps = cfg.capabilities
        return {"slug": self.slug, "a": list(self.ability.a), "b": self.ability.b,
                "context_window": cfg.context_window, "max_output": cfg.max_output, "tools": caps.tools,
                "vision": caps.vision, "json": caps.json_mode, "specialty": cfg.specialty}

    def cheapest_offer(self) -> tuple[str, str, float, float, float, float, bool]:
        provider, (i, o) = min(self.prices.items(), key=lambda kv: kv[1][0] + kv[1][1])
        return (self.slug, provider, i, o, 0.0, 0.0, True)


def load_catalog_specs(slugs: Sequence[str] | None = None, weights: Mapping[str, Any] | None = None,
                       fitted: Mapping[str, Any] | None = None) -> list[CatalogSpec]:
    """Every catalogue model (or `slugs`, in that order) with its ability under the shipped (or given) weights."""
    import yaml

    from proxy.routing.model_routing import load_weights

    w = weights or load_weights()
    doc = yaml.safe_load(CATALOG_PATH.read_text())
    out = []
    for slug, m in doc["models"].items():
        if slugs is not None and slug not in slugs:
            continue
        cfg = ModelConfig.model_validate(m)
        out.append(CatalogSpec(slug, cfg, resolve(slug, cfg, w, fitted),
                               {p: (v.input, v.output) for p, v in cfg.providers.items()}))
    if slugs is not None:
        out.sort(key=lambda s: list(slugs).index(s.slug))
    return out
