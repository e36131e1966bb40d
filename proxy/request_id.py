"""Request ids: a UUIDv7 the gateway makes for every request at arrival, and the log lines that carry it.

The id is the gateway's own, never the client's: a client's `x-request-id` is kept beside it as
`client_request_id`, so no client can collide with another tenant's records. The id of the request
being served lives in a context variable (each aiohttp handler runs in its own task, so its own
context), and `RequestIdFilter` puts it on every log line written while serving it.
"""

from __future__ import annotations

import logging
import os
import time
from contextvars import ContextVar

HEADER = "x-request-id"
CURRENT: ContextVar[str | None] = ContextVar("switchyard_request_id", default=None)


def uuid7() -> str:
    """A UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then random bits; sorts by arrival time."""
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10))
    value = value & ~(0xF << 76) | 0x7 << 76  # version 7
    value = value & ~(0x3 << 62) | 0x2 << 62  # variant 10
    h = f"{value:032x}"
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
