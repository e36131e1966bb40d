"""The web console at /console: the single-page shell, its static files, and the key-for-cookie exchange.

Every page URL answers with the same shell (index.html); the script reads the path and draws the page,
so each page can be bookmarked. The files are read once at start-up from the package (no build step,
nothing fetched from elsewhere) and answered with a Content-Security-Policy that allows no inline script.
"""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from proxy.api.body import read_json_object
from proxy.appkeys import ACCESS
from proxy.auth import GatewayAccess
from proxy.console.session import COOKIE_NAME, SESSION_TTL_S, Session
from proxy.errors import GatewayError

STATIC_DIR = Path(__file__).resolve().parent.parent / "console" / "static"
PAGE_PATHS = (
    "/console", "/console/models", "/console/models/{slug:.+}", "/console/requests", "/console/requests/{id}",
    "/console/usage", "/console/playground", "/console/keys",
)
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
TYPES = {".js": "text/javascript", ".css": "text/css", ".html": "text/html", ".svg": "image/svg+xml", ".png": "image/png"}


@dataclass(frozen=True, slots=True)
class StaticFile:
    body: bytes
    content_type: str
    etag: str


def load_static(root: Path = STATIC_DIR) -> dict[str, StaticFile]:
    """Every file under `root`, keyed by its path relative to it ("pages/models.js")."""
    files = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            body = path.read_bytes()
            ctype = TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            files[path.relative_to(root).as_posix()] = StaticFile(body, ctype, '"' + hashlib.sha256(body).hexdigest()[:20] + '"')
    return files


def serve_file(request: web.Request, file: StaticFile) -> web.Response:
    # Revalidated each load (no-cache + ETag): an upgraded gateway never runs yesterday's script.
    headers = {**SECURITY_HEADERS, "Cache-Control": "no-cache", "ETag": file.etag}
    if request.headers.get("If-None-Match") == file.etag:
        return web.Response(status=304, headers=headers)
    charset = "utf-8" if file.content_type.startswith("text/") or file.content_type.endswith("svg+xml") else None
    return web.Response(body=file.body, content_type=file.content_type, charset=charset, headers=headers)


class ConsoleFiles:
    """Handlers bound to the files loaded at start-up."""

    def __init__(self, files: dict[str, StaticFile]) -> None:
        self.files = files

    async def page(self, request: web.Request) -> web.Response:
        return serve_file(request, self.files["index.html"])

    async def asset(self, request: web.Request) -> web.Response:
        file = self.files.get(request.match_info["path"])
        if file is None:
            raise GatewayError(404, f"The console has no file {request.match_info['path']!r}.", code="not_found")
        return serve_file(request, file)


def session_payload(access: GatewayAccess | None, session: Session | None) -> dict[str, Any]:
    """What the console knows of its sign-in: keys on or not, who it is signed in as, its CSRF token."""
    if access is None:  # an open gateway: everyone sees everything
        return {"keys_required": False, "signed_in": False, "key": None, "admin": True, "csrf": None, "expires_at": None}
    identity = access.session_identity(session) if session else None
    if session is None or identity is None:
        return {"keys_required": True, "signed_in": False, "key": None, "admin": False, "csrf": None, "expires_at": None}
    return {
        "keys_required": True, "signed_in": True, "key": identity.key_name, "admin": identity.admin, "csrf": session.csrf,
        "expires_at": datetime.fromtimestamp(session.expires_at, UTC).isoformat().replace("+00:00", "Z"),
    }


def no_store(payload: dict[str, Any], status: int = 200) -> web.Response:
    return web.json_response(payload, status=status, headers={"Cache-Control": "no-store"})


async def get_session(request: web.Request) -> web.Response:
    """Whether keys are on, whether this browser is signed in, and the CSRF token for its writes."""
    access = request.get(ACCESS)
    session = access.sessions.verify(request.cookies.get(COOKIE_NAME)) if access else None
    return no_store(session_payload(access, session))


async def create_session(request: web.Request) -> web.Response:
    """POST {"key": "..."}: check the key once, answer with the session cookie (the key is not kept)."""
    access: GatewayAccess | None = request.get(ACCESS)
    if request.content_type != "application/json":  # a cross-site form cannot send this type unpreflighted
        raise GatewayError(415, "Send the key as application/json: {\"key\": \"...\"}.", code="unsupported_media_type")
    body = await read_json_object(request, 16_384)
    key = body.get("key")
    if not isinstance(key, str) or not key.strip():
        raise GatewayError(400, "'key' must be a non-empty string: the gateway API key to sign in with.", param="key")
    if access is None:
        return no_store(session_payload(None, None))
    found = access.session_key(key.strip())
    if found is None:
        raise GatewayError(401, "That gateway API key is not valid (or was revoked).", param="key", code="invalid_api_key")
    token, session = access.sessions.issue(found[0], key_id=found[1])
    response = no_store(session_payload(access, session))
    secure = request.secure or request.headers.get("X-Forwarded-Proto", "").lower() == "https"
    response.set_cookie(COOKIE_NAME, token, max_age=SESSION_TTL_S, path="/", httponly=True, samesite="Strict", secure=secure)
    return response


async def delete_session(request: web.Request) -> web.Response:
    """Sign out: the browser forgets the cookie (a copied cookie still lapses at its expiry)."""
    response = no_store(session_payload(request.get(ACCESS), None))
    response.del_cookie(COOKIE_NAME, path="/")
    return response


def add_console_routes(app: web.Application) -> None:
    files = ConsoleFiles(load_static())
    for path in PAGE_PATHS:
        app.router.add_get(path, files.page)
    app.router.add_get("/console/static/{path:.+}", files.asset)
    app.router.add_get("/console/session", get_session)
    app.router.add_post("/console/session", create_session)
    app.router.add_delete("/console/session", delete_session)
