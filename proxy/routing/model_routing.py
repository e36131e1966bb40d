"""Model routing for `model: "auto"`: pure functions over the catalogue, the scorer's numbers and the Rust Router.

`extract_prompt` reads what the router scores from the messages; `route_auto` ranks the pool and turns
the decision into (model, provider) candidates plus the details `/v1/route` shows. The routing ask
itself (`AutoRouting`: pool, canonical preference, tradeoff and limits) was parsed once, in `proxy.call`.
Each model's ability comes from `abilities.py` (or a `router fit` file named by `routing.router_path`), plus
what feedback taught the request's scopes (the deployment's and its key's: `feedback_learner.py`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from proxy._scorer import Router, Scorer
from proxy.call import AutoRouting
from proxy.catalog import Catalog
from proxy.errors import GatewayError
from proxy.routing.abilities import resolve as resolve_ability
from proxy.routing.catalog_specs import CatalogSpec, load_catalog_specs

__all__ = ["CatalogSpec", "ModelRouter", "load_catalog_specs", "load_weights", "new_router"]

WEIGHTS_PATH = Path(__file__).with_name("router_v2.json")
TABLE_PATH = Path(__file__).with_name("static_embed.bin")
CENTRE_PROMPTS_PATH = Path(__file__).with_name("latent_centre_prompts.json")
DEPLOYMENT_SCOPE = "deployment"  # the learned corrections every request gets; keys add their own (`key:<name>`)
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


def new_router(weights: Mapping[str, Any] | None = None) -> Router:
    """A Rust Router with the shipped (or given) weights and the static embedding table, no models yet."""
    return Router(dict(weights or load_weights()), TABLE_PATH.read_bytes())


def load_fitted(path: str | Path) -> dict[str, Any]:
    """A `switchyard router fit` result; its abilities override the bundled ones for the models it names."""
    doc = json.loads(Path(path).read_text())
    if not isinstance(doc, dict) or not isinstance(doc.get("models"), dict):
        raise ValueError(f"{path}: not a router fit file (no 'models' object)")
    return {**doc, "name": str(path)}


def scopes_for(tenant: str) -> list[str]:
    """Whose learned corrections a request gets: the deployment's, plus its key's when it has one."""
    return [DEPLOYMENT_SCOPE, f"key:{tenant}"] if tenant else [DEPLOYMENT_SCOPE]


class ModelRouter:
    """The gateway's router: the Rust Router loaded with the weights and every catalogue model's ability."""

    def __init__(self, catalog: Catalog, weights: Mapping[str, Any] | None = None,
                 fitted: Mapping[str, Any] | None = None) -> None:
        self.weights = dict(weights or load_weights())
        self.router: Router = new_router(self.weights)
        self.k = int(self.weights["k"])
        # which prompt representation a logged latent vector belongs to: replaying feedback skips vectors
        # of other weights (a retrained predictor's z means something else)
        self.latent_version = hashlib.sha256(json.dumps(self.weights["w"]).encode()).hexdigest()[:12]
        self._centre: list[float] | None = None
        self.has_corrections = False  # set by the feedback learner: routes skip the scope lookup until then
        self.sources: dict[str, str] = {}
        for entry in catalog.models.values():
            cfg = entry.config
            ability = resolve_ability(entry.slug, cfg, self.weights, fitted)
            self.sources[entry.slug] = ability.source
            caps = cfg.capabilities
            self.router.add_model(entry.slug, list(ability.a), ability.b, cfg.context_window, cfg.max_output,
                                  tools=caps.tools, vision=caps.vision, json=caps.json_mode, specialty=cfg.specialty)

    @property
    def latent_centre(self) -> list[float]:
        """The mean latent vector (k numbers) of typical prompts: where learned corrections measure regions
        of prompt space from (`feedback_posterior`)."""
        if self._centre is None:
            prompts = json.loads(CENTRE_PROMPTS_PATH.read_text())["prompts"]
            zs = [self.router.score(p)["z"] for p in prompts]
            self._centre = [sum(z[i] for z in zs) / len(zs) for i in range(self.k)]
        return self._centre


def build_model_router(catalog: Catalog, router_path: str | None = None) -> ModelRouter | None:
    """None when the weights file is missing: `auto` then answers 400 rather than guessing."""
    if not WEIGHTS_PATH.exists():
        return None
    return ModelRouter(catalog, fitted=load_fitted(router_path) if router_path else None)


def _offers(catalog: Catalog, scorer: Scorer, pool: Sequence[str]) -> list[tuple[str, str, float, float, float, float, bool]]:
    offers = []
    for slug in pool:
        for route in catalog.models[slug].routes.values():
            stats = scorer.stats(slug, route.provider)
            offers.append((slug, route.provider, route.input_price, route.output_price,
                           float(stats.get("first_token_ms") or 0.0), float(stats.get("tokens_per_s") or 0.0),
                           bool(stats.get("available", True))))
    return offers


def _limits_error(request: AutoRouting, limited: Sequence[tuple[str, str, float, float, str]]) -> GatewayError:
    """No candidate meets `max_cost_usd` / `min_quality`: a 400 naming the field and the closest candidate."""
    if request.min_quality is not None and all(why == "min_quality" for *_, why in limited):
        model, provider, q, cost, _ = max(limited, key=lambda r: r[2])
        field_, want = "min_quality", f"a predicted quality of at least {request.min_quality:g}"
    else:
        model, provider, q, cost, _ = min(limited, key=lambda r: r[3])
        field_, want = "max_cost_usd", f"an estimated cost of at most ${request.max_cost_usd:g}"
    return GatewayError(400, f"No model in the routing pool meets model_routing_config.{field_} ({want}). The "
                        f"closest is {model} via {provider}: predicted quality {q:.3f}, estimated cost ${cost:.6f}. "
                        f"Relax model_routing_config.{field_} or widen the pool.",
                        param=f"model_routing_config.{field_}", code="no_model_meets_limits")


def route_auto(catalog: Catalog, scorer: Scorer, router: ModelRouter, request: AutoRouting, prompt: PromptInfo,
               tenant: str = "") -> AutoDecision:
    """Rank the pool for this prompt (its slugs were checked against the catalogue by `parse_chat_call`);
    candidates are grouped by model, best first. `tenant` (the caller's key name) picks the learned
    corrections that apply, with the deployment's."""
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
        prompt.text, _offers(catalog, scorer, servable), preference=request.preference, tradeoff=request.tradeoff,
        max_cost_usd=request.max_cost_usd, min_quality=request.min_quality, tools=prompt.tools > 0,
        vision=prompt.images > 0, json=prompt.json_mode, max_tokens=prompt.max_tokens, extra_input_tokens=extra,
        explain=True, scopes=scopes_for(tenant) if router.has_corrections else None,
    )
    ranked: list[dict[str, Any]] = [dict(zip(CANDIDATE_FIELDS, row)) for row in decision["candidates"]]
    learned = {m: (delta, n) for m, delta, n in decision["learned"]}
    for c in ranked:
        c["ability_source"] = router.sources.get(str(c["model"]), "")
        delta, n = learned.get(str(c["model"]), (0.0, 0))
        c["learned_adjustment"] = {"delta": round(delta, 6), "evidence": n}
    rejected = [{"model": m, "reason": why} for m, why in decision["rejected"]]
    rejected += [{"model": m, "reason": "no_configured_provider"} for m in unserved]
    if not ranked and decision["limited"]:
        raise _limits_error(request, decision["limited"])
    if not ranked:
        why = "; ".join(f"{r['model']}: {r['reason']}" for r in rejected)
        raise GatewayError(400, f"No model in the routing pool can take this request ({why}).",
                           param="model_routing_config.available_models", code="no_model_fits")
    models = list(dict.fromkeys(c["model"] for c in ranked))
    chosen = models[0]
    others = len(models) - 1
    knob = f"tradeoff={request.tradeoff:g}" if request.tradeoff is not None else f"pref={request.preference}"
    reason = (f"{knob}; difficulty={decision['difficulty']:.2f}; "
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
        # the latent vector (z, then -difficulty) and its weights' version: what learning from feedback
        # replays from the log, so it never needs the prompt's text
        "z": [round(v, 6) for v in decision["z"]],
        "latent_version": router.latent_version,
    }
    details = {
        "chosen": chosen,
        "reason": reason,
        "preference": request.preference,
        "tradeoff": decision["tradeoff"],
        "limits": {"max_cost_usd": request.max_cost_usd, "min_quality": request.min_quality},
        "features": features,
        "candidates": ranked,
        "rejected": rejected,
    }
    return AutoDecision([(str(c["model"]), str(c["provider"])) for c in ranked], reason, details)
