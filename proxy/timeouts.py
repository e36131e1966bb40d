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


HEADER_NAMES = {field: f"x-switchyard-timeout-{header}" for field, header in FIELDS.items()}
_DEFAULTS: dict[int, tuple[Timeouts, dict[str, float]]] = {}


def default_values(defaults: Timeouts) -> dict[str, float]:
    """The provider's defaults as a plain dict, computed once per Timeouts object (hot path)."""
    cached = _DEFAULTS.get(id(defaults))
    if cached is None or cached[0] is not defaults:
        cached = _DEFAULTS[id(defaults)] = (defaults, defaults.model_dump())
    return cached[1]


def request_timeouts(
    defaults: Timeouts, body: Mapping[str, Any], headers: Mapping[str, str], received_at: float | None = None
) -> AttemptTimeouts:
    """The limits for one request; `received_at` (event-loop time) anchors the total deadline."""
    values = default_values(defaults)
    overrides = body_overrides(body)
    changed: dict[str, float] | None = None
    for field, header_name in HEADER_NAMES.items():
        raw = overrides.get(field)
        source = "body"
        if raw is None:
            raw = headers.get(header_name)
            source = "header"
        if raw is not None:
            changed = changed if changed is not None else dict(values)
            changed[field] = seconds(raw, f"switchyard.timeouts.{field}" if source == "body" else header_name)
    final = changed if changed is not None else values
    deadline = received_at + final["total_s"] if received_at is not None else None
    return AttemptTimeouts(final["connect_s"], final["first_token_s"], final["idle_s"], final["total_s"], deadline)
