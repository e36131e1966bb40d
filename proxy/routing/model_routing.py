"""Model routing for `model: "auto"`: pure functions over the catalogue, the scorer's numbers and the Rust Router.

`extract_prompt` reads what the router scores from the messages; `route_auto` ranks the pool and turns
the decision into (model, provider) candidates plus the details `/v1/route` shows. The routing ask
itself (`AutoRouting`: pool and canonical preference) was parsed once, in `proxy.call`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from proxy._scorer import Router, Scorer
from proxy.call import AutoRouting
from proxy.catalog import Catalog
from proxy.config import ModelConfig, load_settings
from proxy.errors import GatewayError

WEIGHTS_PATH = Path(__file__).with_name("router_weights.json")
IMAGE_TOKENS = 765  # a 512px-tiled image at high detail in OpenAI's accounting
MESSAGE_FRAMING_TOKENS = 4
CANDIDATE_FIELDS = ("model", "provider", "predicted_quality", "estimated_cost_usd", "estimated_latency_ms", "score",
                    "healthy")


@dataclass(frozen=True, slots=True)
class PromptInfo:
    """What the router reads from `messages` and the request's other fields."""

    text: str  # the last user turn: what the quality predictor scores
    context: str  # every other message's text, counted for tokens only
    turns: int
    system_chars: int
    images: int
    tools: int
    json_mode: bool
    max_tokens: int | None


@dataclass(frozen=True, slots=True)
class AutoDecision:
    candidates: list[tuple[str, str]]  # (model, provider), in fallback order
    reason: str
    details: dict[str, Any] = field(default_factory=dict)


def _part_text(content: Any) -> tuple[str, int]:
    """(text, image count) of a message's content: a string or a list of content parts."""
    if isinstance(content, str):
        return content, 0
    if not isinstance(content, list):
        return "", 0
    texts, images = [], 0
    for part in content:
        if not isinstance(part, Mapping):
            continue
        kind = part.get("type")
        if kind in ("text", "input_text") and isinstance(part.get("text"), str):
            texts.append(part["text"])
        elif kind in ("image_url", "input_image", "image"):
            images += 1
    return "\n".join(texts), images


def extract_prompt(body: Mapping[str, Any]) -> PromptInfo:
    messages = [m for m in body.get("messages") or [] if isinstance(m, Mapping)]
    texts: list[tuple[str, str]] = []
    images = system_chars = 0
    for m in messages:
        text, n_images = _part_text(m.get("content"))
        images += n_images
        if m.get("role") in ("system", "developer"):
            system_chars += len(text)
        texts.append((str(m.get("role")), text))
    last_user = max((i for i, (role, _) in enumerate(texts) if role == "user"), default=len(texts) - 1)
    text = texts[last_user][1] if texts else ""
    context = "\n".join(t for i, (_, t) in enumerate(texts) if i != last_user and t)
    fmt = body.get("response_format")
    json_mode = isinstance(fmt, Mapping) and fmt.get("type") in ("json_object", "json_schema")
    max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
    tools = body.get("tools") or body.get("functions") or []
    return PromptInfo(
        text=text,
        context=context,
        turns=sum(1 for role, _ in texts if role == "user"),
        system_chars=system_chars,
        images=images,
        tools=len(tools) if isinstance(tools, list) else 0,
        json_mode=bool(json_mode),
        max_tokens=max_tokens if isinstance(max_tokens, int) and not isinstance(max_tokens, bool) else None,
    )


def load_weights(path: Path = WEIGHTS_PATH) -> dict[str, Any]:
    return json.loads(path.read_text())  # type: ignore[no-any-return]


@dataclass(frozen=True, slots=True)
class CatalogSpec:
    """A model's routing facts from the (validated) catalogue, and its offers' prices."""

    slug: str
    quality: float
    context_window: int
    max_output: int
    tools: bool
    vision: bool
    json: bool
    prices: dict[str, tuple[float, float]]  # provider -> (input, output) USD per 1M tokens
    specialty: str | None = None

    @classmethod
    def from_config(cls, slug: str, cfg: ModelConfig) -> CatalogSpec:
        caps = cfg.capabilities
        return cls(slug=slug, quality=cfg.quality, context_window=cfg.context_window, max_output=cfg.max_output,
                   tools=caps.tools, vision=caps.vision, json=caps.json_mode,
                   prices={p: (o.input, o.output) for p, o in cfg.providers.items()}, specialty=cfg.specialty)

    def model_kwargs(self) -> dict[str, Any]:
        return {"slug": self.slug, "quality": self.quality, "context_window": self.context_window,
                "max_output": self.max_output, "tools": self.tools, "vision": self.vision, "json": self.json,
                "specialty": self.specialty}

    def cheapest_offer(self) -> tuple[str, str, float, float, float, float, bool]:
        provider, (i, o) = min(self.prices.items(), key=lambda kv: kv[1][0] + kv[1][1])
        return (self.slug, provider, i, o, 0.0, 0.0, True)


def load_catalog_specs(slugs: Sequence[str] | None = None) -> list[CatalogSpec]:
    """Routing facts of the bundled catalogue, through the same validated settings the gateway loads
    (for offline tools: the eval and the speed bench)."""
    models = load_settings(None, environ={}).models
    order = list(slugs) if slugs is not None else list(models)
    return [CatalogSpec.from_config(slug, models[slug]) for slug in order if slug in models]


class ModelRouter:
    """The gateway's router: the Rust Router loaded with the weights and every catalogue model."""

    def __init__(self, catalog: Catalog, weights: Mapping[str, Any] | None = None) -> None:
        self.router = Router(dict(weights or load_weights()))
        for entry in catalog.models.values():
            self.router.add_model(**CatalogSpec.from_config(entry.slug, entry.config).model_kwargs())


def build_model_router(catalog: Catalog) -> ModelRouter | None:
    """None when the weights file is missing: `auto` then answers 400 rather than guessing."""
    if not WEIGHTS_PATH.exists():
        return None
    return ModelRouter(catalog)


def _offers(catalog: Catalog, scorer: Scorer, pool: Sequence[str]) -> list[tuple[str, str, float, float, float, float, bool]]:
    offers = []
    for slug in pool:
        for route in catalog.models[slug].routes.values():
            stats = scorer.stats(slug, route.provider)
            offers.append((slug, route.provider, route.input_price, route.output_price,
                           float(stats.get("first_token_ms") or 0.0), float(stats.get("tokens_per_s") or 0.0),
                           bool(stats.get("available", True))))
    return offers


def route_auto(catalog: Catalog, scorer: Scorer, router: ModelRouter, request: AutoRouting, prompt: PromptInfo) -> AutoDecision:
    """Rank the pool for this prompt (its slugs were checked against the catalogue by `parse_chat_call`);
    candidates are grouped by model, best first."""
    pool = list(request.pool) if request.pool is not None else [m.slug for m in catalog.live_models()]
    unserved = [m for m in pool if not catalog.models[m].routes]
    servable = [m for m in pool if catalog.models[m].routes]
    if not servable:
        raise GatewayError(503, "No model in the routing pool has a configured provider. Set a provider's API key "
                           "environment variable, or widen model_routing_config.available_models.",
                           param="model_routing_config.available_models", code="no_provider_configured")
    extra = prompt.images * IMAGE_TOKENS + MESSAGE_FRAMING_TOKENS * (prompt.turns + 1)
    if prompt.context:
        extra += int(router.router.features(prompt.context)["est_tokens"])
    decision = router.router.route(
        prompt.text, _offers(catalog, scorer, servable), preference=request.preference, tools=prompt.tools > 0,
        vision=prompt.images > 0, json=prompt.json_mode, max_tokens=prompt.max_tokens, extra_input_tokens=extra,
        explain=True,
    )
    ranked: list[dict[str, Any]] = [dict(zip(CANDIDATE_FIELDS, row)) for row in decision["candidates"]]
    rejected = [{"model": m, "reason": why} for m, why in decision["rejected"]]
    rejected += [{"model": m, "reason": "no_configured_provider"} for m in unserved]
    if not ranked:
        why = "; ".join(f"{r['model']}: {r['reason']}" for r in rejected)
        raise GatewayError(400, f"No model in the routing pool can take this request ({why}).",
                           param="model_routing_config.available_models", code="no_model_fits")
    models = list(dict.fromkeys(c["model"] for c in ranked))
    chosen = models[0]
    others = len(models) - 1
    reason = (f"pref={request.preference}; difficulty={decision['difficulty']:.2f}; "
              f"picked={chosen} over {others} other{'s' if others != 1 else ''}")
    features = {
        **decision["features"],
        "input_tokens": decision["input_tokens"],
        "expected_output_tokens": decision["output_tokens"],
        "difficulty": round(decision["difficulty"], 4),
        "turns": prompt.turns,
        "system_prompt_chars": prompt.system_chars,
        "tools": prompt.tools,
        "images": prompt.images,
        "json_mode": prompt.json_mode,
        "max_tokens": prompt.max_tokens,
    }
    details = {
        "chosen": chosen,
        "reason": reason,
        "preference": request.preference,
        "features": features,
        "candidates": ranked,
        "rejected": rejected,
    }
    return AutoDecision([(str(c["model"]), str(c["provider"])) for c in ranked], reason, details)
