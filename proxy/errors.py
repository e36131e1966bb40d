"""The gateway's one error hierarchy, in plain Python (no HTTP server here).

An error carries what any front end needs to render it: an HTTP status, a message that says what
went wrong and what to do, the offending field path (`param`), a machine code and extra headers.
Only the front ends in `proxy.api` turn these into HTTP answers, each in its own wire format.
"""

from __future__ import annotations

# HTTP status -> OpenAI's error `type`, the default classification of an error.
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}


def is_retriable_status(status: int) -> bool:
    return status == 408 or status == 429 or status >= 500


class GatewayError(Exception):
    """An error the gateway answers with; `param` names the offending field path.

    `retriable` says whether the fallback loop may try the next candidate (connection errors,
    timeouts, 429, 5xx, overload); it matters only for errors raised while calling an upstream.
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        type: str | None = None,
        headers: dict[str, str] | None = None,
        retriable: bool | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.type = type or ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
        self.headers = headers or {}
        self.retriable = is_retriable_status(status) if retriable is None else retriable
        self.retry_after_s = retry_after_s


class UpstreamError(GatewayError):
    """A failure of one upstream attempt (its answer, its stream, or the connection to it), which the
    fallback loop may retry elsewhere; the provider's own error type is kept."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "upstream_error",
        code: str | None = None,
        param: str | None = None,
        retriable: bool | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(status, message, param=param, code=code, type=type, retriable=retriable,
                         retry_after_s=retry_after_s)
        self.in_stream = False  # raised by an open stream's events rather than by an HTTP status
        # a timeout the client set below the provider's default: the provider's health is not at stake
        self.caused_by_client = False


def internal_error(message: str = "Internal gateway error.") -> GatewayError:
    """A bug of the gateway's own, as the client sees it (the details go to the log, not the client)."""
    return GatewayError(500, message, type="api_error", code="internal_error", retriable=False)
