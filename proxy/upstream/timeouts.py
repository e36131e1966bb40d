"""Per-attempt limits: the route's default timeouts, overridden by the request's own (see `proxy.call`).

- connect: opening the TCP/TLS connection to the provider;
- first token: from sending the request to the first real content (keep-alives do not count); on
  expiry the next candidate is tried, since the client has seen nothing yet. On a non-streaming
  request, only a limit the request sets applies, to the response headers (see `attempt_json`);
- idle: the longest gap between two reads of a stream (a non-streaming answer is bounded by total only);
- total: from the request's arrival at the gateway to the answer's last byte, fallbacks included.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, NamedTuple

import aiohttp

from proxy.call import NO_OVERRIDES, TimeoutOverrides, parse_timeouts
from proxy.catalog import DefaultTimeouts
from proxy.config import Timeouts


class AttemptTimeouts(NamedTuple):
    """Limits for one request. `deadline` (event-loop time) is when the whole request must be over,
    fallbacks included: arrival + total_s. Without one, each attempt gets total_s from its start.
    (A named tuple, not a frozen dataclass: one is built per attempt, and this builds in one step.)"""

    connect_s: float
    first_token_s: float
    idle_s: float
    total_s: float
    deadline: float | None = None

    def attempt_deadline(self) -> float:
        return self.deadline if self.deadline is not None else asyncio.get_running_loop().time() + self.total_s

    def first_token_deadline(self, total_deadline: float) -> float:
        return min(asyncio.get_running_loop().time() + self.first_token_s, total_deadline)


def attempt_timeouts(defaults: DefaultTimeouts, overrides: TimeoutOverrides, received_at: float | None = None) -> AttemptTimeouts:
    """A route's defaults with the request's overrides; `received_at` (event-loop time) anchors the total deadline."""
    connect_s, first_token_s, idle_s, total_s = defaults
    if overrides is not NO_OVERRIDES:
        connect_s = overrides.connect_s or connect_s
        first_token_s = overrides.first_token_s or first_token_s
        idle_s = overrides.idle_s or idle_s
        total_s = overrides.total_s or total_s
    return AttemptTimeouts(connect_s, first_token_s, idle_s, total_s, received_at + total_s if received_at is not None else None)


def request_timeouts(
    defaults: Timeouts, body: Mapping[str, Any], headers: Mapping[str, str], received_at: float | None = None
) -> AttemptTimeouts:
    """The limits for one request on a provider with `defaults`, read from the body and headers."""
    values = DefaultTimeouts(defaults.connect_s, defaults.first_token_s, defaults.idle_s, defaults.total_s)
    return attempt_timeouts(values, parse_timeouts(body, headers), received_at)


_CLIENT_TIMEOUTS: dict[tuple[float, float | None], aiohttp.ClientTimeout] = {}


def client_timeout(connect_s: float, idle_s: float | None = None) -> aiohttp.ClientTimeout:
    """aiohttp's part of an attempt's limits: connect and, for streams, the idle gap between reads
    (sock_read bounds each read). Never a total: the attempt's own asyncio timer is the one deadline
    timer, so aiohttp schedules none. Built once per distinct pair of values (keyed by value, bounded)."""
    key = (connect_s, idle_s)
    timeout = _CLIENT_TIMEOUTS.get(key)
    if timeout is None:
        if len(_CLIENT_TIMEOUTS) >= 256:  # overrides come from clients: keep the cache bounded
            _CLIENT_TIMEOUTS.clear()
        timeout = _CLIENT_TIMEOUTS[key] = aiohttp.ClientTimeout(total=None, connect=connect_s, sock_connect=connect_s,
                                                                sock_read=idle_s)
    return timeout
