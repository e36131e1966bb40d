"""The virtual keys API: POST/GET/PATCH/DELETE /v1/keys (admin keys only) and GET /v1/key (the caller's own).

Bodies are checked by a strict model; a bad field is a 400 naming it. No answer ever carries a
key's secret except the one that creates it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

import orjson
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from proxy.api.body import read_json_object
from proxy.api.frontend import identity_of
from proxy.appkeys import GATEWAY, KEYS
from proxy.call import MAX_CACHE_TTL_S
from proxy.errors import GatewayError
from proxy.keys.allow import valid_pattern
from proxy.keys.service import KeyService, key_json
from proxy.state.rules import usd_to_nano
from proxy.store import StoreUnavailable
from proxy.store.keys import KeyCache

MAX_TAGS = 32


class CacheField(BaseModel):
    """`cache`: the key's default use of the answer cache; a request's own `switchyard.cache` or
    `x-switchyard-cache` still wins, and with none here the config's `cache` decides."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(strict=True)
    ttl_s: float | None = Field(None, gt=0, le=MAX_CACHE_TTL_S, strict=True)


class KeyFields(BaseModel):
    """What POST sets and PATCH changes; every field optional on PATCH."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")
    budget_usd: float | None = Field(None, ge=0, le=1e9)
    budget_period: Literal["day", "week", "month"] | None = None
    rpm: int | None = Field(None, ge=1, le=10_000_000)
    tpm: int | None = Field(None, ge=1, le=10_000_000_000)
    max_parallel: int | None = Field(None, ge=1, le=100_000)
    models: list[str] | None = None
    expires_at: datetime | int | None = None
    tags: dict[str, str] | None = None
    cache: CacheField | None = None

    @field_validator("models")
    @classmethod
    def _patterns(cls, value: list[str] | None) -> list[str] | None:
        for i, pattern in enumerate(value or []):
            if not isinstance(pattern, str) or not valid_pattern(pattern):
                raise ValueError(f"models[{i}]: expected a catalogue slug such as 'openai/gpt-4o' or a pattern "
                                 "such as 'anthropic/*' (no ':provider')")
        return value

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        if value is not None and len(value) > MAX_TAGS:
            raise ValueError(f"at most {MAX_TAGS} tags")
        return value


def store_fields(body: KeyFields, request: web.Request) -> dict[str, Any]:
    """The fields the request set, as the store keeps them (nano-dollars, Unix ms, catalogue slugs)."""
    out: dict[str, Any] = {}
    for name in body.model_fields_set:
        value = getattr(body, name)
        if name == "budget_usd":
            out["budget_nusd"] = None if value is None else usd_to_nano(value)
        elif name == "expires_at":
            out["expires_at"] = expiry_ms(value)
        elif name == "models":
            out["models"] = tuple(resolve_pattern(request, p, i) for i, p in enumerate(value or []))
        elif name == "tags":
            out["tags"] = dict(value or {})
        elif name == "cache":
            out["cache"] = None if value is None else KeyCache(value.enabled, value.ttl_s)
        elif name == "name" and value is None:
            raise GatewayError(400, "name: a key's name cannot be removed.", param="name")
        else:
            out[name] = value
    return out


def expiry_ms(value: datetime | int | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, int):
        return value * 1000
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp() * 1000)


def resolve_pattern(request: web.Request, pattern: str, index: int) -> str:
    """An alias or short name becomes its catalogue slug; a pattern with `*` is kept as written."""
    if "*" in pattern or "?" in pattern or "[" in pattern:
        return pattern
    catalog = request.app[GATEWAY].catalog
    try:
        entry, _ = catalog.resolve(pattern)
    except GatewayError as exc:
        raise GatewayError(400, f"models[{index}]: {exc.message}", param=f"models[{index}]", code=exc.code) from None
    return entry.slug


async def parse_fields(request: web.Request) -> KeyFields:
    body = await read_json_object(request, 1 << 16)
    try:
        return KeyFields.model_validate(body)
    except ValidationError as exc:
        err = exc.errors()[0]
        path = ".".join(str(p) for p in err["loc"]) or "body"
        raise GatewayError(400, f"{path}: {err['msg']}", param=path, code="invalid_key_field") from None


def service(request: web.Request) -> KeyService:
    return request.app[KEYS]


def require_admin(request: web.Request) -> None:
    identity = identity_of(request)
    if not identity.admin or identity.key_name is None:
        raise GatewayError(403, "The keys API needs an admin key: send one from server.admin_keys or "
                                "SWITCHYARD_ADMIN_KEYS as 'Authorization: Bearer <key>'.", code="admin_key_required")


def unavailable() -> GatewayError:
    return GatewayError(503, "The store holding the keys is unavailable right now; try again shortly.",
                        code="store_unavailable")


def not_found(key_id: str) -> GatewayError:
    return GatewayError(404, f"No key with id '{key_id}'. GET /v1/keys lists them.", param="id", code="key_not_found")


def answer(data: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(data), content_type="application/json")


async def create_key(request: web.Request) -> web.Response:
    require_admin(request)
    body = await parse_fields(request)
    if body.name is None:
        raise GatewayError(400, "name: required (letters, digits, '.', '_' or '-').", param="name", code="invalid_key_field")
    try:
        rec, secret = await service(request).create(store_fields(body, request))
    except StoreUnavailable:
        raise unavailable() from None
    return answer({**key_json(rec), "key": secret}, status=201)


async def list_keys(request: web.Request) -> web.Response:
    require_admin(request)
    try:
        recs = await service(request).list()
    except StoreUnavailable:
        raise unavailable() from None
    return answer({"data": [key_json(r) for r in recs]})


async def get_key(request: web.Request) -> web.Response:
    require_admin(request)
    key_id = request.match_info["id"]
    try:
        rec = await service(request).get(key_id)
    except StoreUnavailable:
        raise unavailable() from None
    if rec is None:
        raise not_found(key_id)
    return answer(key_json(rec))


async def update_key(request: web.Request) -> web.Response:
    require_admin(request)
    key_id = request.match_info["id"]
    fields = store_fields(await parse_fields(request), request)
    try:
        rec = await service(request).update(key_id, fields)
    except StoreUnavailable:
        raise unavailable() from None
    if rec is None:
        raise not_found(key_id)
    return answer(key_json(rec))


async def revoke_key(request: web.Request) -> web.Response:
    require_admin(request)
    key_id = request.match_info["id"]
    try:
        rec = await service(request).revoke(key_id)
    except StoreUnavailable:
        raise unavailable() from None
    if rec is None:
        raise not_found(key_id)
    return answer(key_json(rec))


async def own_key(request: web.Request) -> web.Response:
    """GET /v1/key: the caller's own key record (as OpenRouter's GET /api/v1/key)."""
    identity = identity_of(request)
    if identity.key_id is None:
        if identity.key_name is None:
            raise GatewayError(404, "This gateway has no keys: requests are not made with a key.", code="key_not_found")
        # a static key from the configuration: no limits, no budget, no record in the store
        return answer({"id": None, "name": identity.key_name, "created_at": None, "expires_at": None, "revoked": False,
                       "budget_usd": None, "budget_period": None, "spend_usd": None, "remaining_usd": None,
                       "rpm": None, "tpm": None, "max_parallel": None, "models": [], "tags": {}, "cache": None})
    try:
        rec = await service(request).get(identity.key_id)
    except StoreUnavailable:
        raise unavailable() from None
    if rec is None:
        raise not_found(identity.key_id)
    return answer(key_json(rec))


def add_routes(app: web.Application) -> None:
    app.router.add_post("/v1/keys", create_key)
    app.router.add_get("/v1/keys", list_keys)
    app.router.add_get("/v1/keys/{id}", get_key)
    app.router.add_patch("/v1/keys/{id}", update_key)
    app.router.add_delete("/v1/keys/{id}", revoke_key)
    app.router.add_get("/v1/key", own_key)
