"""A plainly-correct model of the limiter, as a test oracle (never a production path).

It keeps every admission forever and recounts the window from scratch on each request, which is
slow and obviously right: the property tests drive it and a real back end with the same arrivals
and require the same decisions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from proxy.state import rules


@dataclass
class Admitted:
    at: float
    ticket: str
    tokens: int
    cost: int
    lease_until: float
    settled: bool = False


@dataclass
class ReferenceLimiter:
    limits: rules.KeyLimits
    window_s: float = rules.DEFAULT_WINDOW_S
    spent: int = 0
    history: list[Admitted] = field(default_factory=list)

    def _in_window(self, now: float) -> list[Admitted]:
        return [a for a in self.history if now - self.window_s < a.at <= now]

    def _live(self, now: float) -> list[Admitted]:
        return [a for a in self.history if not a.settled and a.lease_until > now]

    def admit(self, ticket: str, tokens: int, cost: int, now: float, lease_s: float) -> str | None:
        """None when admitted, else the limit that refused."""
        window = self._in_window(now)
        live = self._live(now)
        if self.limits.rpm is not None and len(window) >= self.limits.rpm:
            return "rpm"
        used = sum(a.tokens for a in window)
        if self.limits.tpm is not None and not (used + tokens <= self.limits.tpm or used == 0 and self.limits.tpm > 0):
            return "tpm"
        if self.limits.max_parallel is not None and len(live) >= self.limits.max_parallel:
            return "max_parallel"
        reserved = sum(a.cost for a in live)
        budget = self.limits.budget_nusd
        if budget is not None and not (self.spent + reserved + cost <= budget or reserved == 0 and self.spent < budget):
            return "budget"
        self.history.append(Admitted(now, ticket, tokens, cost, now + lease_s))
        return None

    def settle(self, ticket: str, tokens: int, cost: int) -> None:
        for a in self.history:
            if a.ticket == ticket and not a.settled:
                a.settled = True
                a.tokens = tokens
                self.spent += cost
                return

    def max_in_any_window(self) -> int:
        """The most admissions any window of `window_s` ever held (windows ending at an admission)."""
        times = sorted(a.at for a in self.history)
        best, lo = 0, 0
        for hi, t in enumerate(times):
            while times[lo] <= t - self.window_s:
                lo += 1
            best = max(best, hi - lo + 1)
        return best
