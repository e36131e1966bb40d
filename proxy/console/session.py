"""Console sessions: a key is exchanged once for an opaque, signed, HttpOnly cookie.

The cookie is `payload || mac`, base64url: a random nonce, an expiry and a key marker (an HMAC of the
key's SHA-256 digest, so the cookie carries nothing a key can be recovered or guessed from), signed
with HMAC-SHA256 under a secret the browser never sees. The server maps the marker back to the
configured key's digest. A virtual key (issued by the keys API, so not in a fixed list) adds its
public id after the marker: the server finds that key's digest through the key registry and checks the
marker against it, so a session never outlives its key (revoked or expired, the next call is a 401).
Signed rather than held in a dict so every `--workers` process accepts a session another one issued:
the secret is drawn when this module is first imported, which `serve` does before it forks (or set
SWITCHYARD_CONSOLE_SECRET to share it across machines).

Cross-site request forgery: the cookie is SameSite=Strict, and every state-changing call made with
it must also carry `x-switchyard-csrf`, a synchronizer token derived from the session (HMAC of the
cookie) that the console reads from `GET /console/session` and keeps in memory only. Another site
can neither read that answer nor send a custom header without a CORS preflight, which we never grant.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import struct
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

SECRET_ENV = "SWITCHYARD_CONSOLE_SECRET"
COOKIE_NAME = "switchyard_session"
CSRF_HEADER = "x-switchyard-csrf"
SESSION_TTL_S = 12 * 3600
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

_BOOT_SECRET = secrets.token_bytes(32)  # drawn in the parent before workers fork, so they share it
_NONCE, _EXPIRY, _MARKER, _MAC = 12, 8, 16, 16
_PAYLOAD = _NONCE + _EXPIRY + _MARKER
_KEY_ID_MAX = 40  # a virtual key's id ("key_" + 20 hex) rides after the marker


@dataclass(frozen=True, slots=True)
class Session:
    key_digest: bytes  # SHA-256 of the gateway key this session stands for
    csrf: str
    expires_at: int
    key_id: str | None = None  # a virtual key's id; None for a configured (static) key


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes | None:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None


class ConsoleSessions:
    """Issues and verifies session cookies for a fixed set of key digests and, through `virtual_digest`
    (a virtual key's id -> its digest, or None when there is no such key), for virtual keys."""

    __slots__ = ("_secret", "_by_marker", "_virtual_digest")

    def __init__(self, key_digests: Iterable[bytes], environ: Mapping[str, str] | None = None,
                 virtual_digest: Callable[[str], bytes | None] | None = None) -> None:
        configured = (environ or {}).get(SECRET_ENV, "")
        self._secret = hashlib.sha256(configured.encode()).digest() if configured else _BOOT_SECRET
        self._by_marker = {self._marker(d): d for d in key_digests}
        self._virtual_digest = virtual_digest

    def _mac(self, label: bytes, data: bytes) -> bytes:
        return hmac.new(self._secret, label + data, hashlib.sha256).digest()

    def _marker(self, key_digest: bytes) -> bytes:
        return self._mac(b"key:", key_digest)[:_MARKER]

    def issue(self, key_digest: bytes, now: float | None = None, key_id: str | None = None) -> tuple[str, Session]:
        """A new cookie value for a key the caller has already checked (`key_id`: a virtual key's id)."""
        tail = key_id.encode() if key_id is not None else b""
        if len(tail) > _KEY_ID_MAX or (key_id is not None and not tail):
            raise ValueError("a virtual key's id is 1 to 40 characters")
        expires_at = int(now if now is not None else time.time()) + SESSION_TTL_S
        payload = secrets.token_bytes(_NONCE) + struct.pack(">Q", expires_at) + self._marker(key_digest) + tail
        token = _b64(payload + self._mac(b"session:", payload)[:_MAC])
        return token, Session(key_digest, self._csrf(token), expires_at, key_id)

    def verify(self, token: str | None, now: float | None = None) -> Session | None:
        """The session a cookie stands for, or None if it is forged, expired or its key is gone."""
        if not token or len(token) > 160:
            return None
        raw = _unb64(token)
        if raw is None or not _PAYLOAD + _MAC <= len(raw) <= _PAYLOAD + _KEY_ID_MAX + _MAC:
            return None
        payload, mac = raw[:-_MAC], raw[-_MAC:]
        if not hmac.compare_digest(mac, self._mac(b"session:", payload)[:_MAC]):
            return None
        (expires_at,) = struct.unpack(">Q", payload[_NONCE:_NONCE + _EXPIRY])
        if expires_at < (now if now is not None else time.time()):
            return None
        marker, tail = payload[_NONCE + _EXPIRY:_PAYLOAD], payload[_PAYLOAD:]
        if not tail:
            digest = self._by_marker.get(marker)
            return Session(digest, self._csrf(token), expires_at) if digest is not None else None
        key_id = tail.decode("ascii", "replace")
        digest = self._virtual_digest(key_id) if self._virtual_digest is not None else None
        if digest is None or not hmac.compare_digest(marker, self._marker(digest)):
            return None
        return Session(digest, self._csrf(token), expires_at, key_id)

    def _csrf(self, token: str) -> str:
        return _b64(self._mac(b"csrf:", token.encode())[:18])
