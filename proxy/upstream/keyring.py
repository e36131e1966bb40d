"""A provider's own API keys, used in turn, each kept under its optional rpm/tpm caps.

The gateway stays under an upstream's limits instead of discovering them: `pick` takes the next key
(round robin) whose 60-second windows still admit a request, and counts it. A key the provider
answered 429 for is cooled until its Retry-After. When every key is capped or cooling, `pick` gives
None and `retry_after_s` says when one frees up: the caller skips the provider for now (falls back
elsewhere) rather than sending a request bound to be refused.

Caps are per replica (each replica keeps its own windows): with N replicas, give each key's cap ÷ N
in the config, as the upstream sees the sum.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

WINDOW_S = 60.0


@dataclass(slots=True)
class UpstreamKey:
    secret: str
    rpm: int | None = None
    tpm: int | None = None
    requests: deque[float] = field(default_factory=deque)
    tokens: deque[tuple[float, int]] = field(default_factory=deque)
    tokens_in_window: int = 0
    cooled_until: float = 0.0

    def prune(self, now: float, window_s: float) -> None:
        start = now - window_s
        while self.requests and self.requests[0] <= start:
            self.requests.popleft()
        while self.tokens and self.tokens[0][0] <= start:
            self.tokens_in_window -= self.tokens.popleft()[1]

    def admits(self, now: float, tokens: int) -> bool:
        if now < self.cooled_until or (self.rpm is not None and len(self.requests) >= self.rpm):
            return False
        # a request bigger than the whole cap still passes alone, into an empty window
        return self.tpm is None or self.tokens_in_window + tokens <= self.tpm or self.tokens_in_window == 0

    def free_at(self, now: float, window_s: float) -> float:
        """When this key can next take a request (now, if it can)."""
        at = max(now, self.cooled_until)
        if self.rpm is not None and len(self.requests) >= self.rpm and self.requests:
            at = max(at, self.requests[0] + window_s)
        if self.tpm is not None and self.tokens_in_window and self.tokens:
            at = max(at, self.tokens[0][0] + window_s) if self.tokens_in_window >= self.tpm else at
        return at


class KeyRing:
    def __init__(self, keys: list[UpstreamKey], window_s: float = WINDOW_S) -> None:
        if not keys:
            raise ValueError("a key ring needs at least one key")
        self.keys = keys
        self.window_s = window_s
        self.next = 0

    def pick(self, now: float, tokens: int = 0) -> tuple[int, str] | None:
        """The next key with room for a request of `tokens`, counted; None when all are capped or cooling."""
        n = len(self.keys)
        for step in range(n):
            i = (self.next + step) % n
            key = self.keys[i]
            key.prune(now, self.window_s)
            if key.admits(now, tokens):
                key.requests.append(now)
                key.tokens.append((now, tokens))
                key.tokens_in_window += tokens
                self.next = (i + 1) % n
                return i, key.secret
        return None

    def settle(self, index: int, now: float, estimated: int, actual: int) -> None:
        """The true token count of a request sent with key `index` (its estimate was counted)."""
        key = self.keys[index]
        for j in range(len(key.tokens) - 1, -1, -1):
            at, counted = key.tokens[j]
            if counted == estimated:
                key.tokens[j] = (at, actual)
                key.tokens_in_window += actual - estimated
                return

    def cool(self, index: int, now: float, retry_after_s: float | None) -> None:
        """The provider answered 429 for this key: rest it for Retry-After (1 s when it gave none)."""
        key = self.keys[index]
        key.cooled_until = max(key.cooled_until, now + (retry_after_s if retry_after_s and retry_after_s > 0 else 1.0))

    def retry_after_s(self, now: float) -> float:
        """Seconds until some key can take a request again."""
        return max(min(k.free_at(now, self.window_s) for k in self.keys) - now, 0.0)
