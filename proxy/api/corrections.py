"""GET /v1/routing/corrections (admin keys only): what learning from feedback has taught `auto` routing.

One row per (scope, model) correction the learner holds: `delta_b`, the shift of the model's predicted
quality (in logits) on a typical prompt; `delta_a_norm`, the size of its part that depends on the prompt's
region; `evidence`, the observations behind it; `updated_at`, when the last one came. Filters: `scope`
(`deployment` or `key:<name>`) and `model` (any name the catalogue resolves). The rows are the learner's
own, so they are what this replica routes with (replicas converge at each rebuild from the shared log).
"""

from __future__ import annotations

import math
from typing import Any

import orjson
from aiohttp import web

from proxy.api.frontend import identity_of
from proxy.appkeys import GATEWAY, LEARNING
from proxy.errors import GatewayError
from proxy.routing.feedback_learner import FeedbackLearner
from proxy.routing.model_routing import DEPLOYMENT_SCOPE
from proxy.store.records import iso_ms

KEY_SCOPE_PREFIX = "key:"


def parse_scope(raw: str | None) -> str | None:
    if raw is None:
        return None
    if raw == DEPLOYMENT_SCOPE or (raw.startswith(KEY_SCOPE_PREFIX) and len(raw) > len(KEY_SCOPE_PREFIX)):
        return raw
    raise GatewayError(400, f"scope: expected 'deployment' or 'key:<key name>', got {raw[:60]!r}.", param="scope")


def correction_rows(learner: FeedbackLearner, scope: str | None, model: str | None) -> list[dict[str, Any]]:
    """The learner's corrections, filtered, by scope then model."""
    rows = []
    for s, m, da, db, evidence in learner.corrections():
        if (scope is not None and s != scope) or (model is not None and m != model):
            continue
        updated = learner.updated.get((s, m))
        rows.append({
            "scope": s, "model": m, "delta_b": round(db, 6), "delta_a_norm": round(math.sqrt(sum(v * v for v in da)), 6),
            "evidence": evidence, "updated_at": None if updated is None else iso_ms(int(updated * 1000)),
        })
    return sorted(rows, key=lambda r: (r["scope"] != DEPLOYMENT_SCOPE, r["scope"], r["model"]))


async def list_corrections(request: web.Request) -> web.Response:
    if not identity_of(request).admin:
        raise GatewayError(403, "The routing corrections show every key's feedback, so they need an admin key: send one "
                                "from server.admin_keys or SWITCHYARD_ADMIN_KEYS.", code="admin_key_required")
    scope = parse_scope(request.query.get("scope"))
    model = request.query.get("model")
    if model is not None:
        try:
            entry, _ = request.app[GATEWAY].catalog.resolve(model)
        except GatewayError as exc:
            raise GatewayError(exc.status, f"model: {exc.message}", param="model", code=exc.code) from None
        model = entry.slug
    learning = request.app.get(LEARNING)
    payload: dict[str, Any] = {"object": "list", "learning": learning is not None, "data": []}
    if learning is not None:
        payload["half_life_s"] = learning.cfg.half_life_s
        payload["data"] = correction_rows(learning.learner, scope, model)
    return web.Response(body=orjson.dumps(payload), content_type="application/json")
