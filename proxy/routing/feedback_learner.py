"""Learning from feedback: what counts as a signal, and the per-(scope, model) posteriors kept current in the
Rust router. No I/O: observations come in (the feedback endpoint, finished outcomes, a replay of the log),
corrections go out to `Router.set_correction`.

Signals, each a soft label y (1: a good answer) with a weight, all from `auto` requests only (their route
receipt keeps the prompt's latent vector):
- explicit feedback (`POST /v1/feedback`): y = score, or 1/0 for thumbs up/down; weight 1;
- an upstream failure after routing (status error or partial, HTTP 5xx, not a timeout, which may be the
  client's own deadline, nor the gateway's own failure): y = 0, weight 0.25, since most failures are the
  provider's availability, which the breaker already handles, not the model's answer;
- truncation (finish_reason `length`) when the request set no max_tokens: y = 0, weight 0.25;
- a refusal the provider flagged (finish_reason `content_filter` or `refusal`): y = 0, weight 0.5. Refusals
  in the text itself are not detected: without bodies the gateway cannot read the answer, and guessing from
  phrasing would teach from false positives.
A cancelled request (the client left, or cut the request short) and a success nobody rated teach nothing.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from proxy.routing.feedback_posterior import (
    Posterior,
    ability_shift,
    decay,
    dot,
    features,
    observe,
    prior_precision,
)
from proxy.routing.model_routing import DEPLOYMENT_SCOPE, ModelRouter

EXPLICIT_WEIGHT = 1.0
ERROR_WEIGHT = 0.25
TRUNCATION_WEIGHT = 0.25
REFUSAL_WEIGHT = 0.5
# error codes that say nothing about the model: a deadline the client may have set, the gateway's own end
NOT_THE_MODEL = frozenset({"upstream_timeout", "gateway_shutting_down", "internal_error"})
REFUSAL_REASONS = frozenset({"content_filter", "refusal"})


@dataclass(frozen=True, slots=True)
class Observation:
    scope: str  # "deployment" or "key:<name>"
    model: str
    z: tuple[float, ...]  # the router's latent vector for the prompt: z, then -difficulty
    y: float
    weight: float
    ts: float  # Unix seconds
    signal: str  # feedback | error | truncated | refusal


def scope_of(key: str | None) -> str:
    """The scope a request's own signals teach: its key's, or the deployment's with keys off."""
    return DEPLOYMENT_SCOPE if key is None else f"key:{key}"


def explicit_label(score: float | None, thumbs: str | None) -> float:
    return float(score) if score is not None else 1.0 if thumbs == "up" else 0.0


def implicit_signal(status: str | None, http_status: int | None, error_code: str | None, finish_reason: str | None,
                    max_tokens: int | None) -> tuple[str, float, float] | None:
    """(signal, y, weight) of a finished `auto` request, or None when it teaches nothing."""
    if status in ("error", "partial"):
        if error_code in NOT_THE_MODEL or (http_status is not None and 400 <= http_status < 500):
            return None  # the client's input, its deadline, or the gateway's own failure
        if http_status == 504:  # every attempt timed out: perhaps against the client's own deadline
            return None
        return "error", 0.0, ERROR_WEIGHT
    if status != "ok":
        return None
    if finish_reason == "length" and max_tokens is None:
        return "truncated", 0.0, TRUNCATION_WEIGHT
    if finish_reason in REFUSAL_REASONS:
        return "refusal", 0.0, REFUSAL_WEIGHT
    return None


def learnable_latent(route: Mapping[str, object] | None, router: ModelRouter) -> tuple[float, ...] | None:
    """The latent vector a route receipt kept, when it was made by these weights (k + 1 numbers)."""
    feats = route.get("features") if route else None
    if not isinstance(feats, Mapping) or feats.get("latent_version") != router.latent_version:
        return None
    z = feats.get("z")
    if not isinstance(z, list) or len(z) != router.k + 1:
        return None
    return tuple(float(v) for v in z)


class FeedbackLearner:
    """Posteriors per (scope, model) over a correction of the model's ability; each change is pushed to the
    router, which adds the corrections of a request's scopes to the abilities it ranks with."""

    def __init__(self, router: ModelRouter, half_life_s: float, push: bool = True) -> None:
        """`push`: keep the router's corrections current (off for a rebuild on another thread, which
        hands its posteriors over with `adopt`)."""
        self.router = router
        self.half_life_s = half_life_s
        self.push = push
        self.k = router.k
        self.centre = router.latent_centre
        self.prior = prior_precision(router.k + 1)
        # read once: a rebuild on a worker thread must not borrow the Rust router the loop may be changing
        self.abilities = {m: router.router.ability_of(m) for m in router.sources}
        self.posteriors: dict[tuple[str, str], Posterior] = {}
        # when each correction last took an observation (Unix s): what an operator reads as its last update
        # (a posterior's own time also moves when its evidence is only faded)
        self.updated: dict[tuple[str, str], float] = {}

    def learn(self, obs: Observation) -> bool:
        """Apply one observation; False when it cannot teach (a model no longer in the catalogue, a latent
        vector of another size)."""
        ability = self.abilities.get(obs.model)
        if len(obs.z) != self.k + 1 or ability is None or obs.weight <= 0:
            return False
        a, b = ability
        base_logit = dot(a, list(obs.z[: self.k])) + obs.z[self.k] + b
        key = (obs.scope, obs.model)
        post = self.posteriors.get(key) or Posterior.new(self.prior, obs.ts)
        post = observe(decay(post, obs.ts, self.half_life_s), features(list(obs.z), self.centre), base_logit,
                       min(max(obs.y, 0.0), 1.0), obs.weight)
        self.posteriors[key] = post
        self.updated[key] = max(self.updated.get(key, obs.ts), obs.ts)
        if self.push:
            self._push(key, post)
        return True

    def refresh(self, now: float) -> None:
        """Let evidence fade up to `now` (between observations the router holds the last update's means)."""
        for key, post in self.posteriors.items():
            self.posteriors[key] = post = decay(post, now, self.half_life_s)
            self._push(key, post)

    def adopt(self, posteriors: dict[tuple[str, str], Posterior],
              updated: Mapping[tuple[str, str], float] | None = None) -> None:
        """Replace every posterior (a rebuild's, with when each last learned) and the router's corrections with them."""
        self.posteriors = dict(posteriors)
        self.updated = {k: t for k, t in (updated or {}).items() if k in self.posteriors}
        self.router.router.clear_corrections()
        self.router.has_corrections = False
        for key, post in self.posteriors.items():
            self._push(key, post)

    def corrections(self) -> Iterator[tuple[str, str, list[float], float, int]]:
        """(scope, model, Δa, Δb, evidence) of every posterior."""
        for (scope, model), post in self.posteriors.items():
            da, db = ability_shift(post.mean(), self.centre)
            yield scope, model, da, db, post.evidence

    def _push(self, key: tuple[str, str], post: Posterior) -> None:
        da, db = ability_shift(post.mean(), self.centre)
        self.router.router.set_correction(key[0], key[1], da, db, post.evidence)
        self.router.has_corrections = True
