"""ChatCall: one chat request, parsed and checked once, at the front door.

Every front end (OpenAI chat completions, Anthropic messages, ...) reads its own wire format into the
internal OpenAI-shaped body, then calls `parse_chat_call` once. Everything downstream (pipeline,
routing, transport) reads the ChatCall, never the raw body's gateway fields or headers again.

Checks happen here and only here; each raises a 400 naming the field path. The OpenAI fields'
checks are in `proxy.call_checks` (one function a field, to the depth OpenAI defines it); the
gateway's own fields are read below. To check another field, add a function to a `FIELD_CHECKS`
(top-level field name -> check(value, param)): it runs only when the request sets that field, so the
common request pays one dict test per entry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, NamedTuple

from multidict import istr

from proxy.call_checks import MAX_MESSAGES, check_fields, check_message_count, invalid
from proxy.errors import GatewayError
from proxy.schemas import validate_chat_request

AUTO_MODEL = "auto"
FACTORS = ("latency", "price", "throughput")
PREFERENCES = ("balanced", "quality", "price", "speed")
# Preference aliases are resolved here and nowhere else: the Rust router receives canonical names.
PREFERENCE_ALIASES = {"performance": "quality", "cost": "price"}
STRATEGY_HEADER = istr("x-switchyard-strategy")
TAGS_HEADER = istr("x-switchyard-tags")
REQUEST_ID_HEADER = istr("x-request-id")
TIMEOUT_FIELDS = {"connect_s": "connect", "first_token_s": "first-token", "idle_s": "idle", "total_s": "total"}
TIMEOUT_HEADERS = {name: istr(f"x-switchyard-timeout-{header}") for name, header in TIMEOUT_FIELDS.items()}
MAX_TIMEOUT_S = 3600.0
MAX_TAGS = 32
MAX_TAG_CHARS = 256
MAX_CLIENT_ID_CHARS = 200


# -- provider routing ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProviderRouting:
    """`provider.routing` from the request: sort by a factor, or try exactly the listed providers."""

    kind: str  # "priority" | "order"
    factor: str = "latency"
    providers: tuple[str, ...] = ()


_DEFAULT_ROUTING = {factor: ProviderRouting("priority", factor=factor) for factor in FACTORS}


def parse_provider_routing(body: Mapping[str, Any], default_factor: str) -> ProviderRouting:
    """Read `provider.routing` (shape checked by the request schema); the factor is checked here."""
    routing = (body.get("provider") or {}).get("routing") or {}
    kind = routing.get("type")
    if kind == "order":
        providers = routing.get("providers") or []
        if not providers:
            raise GatewayError(400, "provider.routing.providers must list at least one provider when type is 'order'.",
                               param="provider.routing.providers")
        return ProviderRouting("order", providers=tuple(providers))
    factor = routing.get("primary_factor") or default_factor if kind == "priority" else default_factor
    default = _DEFAULT_ROUTING.get(factor)
    if default is None:
        raise GatewayError(400, f"provider.routing.primary_factor must be one of {', '.join(FACTORS)}.",
                           param="provider.routing.primary_factor")
    return default


# -- model routing (model: "auto") ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AutoRouting:
    """The routing ask for `model: "auto"`: the pool (None means every live model) and the canonical preference."""

    pool: tuple[str, ...] | None
    preference: str
    tradeoff: float | None = None  # 0 cheapest .. 1 best predicted quality; wins over the preference
    max_cost_usd: float | None = None
    min_quality: float | None = None


def _routing_number(cfg: Mapping[str, Any], key: str, lo: float, hi: float | None) -> float | None:
    """An optional number in [lo, hi] from model_routing_config; errors name the field."""
    value = cfg.get(key)
    if value is None:
        return None
    param = f"model_routing_config.{key}"
    span = f"from {lo:g} to {hi:g}" if hi is not None else f"at least {lo:g}"
    if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= (hi or float("inf")):
        raise GatewayError(400, f"{param} must be a number {span}; got {value!r}.", param=param,
                           code="invalid_model_routing_config")
    return float(value)


def canonical_preference(value: Any, param: str) -> str:
    key = value.strip().lower() if isinstance(value, str) else None
    key = PREFERENCE_ALIASES.get(key, key) if key is not None else None
    if key not in PREFERENCES:
        raise GatewayError(
            400, f"{param} must be one of balanced, quality, price, speed (or the aliases performance, cost); got {value!r}.",
            param=param, code="invalid_model_routing_config")
    return key  # type: ignore[return-value]


def parse_routing_config(
    body: Mapping[str, Any], headers: Mapping[str, str], known: Mapping[str, Any] | None = None
) -> AutoRouting:
    """`model_routing_config` from the body, the strategy header as a fallback; errors name the field.
    `known`, when given, holds the catalogue's model slugs, which the pool must come from."""
    cfg = body.get("model_routing_config")
    if cfg is None:
        cfg = {}
    if not isinstance(cfg, Mapping):
        raise GatewayError(400, "model_routing_config must be an object.", param="model_routing_config",
                           code="invalid_model_routing_config")
    pool: tuple[str, ...] | None = None
    key = "available_models" if "available_models" in cfg else "models" if "models" in cfg else None
    if key is not None:
        param = f"model_routing_config.{key}"
        models = cfg[key]
        if not isinstance(models, list) or not all(isinstance(m, str) and m for m in models):
            raise GatewayError(400, f"{param} must be a list of model slugs.", param=param,
                               code="invalid_model_routing_config")
        unique = tuple(dict.fromkeys(models))
        if len(unique) < 2:
            raise GatewayError(400, f"{param} must list at least two distinct models to route between; got {len(unique)}.",
                               param=param, code="invalid_model_routing_config")
        if known is not None:
            for i, slug in enumerate(models):
                if slug not in known:
                    raise GatewayError(400, f"{param}[{i}]: unknown model '{slug}'. GET /v1/models lists them.",
                                       param=f"{param}[{i}]", code="model_not_found")
        pool = unique
    knobs = (_routing_number(cfg, "tradeoff", 0.0, 1.0), _routing_number(cfg, "max_cost_usd", 0.0, None),
             _routing_number(cfg, "min_quality", 0.0, 1.0))
    if cfg.get("preference") is not None:
        return AutoRouting(pool, canonical_preference(cfg["preference"], "model_routing_config.preference"), *knobs)
    # case-insensitive even when `headers` is a plain dict (the auto path only: it scans them)
    header = next((v for k, v in headers.items() if k.lower() == STRATEGY_HEADER), None)
    if header is not None:
        return AutoRouting(pool, canonical_preference(header, "x-switchyard-strategy"), *knobs)
    return AutoRouting(pool, "balanced", *knobs)


# -- timeouts ---------------------------------------------------------------------------------------


class TimeoutOverrides(NamedTuple):
    """The limits a request sets for itself, in seconds; None keeps the provider's default."""

    connect_s: float | None = None
    first_token_s: float | None = None
    idle_s: float | None = None
    total_s: float | None = None


NO_OVERRIDES = TimeoutOverrides()


def timeout_seconds(raw: Any, param: str) -> float:
    if isinstance(raw, bool):
        raise GatewayError(400, f"{param}: expected a number of seconds, got {raw!r}.", param=param)
    try:
        value = float(raw)
    except (TypeError, ValueError, OverflowError):
        raise GatewayError(400, f"{param}: expected a number of seconds, got {str(raw)[:40]!r}.", param=param) from None
    if not 0 < value <= MAX_TIMEOUT_S:  # also false for NaN
        raise GatewayError(400, f"{param}: must be between 0 and {MAX_TIMEOUT_S:.0f} seconds, got {value}.", param=param)
    return value


def body_timeouts(body: Mapping[str, Any]) -> Mapping[str, Any]:
    section = body.get("switchyard")
    if section is None:
        return {}
    if not isinstance(section, dict):
        raise GatewayError(400, "switchyard: expected an object such as {\"timeouts\": {...}}.", param="switchyard")
    overrides = section.get("timeouts")
    if overrides is None:
        return {}
    if not isinstance(overrides, dict):
        raise GatewayError(400, "switchyard.timeouts: expected an object of seconds keyed by "
                           f"{', '.join(TIMEOUT_FIELDS)}.", param="switchyard.timeouts")
    unknown = sorted(set(overrides) - set(TIMEOUT_FIELDS))
    if unknown:
        param = f"switchyard.timeouts.{unknown[0]}"
        raise GatewayError(400, f"{param}: unknown timeout; expected one of {', '.join(TIMEOUT_FIELDS)}.", param=param)
    return overrides


def parse_timeouts(body: Mapping[str, Any], headers: Mapping[str, str]) -> TimeoutOverrides:
    """Body `switchyard.timeouts` first, then the `x-switchyard-timeout-*` headers; NO_OVERRIDES (the
    usual case) costs a key test and four header look-ups."""
    if "switchyard" not in body:
        for header_name in TIMEOUT_HEADERS.values():
            if header_name in headers:
                break
        else:
            return NO_OVERRIDES
    overrides = body_timeouts(body)
    values: list[float | None] = []
    for name, header in TIMEOUT_HEADERS.items():
        raw = overrides.get(name)
        if raw is not None:
            values.append(timeout_seconds(raw, f"switchyard.timeouts.{name}"))
            continue
        sent = headers.get(header)
        values.append(timeout_seconds(sent, str(header)) if sent is not None else None)
    return TimeoutOverrides(*values)


# -- hedging ---------------------------------------------------------------------------------------

HEDGE_HEADER = istr("x-switchyard-hedge")


class HedgeAsk(NamedTuple):
    """A request's own hedging: off, or on after `delay` ("p95", ms, or None for the config's delay)."""

    enabled: bool
    delay: str | float | None = None


HEDGE_OFF = HedgeAsk(False)


def hedge_delay(raw: Any, param: str) -> str | float:
    if raw == "p95":
        return "p95"
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise invalid(param, f'expected "p95" or a number of milliseconds, got {str(raw)[:40]!r}.')
    try:
        value = float(raw)
    except ValueError:
        raise invalid(param, f'expected "p95" or a number of milliseconds, got {str(raw)[:40]!r}.') from None
    if not 0 < value <= MAX_TIMEOUT_S * 1000:  # also false for NaN
        raise invalid(param, f"must be between 0 and {MAX_TIMEOUT_S * 1000:.0f} ms, got {value}.")
    return value


def parse_hedge(body: Mapping[str, Any], headers: Mapping[str, str]) -> HedgeAsk | None:
    """`switchyard.hedge` (false, true, or {"delay": "p95" | ms}), else `x-switchyard-hedge: off | p95 | <ms>`;
    None follows the config."""
    section = body.get("switchyard")
    if isinstance(section, dict) and "hedge" in section:
        raw = section["hedge"]
        if raw is False:
            return HEDGE_OFF
        if raw is True:
            return HedgeAsk(True)
        if not isinstance(raw, dict) or set(raw) - {"delay"}:
            raise invalid("switchyard.hedge", 'expected false, true or {"delay": "p95" | milliseconds}.')
        return HedgeAsk(True, hedge_delay(raw["delay"], "switchyard.hedge.delay") if "delay" in raw else None)
    header = headers.get(HEDGE_HEADER)
    if header is None:
        return None
    value = header.strip().lower()
    if value == "off":
        return HEDGE_OFF
    return HedgeAsk(True, hedge_delay(value, "x-switchyard-hedge"))


# -- the answer cache ------------------------------------------------------------------------------

CACHE_HEADER = istr("x-switchyard-cache")
CACHE_MODES = ("use", "refresh", "skip")
MAX_CACHE_TTL_S = 30 * 86400.0


class CacheAsk(NamedTuple):
    """A request's own cache use: "use" (read, then fill on a miss), "refresh" (fill, never read) or
    "skip"; `ttl_s` None keeps the config's."""

    mode: str
    ttl_s: float | None = None


def parse_cache(body: Mapping[str, Any], headers: Mapping[str, str]) -> CacheAsk | None:
    """`x-switchyard-cache: use | refresh | skip` and `switchyard.cache` ({"ttl_s": n} or false); None
    follows the config."""
    header = headers.get(CACHE_HEADER)
    mode: str | None = None
    if header is not None:
        mode = header.strip().lower()
        if mode not in CACHE_MODES:
            raise invalid("x-switchyard-cache", f"expected one of {', '.join(CACHE_MODES)}, got {header[:40]!r}.")
    section = body.get("switchyard")
    raw = section.get("cache") if isinstance(section, dict) else None
    if raw is None:
        return CacheAsk(mode) if mode is not None else None
    if raw is False:
        return CacheAsk("skip")
    if raw is True:
        return CacheAsk(mode or "use")
    if not isinstance(raw, dict) or set(raw) - {"ttl_s"}:
        raise invalid("switchyard.cache", 'expected false, true or {"ttl_s": seconds}.')
    ttl = raw.get("ttl_s")
    if ttl is not None and (isinstance(ttl, bool) or not isinstance(ttl, int | float) or not 0 < ttl <= MAX_CACHE_TTL_S):
        raise invalid("switchyard.cache.ttl_s", f"expected seconds in (0, {MAX_CACHE_TTL_S:.0f}], got {str(ttl)[:40]!r}.")
    return CacheAsk(mode or "use", float(ttl) if ttl is not None else None)


# -- tags -------------------------------------------------------------------------------------------

NO_TAGS: Mapping[str, str] = MappingProxyType({})


def check_metadata(value: Any, param: str) -> None:
    if not isinstance(value, dict):
        raise invalid(param, "expected an object of string values.")
    if len(value) > MAX_TAGS:
        raise invalid(param, f"at most {MAX_TAGS} entries, got {len(value)}.")
    for key, item in value.items():
        if not isinstance(item, str) or len(item) > MAX_TAG_CHARS or len(key) > MAX_TAG_CHARS:
            raise invalid(f"{param}.{key}", f"expected a string of at most {MAX_TAG_CHARS} characters.")


def parse_tags(body: Mapping[str, Any], headers: Mapping[str, str]) -> Mapping[str, str]:
    """Tags from the header `x-switchyard-tags: k=v,k2=v2`, then the body's `metadata` (body wins)."""
    header = headers.get(TAGS_HEADER)
    metadata = body.get("metadata")
    if header is None and not metadata:
        return NO_TAGS
    tags: dict[str, str] = {}
    if header is not None:
        for item in header.split(","):
            if not item.strip():
                continue
            key, sep, value = item.partition("=")
            if not sep or not key.strip():
                raise GatewayError(400, f"x-switchyard-tags: expected k=v pairs separated by commas, got {item.strip()[:40]!r}.",
                                   param="x-switchyard-tags")
            tags[key.strip()[:MAX_TAG_CHARS]] = value.strip()[:MAX_TAG_CHARS]
    if metadata:
        tags.update(metadata)
    if len(tags) > MAX_TAGS:
        raise GatewayError(400, f"x-switchyard-tags: at most {MAX_TAGS} tags, got {len(tags)}.", param="x-switchyard-tags")
    return MappingProxyType(tags)


# -- the call ---------------------------------------------------------------------------------------

FieldCheck = Callable[[Any, str], None]
# Top-level field -> its check, run only when the request sets the field (see the module docstring).
FIELD_CHECKS: dict[str, FieldCheck] = {
    "metadata": check_metadata,
}


class ChatCall(NamedTuple):
    """One chat request, checked. `body` is the OpenAI-shaped request the adapters translate (messages
    and parameters); the gateway's own fields in it have been read into the typed fields below.
    (Immutable; a named tuple rather than a frozen dataclass, which builds field by field, because
    one is built per request.)"""

    body: dict[str, Any]
    model: str  # as asked: a slug, a short name, `slug:provider`, or "auto"
    stream: bool
    include_usage: bool
    auto: AutoRouting | None  # set exactly when model is "auto"
    provider_routing: ProviderRouting
    provider_routing_set: bool  # whether the request chose it (rather than the gateway's default)
    timeouts: TimeoutOverrides
    tags: Mapping[str, str]
    request_id: str
    client_request_id: str | None
    hedge: HedgeAsk | None  # the request's own hedging ask; None follows the config
    cache: CacheAsk | None  # the request's own cache use; None follows the config
    # the caller's key name ("" with keys off): whose cache entries it may read, whose learned routing
    # corrections apply to it
    tenant: str
    api: str  # the front end it came in by: "openai_chat", "anthropic_messages", ...

    @property
    def messages(self) -> list[dict[str, Any]]:
        return self.body["messages"]  # type: ignore[no-any-return]


def parse_chat_call(
    body: dict[str, Any],
    headers: Mapping[str, str],
    *,
    request_id: str,
    api: str = "openai_chat",
    default_factor: str = "latency",
    known_models: Mapping[str, Any] | None = None,
    tenant: str = "",
) -> ChatCall:
    """Check `body` (OpenAI-shaped) and the gateway's headers once; a 400 naming the field if wrong."""
    quick = quick_chat_call(body, headers, request_id, api, default_factor, tenant)
    if quick is not None:
        return quick
    return checked_chat_call(body, headers, request_id=request_id, api=api, default_factor=default_factor,
                             known_models=known_models, tenant=tenant)


def checked_chat_call(
    body: dict[str, Any],
    headers: Mapping[str, str],
    *,
    request_id: str,
    api: str = "openai_chat",
    default_factor: str = "latency",
    known_models: Mapping[str, Any] | None = None,
    tenant: str = "",
) -> ChatCall:
    """`parse_chat_call` with every check run, whatever the body."""
    check_message_count(body)  # before anything walks the messages
    params = validate_chat_request(body)
    check_fields(body)
    for name, check in FIELD_CHECKS.items():
        if name in body:
            check(body[name], name)
    model: str = body["model"]
    client_id = headers.get(REQUEST_ID_HEADER)
    return ChatCall(
        body=body,
        model=model,
        stream=params.stream,
        include_usage=params.include_usage,
        auto=parse_routing_config(body, headers, known_models) if model == AUTO_MODEL else None,
        provider_routing=parse_provider_routing(body, default_factor),
        provider_routing_set="provider" in body and bool((body["provider"] or {}).get("routing")),
        timeouts=parse_timeouts(body, headers),
        tags=parse_tags(body, headers),
        request_id=request_id,
        client_request_id=client_id[:MAX_CLIENT_ID_CHARS] if client_id else None,
        hedge=parse_hedge(body, headers) if "switchyard" in body or HEDGE_HEADER in headers else None,
        cache=parse_cache(body, headers) if "switchyard" in body or CACHE_HEADER in headers else None,
        tenant=tenant,
        api=api,
    )


# -- the quick path ---------------------------------------------------------------------------------

# The fields of the common request. A body with any other (tools, n, the gateway's own fields...) or
# with a value the quick checks are not sure of takes `checked_chat_call`.
QUICK_FIELDS = frozenset({"model", "messages", "stream", "stream_options", "max_tokens", "max_completion_tokens",
                          "temperature", "top_p"})
QUICK_ROLES = ("user", "system", "assistant", "developer")  # a tuple: a role may be any JSON value, a list included
QUICK_NUMBERS = (int, float)
MAX_QUICK_INT = 2**63  # as schemas.quick_chat_params: larger ones are the full checks' to word


def quick_chat_call(body: dict[str, Any], headers: Mapping[str, str], request_id: str, api: str, default_factor: str,
                    tenant: str) -> ChatCall | None:
    """The ChatCall of a body every check would pass, in one walk of its messages; None when the body
    is not of the common shape or this cannot tell (then the full checks decide, and word the 400).
    It accepts only what they accept, with the same result: tests/test_call.py holds the two together."""
    if not body.keys() <= QUICK_FIELDS:
        return None
    model = body.get("model")
    messages = body.get("messages")
    if model.__class__ is not str or not model or model == AUTO_MODEL or messages.__class__ is not list \
            or not 0 < len(messages) <= MAX_MESSAGES:
        return None
    for message in messages:
        # exactly a role and a string content: two string keys, as every check wants them
        if message.__class__ is not dict or len(message) != 2 or message.get("role") not in QUICK_ROLES \
                or message.get("content").__class__ is not str:
            return None
    stream = body.get("stream", False)
    if stream.__class__ is not bool:
        return None
    include_usage = False
    options = body.get("stream_options")
    if options is not None:
        if options.__class__ is not dict or not options.keys() <= {"include_usage"}:
            return None
        include_usage = options.get("include_usage", False)
        if include_usage.__class__ is not bool:
            return None
    for name in ("max_tokens", "max_completion_tokens"):
        value = body.get(name)
        if value is not None and (value.__class__ is not int or not 1 <= value < MAX_QUICK_INT):
            return None
    for name, high in (("temperature", 2), ("top_p", 1)):
        value = body.get(name)
        if value is not None and (value.__class__ not in QUICK_NUMBERS or not 0 <= value <= high):
            return None
    routing = _DEFAULT_ROUTING.get(default_factor)
    if routing is None:
        return None
    client_id = headers.get(REQUEST_ID_HEADER)
    return ChatCall(body, model, stream, include_usage, None, routing, False, parse_timeouts(body, headers),
                    parse_tags(body, headers), request_id, client_id[:MAX_CLIENT_ID_CHARS] if client_id else None,
                    parse_hedge(body, headers) if HEDGE_HEADER in headers else None,
                    parse_cache(body, headers) if CACHE_HEADER in headers else None, tenant, api)
