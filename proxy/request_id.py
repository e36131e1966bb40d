"""Request ids: a UUIDv7 the gateway makes for every request at arrival, and the log lines that carry it.

The id is the gateway's own, never the client's: a client's `x-request-id` is kept beside it as
`client_request_id`, so no client can collide with another tenant's records. The id of the request
being served lives in a context variable (each aiohttp handler runs in its own task, so its own
context), and `RequestIdFilter` puts it on every log line written while serving it.
"""

from __future__ import annotations

import logging
import random
import time
from contextvars import ContextVar

HEADER = "x-request-id"
CURRENT: ContextVar[str | None] = ContextVar("switchyard_request_id", default=None)


_random_bits = random.getrandbits  # reseeded in each forked worker by the random module itself
_time_ns = time.time_ns


def uuid7() -> str:
    """A UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, version 7, 12 random bits, variant 10, 62
    random bits; sorts by arrival time. An id, not a secret: the (fast, not cryptographic) random
    module is enough, and spares a system call for os.urandom on every request."""
    h = f"{_time_ns() // 1_000_000:012x}7{_random_bits(12):03x}{_random_bits(62) | 0x8000000000000000:016x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class RequestIdFilter(logging.Filter):
    """Prefixes a record written while serving a request with `[request_id]` (and sets `record.request_id`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        rid = CURRENT.get()
        record.request_id = rid or "-"
        if rid is not None and not getattr(record, "_rid_prefixed", False):
            record.msg = f"[{rid}] {record.msg}"
            record._rid_prefixed = True
        return True


def install_log_filter(logger: logging.Logger) -> None:
    if not any(isinstance(f, RequestIdFilter) for f in logger.filters):
        logger.addFilter(RequestIdFilter())
