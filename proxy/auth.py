"""Gateway API keys: when any are configured, every request but /health needs one.

Keys come from `server.api_keys`, the file `server.api_keys_file` (one key a line, `#` comments) and
the environment variable SWITCHYARD_API_KEYS (comma-separated). Clients send
`Authorization: Bearer <key>` (or `x-api-key: <key>`, as Anthropic-format clients do); the web
console sends its session cookie instead (see proxy/console/session.py). Keys are
compared as SHA-256 digests with `hmac.compare_digest` against every configured key, so neither the
time taken nor an early exit says how close a guess was. The presented key is never logged or echoed.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from pathlib import Path

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from proxy.config import ConfigError, ServerConfig
from proxy.console.session import COOKIE_NAME, CSRF_HEADER, SAFE_METHODS, ConsoleSessions
from proxy.errors import GatewayError

KEYS_ENV = "SWITCHYARD_API_KEYS"
OPEN_PATHS = frozenset({"/health"})


def load_api_keys(server: ServerConfig, environ: Mapping[str, str]) -> list[str]:
    """Every configured gateway key, from config, key file and environment, deduplicated."""
    keys = [k.get_secret_value().strip() for k in server.api_keys]
    if server.api_keys_file:
        path = Path(server.api_keys_file).expanduser()
        try:
            text = path.read_text()
        except OSError as exc:
            raise ConfigError(f"server.api_keys_file: cannot read {path}: {exc.strerror}") from None
        keys += [line.split("#", 1)[0].strip() for line in text.splitlines()]
    keys += [k.strip() for k in environ.get(KEYS_ENV, "").split(",")]
    return list(dict.fromkeys(k for k in keys if k))


def presented_key(request: web.Request) -> str | None:
    auth = request.headers.get("Authorization")
    if auth:
        scheme, _, token = auth.strip().partition(" ")
        return token.strip() if scheme.lower() == "bearer" and token.strip() else None
    return request.headers.get("x-api-key") or None


class KeyChecker:
    """Constant-time membership test over digests of the configured keys."""

    __slots__ = ("_digests",)

    def __init__(self, keys: list[str]) -> None:
        self._digests = [hashlib.sha256(k.encode()).digest() for k in keys]

    def __bool__(self) -> bool:
        return bool(self._digests)

    @property
    def digests(self) -> list[bytes]:
        return list(self._digests)

    def digest_of(self, key: str | None) -> bytes | None:
        """The stored digest of a configured key (what a console session stands for), or None."""
        if key is None:
            return None
        digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()
        matched = False
        for known in self._digests:  # no early exit: every key is compared every time
            matched |= hmac.compare_digest(digest, known)
        return digest if matched else None

    def accepts(self, key: str | None) -> bool:
        return self.digest_of(key) is not None


class GatewayAccess:
    """The configured keys and the console sessions that stand for them."""

    __slots__ = ("checker", "sessions")

    def __init__(self, checker: KeyChecker, environ: Mapping[str, str]) -> None:
        self.checker = checker
        self.sessions = ConsoleSessions(checker.digests, environ)


def unauthorized(missing: bool) -> GatewayError:
    what = "No gateway API key was sent" if missing else "The gateway API key is not valid"
    return GatewayError(
        401,
        f"{what}. Send 'Authorization: Bearer <key>' with a key from the gateway's server.api_keys, "
        f"server.api_keys_file or {KEYS_ENV}.",
        code="invalid_api_key",
        headers={"WWW-Authenticate": 'Bearer realm="switchyard"'},
    )


# Request-scoped values the middleware leaves for handlers.
KEY_DIGEST = web.RequestKey("key_digest", bytes)  # SHA-256 of the caller's key, from a header or a console session
ACCESS = web.RequestKey("access", GatewayAccess)  # the keys and sessions, for the console's sign-in exchange


def session_expired() -> GatewayError:
    return GatewayError(
        401, "The console session has expired or is no longer valid. Sign in again with a gateway key.",
        code="invalid_session",
    )


def csrf_refused() -> GatewayError:
    return GatewayError(
        403, f"A call made with the console's session cookie must carry the {CSRF_HEADER} header "
        "from GET /console/session.", code="csrf_token_missing",
    )


def is_console_path(path: str) -> bool:
    """The console's shell, assets and login exchange: open, since they hold no data of their own."""
    return path == "/console" or path.startswith("/console/")


def caller_digest(access: GatewayAccess, request: web.Request) -> bytes:
    """Who is calling: a key from the headers, else a console session (with its CSRF token on writes)."""
    key = presented_key(request)
    cookie = request.cookies.get(COOKIE_NAME)
    if key is not None or cookie is None:
        digest = access.checker.digest_of(key)
        if digest is None:
            raise unauthorized(missing=key is None)
        return digest
    session = access.sessions.verify(cookie)
    if session is None:
        raise session_expired()
    if request.method not in SAFE_METHODS and not hmac.compare_digest(
        request.headers.get(CSRF_HEADER, "").encode(), session.csrf.encode()
    ):
        raise csrf_refused()
    return session.key_digest


def auth_middleware(access: GatewayAccess) -> Middleware:
    @web.middleware
    async def require_key(request: web.Request, handler: Handler) -> web.StreamResponse:
        request[ACCESS] = access
        path = request.path
        if path not in OPEN_PATHS and not is_console_path(path):
            request[KEY_DIGEST] = caller_digest(access, request)
        return await handler(request)

    return require_key


def auth_middlewares(server: ServerConfig, environ: Mapping[str, str]) -> list[Middleware]:
    """[] when no keys are configured (an open gateway), else the key check."""
    checker = KeyChecker(load_api_keys(server, environ))
    return [auth_middleware(GatewayAccess(checker, environ))] if checker else []
