"""Per-request timeouts: the provider's defaults, overridden by a body field or a header.

Body: `"switchyard": {"timeouts": {"connect_s": 2, "first_token_s": 5, "idle_s": 10, "total_s": 60}}`.
Headers: `x-switchyard-timeout-connect`, `-first-token`, `-idle`, `-total` (seconds). Body wins.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from proxy.config import Timeouts
from proxy.errors import GatewayError
from proxy.routing.attempt import AttemptTimeouts

FIELDS = {"connect_s": "connect", "first_token_s": "first-token", "idle_s": "idle", "total_s": "total"}


def request_timeouts(defaults: Timeouts, body: Mapping[str, Any], headers: Mapping[str, str]) -> AttemptTimeouts:
    values = defaults.model_dump()
    overrides = ((body.get("switchyard") or {}).get("timeouts") or {}) if isinstance(body.get("switchyard"), dict) else {}
    for field, header in FIELDS.items():
        raw = overrides.get(field)
        param = f"switchyard.timeouts.{field}"
        if raw is None:
            raw = headers.get(f"x-switchyard-timeout-{header}")
            param = f"x-switchyard-timeout-{header}"
        if raw is None:
            continue
        try:
            value = float(raw)
        except (TypeError, ValueError):
            raise GatewayError(400, f"{param}: expected a number of seconds, got {raw!r}.", param=param) from None
        if not 0 < value <= 3600:
            raise GatewayError(400, f"{param}: must be between 0 and 3600 seconds, got {value}.", param=param)
        values[field] = value
    return AttemptTimeouts(**values)
