"""Middlewares: every failure leaves in OpenAI's error shape, and nothing secret leaves at all."""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.typedefs import Handler

from proxy.appkeys import GATEWAY
from proxy.errors import GatewayError, error_response
from proxy.redact import redact

log = logging.getLogger("switchyard")


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    gw = request.app[GATEWAY]
    gw.in_flight += 1
    gw.requests_total += 1
    try:
        return await handler(request)
    except GatewayError as exc:
        return exc.response()
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        message = {404: f"No route for {request.method} {request.path}.", 405: f"Method {request.method} is not allowed on {request.path}."}.get(
            exc.status, exc.reason
        )
        return error_response(exc.status, {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": None}})
    except Exception as exc:  # noqa: BLE001 - the last line of defence: never a stack trace to the client
        log.error("unhandled error on %s %s: %s", request.method, request.path, redact(repr(exc)))
        return error_response(500, {"error": {"message": "Internal gateway error.", "type": "api_error", "param": None, "code": "internal_error"}})
    finally:
        gw.in_flight -= 1
