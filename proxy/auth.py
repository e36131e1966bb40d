"""Gateway API keys: when any are configured, every request but /health needs one.

Keys come from `server.api_keys`, the file `server.api_keys_file` (one key a line, `#` comments) and
the environment variable SWITCHYARD_API_KEYS (comma-separated). Clients send
`Authorization: Bearer <key>` (or `x-api-key: <key>`, as Anthropic-format clients do). Keys are
compared as SHA-256 digests with `hmac.compare_digest` against every configured key, so neither the
time taken nor an early exit says how close a guess was. The presented key is never logged or echoed.
The check itself runs in `proxy.api.middleware`.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from pathlib import Path

from proxy.config import ConfigError, ServerConfig
from proxy.console.session import ConsoleSessions

KEYS_ENV = "SWITCHYARD_API_KEYS"


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


def presented_key(headers: Mapping[str, str]) -> str | None:
    auth = headers.get("Authorization")
    if auth:
        scheme, _, token = auth.strip().partition(" ")
        return token.strip() if scheme.lower() == "bearer" and token.strip() else None
    return headers.get("x-api-key") or None


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

    def knows_digest(self, digest: bytes) -> bool:
        """Whether a console session's key is still configured."""
        return any(hmac.compare_digest(digest, known) for known in self._digests)

    def accepts(self, key: str | None) -> bool:
        return self.digest_of(key) is not None


class GatewayAccess:
    """The configured keys and the console sessions that stand for them."""

    __slots__ = ("checker", "sessions")

    def __init__(self, checker: KeyChecker, environ: Mapping[str, str]) -> None:
        self.checker = checker
        self.sessions = ConsoleSessions(checker.digests, environ)


def key_checker(server: ServerConfig, environ: Mapping[str, str]) -> KeyChecker:
    """The configured keys' checker; false when none are configured (an open gateway)."""
    return KeyChecker(load_api_keys(server, environ))
