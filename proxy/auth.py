"""Gateway API keys: when any are configured, every request but /health needs one.

Keys come from `server.api_keys`, the file `server.api_keys_file` (one key a line, `#` comments) and
the environment variable SWITCHYARD_API_KEYS (comma-separated). Clients send
`Authorization: Bearer <key>` (or `x-api-key: <key>`, as Anthropic-format clients do). Keys are
compared as SHA-256 digests with `hmac.compare_digest` against every configured key, so neither the
time taken nor an early exit says how close a guess was. The presented key is never logged or echoed.

Every key has a name (the request log, usage and visibility use it, never the key): `{name, key}`
entries name themselves; a bare key is `key-` plus the first 8 hex digits of its SHA-256. Admin keys
(`server.admin_keys`, SWITCHYARD_ADMIN_KEYS) are gateway keys that also see every key's records.
Virtual keys (issued by the keys API, `proxy.keys`) are looked up beside these. The check itself
runs in `proxy.api.middleware`, which records the caller's `Identity`.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from pydantic import SecretStr

from proxy.config import ConfigError, NamedKey, ServerConfig
from proxy.console.session import ConsoleSessions, Session

KEYS_ENV = "SWITCHYARD_API_KEYS"
ADMIN_KEYS_ENV = "SWITCHYARD_ADMIN_KEYS"


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a request is: its key's name, whether it may see every key's records, and for a virtual
    key (issued by the keys API, with limits) its id."""

    key_name: str | None
    admin: bool
    key_id: str | None = None


# Looks a presented secret up among the virtual keys (proxy.keys), and says whether any exist; a
# console session for a virtual key is checked against its digest, found by the key's id.
class VirtualKeys(Protocol):
    @property
    def any(self) -> bool: ...

    def identity(self, secret: str) -> Identity | None: ...

    def digest_of_id(self, key_id: str) -> bytes | None: ...

    def identity_of_digest(self, digest: bytes) -> Identity | None: ...


# No gateway keys configured (a local demo): every request may see everything.
OPEN = Identity(None, True)


@dataclass(frozen=True, slots=True)
class GatewayKey:
    name: str
    secret: str
    admin: bool = False


def key_name(secret: str) -> str:
    """The name of a key configured without one: never the key, nor enough of its hash to guess it."""
    return "key-" + hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()[:8]


def _named(entries: Iterable[NamedKey | SecretStr | str], admin: bool) -> list[GatewayKey]:
    out = []
    for entry in entries:
        if isinstance(entry, NamedKey):
            secret = entry.key.get_secret_value().strip()
            name = entry.name
        else:
            secret = (entry.get_secret_value() if isinstance(entry, SecretStr) else entry).strip()
            name = key_name(secret)
        if secret:
            out.append(GatewayKey(name, secret, admin))
    return out


def load_gateway_keys(server: ServerConfig, environ: Mapping[str, str]) -> list[GatewayKey]:
    """Every configured key with its name, from config, key file and environment."""
    keys = _named(server.api_keys, admin=False)
    if server.api_keys_file:
        path = Path(server.api_keys_file).expanduser()
        try:
            text = path.read_text()
        except OSError as exc:
            raise ConfigError(f"server.api_keys_file: cannot read {path}: {exc.strerror}") from None
        keys += _named((line.split("#", 1)[0] for line in text.splitlines()), admin=False)
    keys += _named(environ.get(KEYS_ENV, "").split(","), admin=False)
    keys += _named(server.admin_keys, admin=True)
    keys += _named(environ.get(ADMIN_KEYS_ENV, "").split(","), admin=True)
    by_secret: dict[str, GatewayKey] = {}
    for key in keys:
        seen = by_secret.get(key.secret)
        if seen is not None:  # listed twice: admin if either says so, and a given name beats a derived one
            name = seen.name if seen.name != key_name(key.secret) else key.name
            key = GatewayKey(name, key.secret, seen.admin or key.admin)
        by_secret[key.secret] = key
    return list(by_secret.values())


def load_api_keys(server: ServerConfig, environ: Mapping[str, str]) -> list[str]:
    """Every configured gateway key (admin keys included), deduplicated."""
    return [k.secret for k in load_gateway_keys(server, environ)]


def presented_key(headers: Mapping[str, str]) -> str | None:
    auth = headers.get("Authorization")
    if auth:
        scheme, _, token = auth.strip().partition(" ")
        return token.strip() if scheme.lower() == "bearer" and token.strip() else None
    return headers.get("x-api-key") or None


class KeyChecker:
    """Constant-time lookup over digests of the configured keys."""

    __slots__ = ("_digests", "_identities")

    def __init__(self, keys: list[GatewayKey] | list[str]) -> None:
        named = [k if isinstance(k, GatewayKey) else GatewayKey(key_name(k), k) for k in keys]
        self._digests = [hashlib.sha256(k.secret.encode()).digest() for k in named]
        self._identities = [Identity(k.name, k.admin) for k in named]

    def __bool__(self) -> bool:
        return bool(self._digests)

    @property
    def digests(self) -> list[bytes]:
        return list(self._digests)

    def _find(self, key: str) -> int:
        digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()
        found = -1
        for i, known in enumerate(self._digests):  # no early exit: every key is compared every time
            if hmac.compare_digest(digest, known):
                found = i
        return found

    def identify(self, key: str | None) -> Identity | None:
        """The identity of a configured key, or None."""
        found = -1 if key is None else self._find(key)
        return self._identities[found] if found >= 0 else None

    def digest_of(self, key: str) -> bytes | None:
        """The stored digest of a configured key (what a console session stands for), or None."""
        found = self._find(key)
        return self._digests[found] if found >= 0 else None

    def identity_of_digest(self, digest: bytes) -> Identity | None:
        """The identity behind a console session's digest; None once that key is no longer configured."""
        for known, identity in zip(self._digests, self._identities):
            if hmac.compare_digest(digest, known):
                return identity
        return None

    def accepts(self, key: str | None) -> bool:
        return self.identify(key) is not None


class GatewayAccess:
    """The configured keys, the virtual keys, and the console sessions that stand for either."""

    __slots__ = ("checker", "sessions", "virtual")

    def __init__(self, checker: KeyChecker, environ: Mapping[str, str], virtual: VirtualKeys | None = None) -> None:
        self.checker = checker
        self.virtual = virtual
        self.sessions = ConsoleSessions(checker.digests, environ, virtual.digest_of_id if virtual is not None else None)

    @property
    def required(self) -> bool:
        """Whether a caller needs a key: once any is configured, or any virtual key was ever issued."""
        return bool(self.checker) or (self.virtual is not None and self.virtual.any)

    def session_key(self, secret: str) -> tuple[bytes, str | None] | None:
        """What a console session for this key stands for: its digest, and a virtual key's id; None if
        the key is not valid (unknown, revoked or expired)."""
        digest = self.checker.digest_of(secret)
        if digest is not None:
            return digest, None
        virtual = self.virtual
        identity = virtual.identity(secret) if virtual is not None else None
        if virtual is None or identity is None or identity.key_id is None:
            return None
        stored = virtual.digest_of_id(identity.key_id)  # the registry's own digest of the key, not hashed again
        return None if stored is None else (stored, identity.key_id)

    def session_identity(self, session: Session) -> Identity | None:
        """Who a verified session is, now: None once its key is gone (unconfigured, revoked, expired)."""
        if session.key_id is None:
            return self.checker.identity_of_digest(session.key_digest)
        return self.virtual.identity_of_digest(session.key_digest) if self.virtual is not None else None


def key_checker(server: ServerConfig, environ: Mapping[str, str]) -> KeyChecker:
    """The configured keys' checker (admin keys included); false when none are configured."""
    return KeyChecker(load_gateway_keys(server, environ))
