"""Middlewares: the request id, the gateway key check, and the last line of defence for errors.

Every answer carries the gateway's `x-request-id` (a UUIDv7 made here, at arrival). An error that
escapes a handler is rendered by the front end of the path it came from, so `/v1/messages` answers
in Anthropic's shape and everything else in OpenAI's. An unexpected exception is logged once, with
the request id, and becomes a 500 in that same shape.
"""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from proxy.api.frontend import FrontEnd, answer_headers, front_end_for
from proxy.api.frontend import identity_of as identity_of  # re-exported: where other modules look for it
from proxy.api.openai_chat import FRONT_END as OPENAI
from proxy.appkeys import GATEWAY, IDENTITY, REQUEST_ID
from proxy.auth import KEYS_ENV, KeyChecker, VirtualKeys, presented_key
from proxy.errors import GatewayError, internal_error
from proxy.redact import redacted_traceback
from proxy.request_id import CURRENT, uuid7
from proxy.request_id import HEADER as REQUEST_ID_HEADER

log = logging.getLogger("switchyard")


def http_error(request: web.Request, exc: web.HTTPException) -> GatewayError:
    """aiohttp's own 404/405/413 (no route, wrong method, body too large) as the gateway's error."""
    message = {404: f"No route for {request.method} {request.path}.",
               405: f"Method {request.method} is not allowed on {request.path}."}.get(exc.status, exc.reason)
    return GatewayError(exc.status, message, type="invalid_request_error" if exc.status < 500 else None)


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    gw = request.app[GATEWAY]
    rid = request[REQUEST_ID] = uuid7()
    token = CURRENT.set(rid)
    gw.in_flight += 1
    try:
        try:
            resp = await handler(request)
        except GatewayError as exc:
            return render(request, exc)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            return render(request, http_error(request, exc))
        except Exception as exc:  # the last line of defence: logged once, never a stack trace to the client
            log.error("unhandled error on %s %s: %s", request.method, request.path, redacted_traceback(exc))
            return render(request, internal_error())
        # The chat front ends build their answers with these headers (cheaper than adding them after);
        # a stream took them before its first byte. Any other answer gets them here.
        if not resp.prepared and REQUEST_ID_HEADER not in resp.headers:
            resp.headers.update(answer_headers(request))
        return resp
    finally:
        gw.in_flight -= 1
        CURRENT.reset(token)


def render(request: web.Request, error: GatewayError) -> web.Response:
    return front_end_for(request, OPENAI).error_response(error, answer_headers(request))


OPEN_PATHS = frozenset({"/health"})


def unauthorized(missing: bool, front_end: FrontEnd) -> GatewayError:
    what = "No gateway API key was sent" if missing else "The gateway API key is not valid (or was revoked)"
    return GatewayError(
        401,
        f"{what}. {front_end.key_hint} with a key issued by POST /v1/keys or one from the gateway's "
        f"server.api_keys, server.api_keys_file or {KEYS_ENV}.",
        code="invalid_api_key",
        headers={"WWW-Authenticate": 'Bearer realm="switchyard"'},
    )


def auth_middleware(checker: KeyChecker, virtual: VirtualKeys | None = None) -> Middleware:
    """Static keys first, then virtual keys. The gateway is open only while neither kind exists: the
    first virtual key issued turns the check on without a restart."""

    @web.middleware
    async def require_key(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path not in OPEN_PATHS:
            key = presented_key(request.headers)
            identity = checker.identify(key)
            if identity is None and key is not None and virtual is not None:
                identity = virtual.identity(key)
            if identity is not None:
                request[IDENTITY] = identity
            elif checker or (virtual is not None and virtual.any):
                raise unauthorized(missing=key is None, front_end=front_end_for(request, OPENAI))
        return await handler(request)

    return require_key

