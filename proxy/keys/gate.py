"""The door a virtual key's request passes before dispatch: allow-list, then limits and budget.

`KeyGate.enter` is what a front end calls once its request is parsed: with the caller's key record,
the model as asked (a slug, a short name, an alias, `model:provider`, or `auto` with its pool) and the
request's messages and max_tokens. It raises the gateway's plain errors (403 outside the allow-list,
400 when `auto` has no allowed model left, 429/503 from the limits) and returns the pass: the
admission to settle when the answer ends, the narrowed `auto` pool, the rate-limit headers and the
key's cache setting.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from proxy.catalog import Catalog
from proxy.errors import GatewayError
from proxy.keys.allow import allowed_pool, check_model
from proxy.keys.enforce import Admission, Enforcer, estimate_prompt_tokens, ratelimit_headers
from proxy.store.keys import KeyCache, KeyRecord

AUTO = "auto"


@dataclass(slots=True)
class KeyPass:
    admission: Admission | None  # None: the key has no limits (nothing to settle)
    auto_pool: tuple[str, ...] | None  # auto's pool narrowed to the allow-list (None: unchanged)
    headers: dict[str, str]
    cache: KeyCache | None = None  # the key's default use of the answer cache (None: the config decides)


def dearest_prices(catalog: Catalog, slugs: Iterable[str], pin: str | None = None) -> tuple[float, float]:
    """USD per 1M input and output tokens of the dearest route the request may take: the reservation
    must cover whichever the router or a fallback picks."""
    inp = out = 0.0
    for slug in slugs:
        entry = catalog.models.get(slug)
        if entry is None:
            continue
        for provider, route in entry.routes.items():
            if pin is None or provider == pin:
                inp, out = max(inp, route.input_price), max(out, route.output_price)
    return inp, out


class KeyGate:
    def __init__(self, enforcer: Enforcer, catalog: Catalog, embeddings: Catalog | None = None) -> None:
        self.enforcer = enforcer
        self.catalog = catalog
        self.embeddings = embeddings if embeddings is not None else Catalog({})

    def allowed(self, key: KeyRecord, model: str, auto_pool: Sequence[str] | None) -> tuple[list[str], str | None, bool]:
        """(slugs the request may reach, provider pin, whether auto's pool was narrowed); raises 403/400."""
        if model == AUTO:
            pool = list(auto_pool) if auto_pool is not None else [m.slug for m in self.catalog.live_models()]
            if not key.models:
                return pool, None, False
            kept = allowed_pool(key.models, pool, key.name)
            return kept, None, kept != pool or auto_pool is None
        entry, pin = self.catalog.resolve(model)  # aliases and short names become the catalogue slug
        check_model(key.models, entry.slug, key.name)
        return [entry.slug], pin, False

    async def enter(
        self, key: KeyRecord, *, model: str, auto_pool: Sequence[str] | None, messages: Iterable[Mapping[str, Any]],
        max_tokens: int | None, ticket: str | None = None, api: str = "openai",
    ) -> KeyPass:
        slugs, pin, narrowed = self.allowed(key, model, auto_pool)
        adm = await self.enforcer.admit(
            key, prompt_tokens=estimate_prompt_tokens(messages), max_tokens=max_tokens,
            prices=dearest_prices(self.catalog, slugs, pin), ticket=ticket, api=api)
        return KeyPass(adm, tuple(slugs) if narrowed else None, {} if adm is None else ratelimit_headers(adm, api),
                       key.cache)

    async def enter_embeddings(self, key: KeyRecord, *, model: str, prompt_tokens: int, ticket: str | None = None,
                               api: str = "openai") -> KeyPass:
        """An embeddings request: the allow-list over the embedding models, then the limits, with no output
        to reserve. A name that is no embedding model passes untouched: the pipeline refuses it (a chat
        model by name, with the API it is for) before any upstream call."""
        try:
            entry, pin = self.embeddings.resolve(model)
        except GatewayError as exc:
            if exc.status == 404:
                return KeyPass(None, None, {})
            raise
        check_model(key.models, entry.slug, key.name)
        adm = await self.enforcer.admit(key, prompt_tokens=prompt_tokens, max_tokens=0,
                                        prices=dearest_prices(self.embeddings, [entry.slug], pin), ticket=ticket, api=api)
        return KeyPass(adm, None, {} if adm is None else ratelimit_headers(adm, api))
