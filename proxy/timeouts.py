"""Per-request timeouts: the provider's defaults, overridden by a body field or a header.

Body: `"switchyard": {"timeouts": {"connect_s": 2, "first_token_s": 5, "idle_s": 10, "total_s": 60}}`.
Headers: `x-switchyard-timeout-connect`, `-first-token`, `-idle`, `-total` (seconds). Body wins.

- connect: opening the TCP/TLS connection to the provider;
- first token: from sending the request to the first real content (keep-alives do not count); on
  expiry the next candidate is tried, since the client has seen nothing yet;
- idle: the longest gap between two reads of a stream (a non-streaming answer is bounded by total only);
- total: from the request's arrival at the gateway to the answer's last byte, fallbacks included.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from multidict import istr

from proxy.config import Timeouts
from proxy.errors import GatewayError
from proxy.routing.attempt import AttemptTimeouts

FIELDS = {"connect_s": "connect", "first_token_s": "first-token", "idle_s": "idle", "total_s": "total"}
MAX_S = 3600.0


def body_overrides(body: Mapping[str, Any]) -> Mapping[str, Any]:
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
                           f"{', '.join(FIELDS)}.", param="switchyard.timeouts")
    unknown = sorted(set(overrides) - set(FIELDS))
    if unknown:
        param = f"switchyard.timeouts.{unknown[0]}"
        raise GatewayError(400, f"{param}: unknown timeout; expected one of {', '.join(FIELDS)}.", param=param)
    return overrides


def seconds(raw: Any, param: str) -> float:
    if isinstance(raw, bool):
        raise GatewayError(400, f"{param}: expected a number of seconds, got {raw!r}.", param=param)
    try:
        value = float(raw)
    except (TypeError, ValueError, OverflowError):
        raise GatewayError(400, f"{param}: expected a number of seconds, got {str(raw)[:40]!r}.", param=param) from None
    if not 0 < value <= MAX_S:  # also false for NaN
        raise GatewayError(400, f"{param}: must be between 0 and {MAX_S:.0f} seconds, got {value}.", param=param)
    return value


HEADER_NAMES = {field: istr(f"x-switchyard-timeout-{header}") for field, header in FIELDS.items()}
_HEADERS = tuple(HEADER_NAMES.values())
_DEFAULTS: dict[int, tuple[Timeouts, tuple[float, float, float, float]]] = {}


def default_values(defaults: Timeouts) -> tuple[float, float, float, float]:
    """The provider's defaults (connect, first token, idle, total), computed once per Timeouts object."""
    cached = _DEFAULTS.get(id(defaults))
    if cached is None or cached[0] is not defaults:
        values = (defaults.connect_s, defaults.first_token_s, defaults.idle_s, defaults.total_s)
        cached = _DEFAULTS[id(defaults)] = (defaults, values)
    return cached[1]


def timeout_overrides(body: Mapping[str, Any], headers: Mapping[str, str]) -> dict[str, float]:
    """The limits this request sets for itself (body first, then headers), validated; {} when it sets
    none, the usual case, which costs a key test and four header look-ups."""
    if "switchyard" not in body:
        for name in _HEADERS:
            if name in headers:
                break
        else:
            return {}
    overrides = body_overrides(body)
    out: dict[str, float] = {}
    for field, header_name in HEADER_NAMES.items():
        raw = overrides.get(field)
        if raw is not None:
            out[field] = seconds(raw, f"switchyard.timeouts.{field}")
            continue
        raw = headers.get(header_name)
        if raw is not None:
            out[field] = seconds(raw, header_name)
    return out


def attempt_timeouts(defaults: Timeouts, overrides: Mapping[str, float], received_at: float | None = None) -> AttemptTimeouts:
    """A provider's defaults with the request's overrides; `received_at` (event-loop time) anchors the
    total deadline."""
    connect_s, first_token_s, idle_s, total_s = default_values(defaults)
    if overrides:
        connect_s = overrides.get("connect_s", connect_s)
        first_token_s = overrides.get("first_token_s", first_token_s)
        idle_s = overrides.get("idle_s", idle_s)
        total_s = overrides.get("total_s", total_s)
    return AttemptTimeouts(connect_s, first_token_s, idle_s, total_s, received_at + total_s if received_at is not None else None)


def request_timeouts(
    defaults: Timeouts, body: Mapping[str, Any], headers: Mapping[str, str], received_at: float | None = None
) -> AttemptTimeouts:
    """The limits for one request on one provider; `received_at` (event-loop time) anchors the total deadline."""
    return attempt_timeouts(defaults, timeout_overrides(body, headers), received_at)
