"""The middleware: the request id, the gateway key check, and the last line of defence for errors.

Every answer carries the gateway's `x-request-id` (a UUIDv7 made here, at arrival). An error that
escapes a handler is rendered by the front end of the path it came from, so `/v1/messages` answers
in Anthropic's shape and everything else in OpenAI's. An unexpected exception is logged once, with
the request id, and becomes a 500 in that same shape.
"""

from __future__ import annotations

import hmac
import logging

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from proxy.api.frontend import FrontEnd, answer_headers, front_end_for
from proxy.api.frontend import identity_of as identity_of  # re-exported: where other modules look for it
from proxy.api.openai_chat import FRONT_END as OPENAI
from proxy.appkeys import ACCESS, GATEWAY, IDENTITY, REQUEST_ID
from proxy.auth import KEYS_ENV, GatewayAccess, Identity, presented_key
from proxy.console.session import COOKIE_NAME, CSRF_HEADER, SAFE_METHODS
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


def gateway_middleware(access: GatewayAccess) -> Middleware:
    """The gateway's one middleware: the request id, the key check (`admit`), and the last line of
    defence for errors. One, not one a job: every resume of a handler's awaits passes through each
    middleware's coroutine frame (and aiohttp adds a frame of its own whenever there is any)."""

    @web.middleware
    async def serve(request: web.Request, handler: Handler) -> web.StreamResponse:
        gw = request.app[GATEWAY]
        rid = request[REQUEST_ID] = uuid7()
        token = CURRENT.set(rid)
        gw.in_flight += 1
        try:
            try:
                admit(request, access)
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

    return serve


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


def session_expired() -> GatewayError:
    return GatewayError(401, "The console session has expired or is no longer valid. Sign in again with a gateway key.",
                        code="invalid_session")


def csrf_refused() -> GatewayError:
    return GatewayError(403, f"A call made with the console's session cookie must carry the {CSRF_HEADER} header "
                        "from GET /console/session.", code="csrf_token_missing")


def is_console_path(path: str) -> bool:
    """The console's shell, assets and sign-in exchange: open, since they hold no data of their own."""
    return path == "/console" or path.startswith("/console/")


def session_identity(access: GatewayAccess, request: web.Request, cookie: str) -> Identity:
    """The identity a console session cookie stands for (with its CSRF token on writes)."""
    session = access.sessions.verify(cookie)
    identity = access.session_identity(session) if session else None
    if session is None or identity is None:
        raise session_expired()
    if request.method not in SAFE_METHODS and not hmac.compare_digest(
        request.headers.get(CSRF_HEADER, "").encode(), session.csrf.encode()
    ):
        raise csrf_refused()
    return identity


def admit(request: web.Request, access: GatewayAccess) -> None:
    """The key check: static keys first, then virtual keys; a console session cookie stands for either.
    The gateway is open only while neither kind exists: the first virtual key issued turns the check on
    without a restart. Sets the caller's identity on the request, or raises a 401."""
    keys_on = access.required
    if keys_on:
        request[ACCESS] = access
    if request.path in OPEN_PATHS or is_console_path(request.path):
        return
    key = presented_key(request.headers)
    cookie = request.cookies.get(COOKIE_NAME)
    if key is None and cookie is not None and keys_on:
        request[IDENTITY] = session_identity(access, request, cookie)
        return
    identity = access.checker.identify(key)
    virtual = access.virtual
    if identity is None and key is not None and virtual is not None:
        identity = virtual.identity(key)
    if identity is not None:
        request[IDENTITY] = identity
    elif keys_on:
        raise unauthorized(missing=key is None, front_end=front_end_for(request, OPENAI))
