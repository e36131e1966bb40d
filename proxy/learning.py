"""Learning from feedback, wired to the gateway: the learner fed live and rebuilt from the request log.

Live, the feedback endpoint and an on_finish hook (implicit outcomes) hand observations to the learner
(`proxy.routing.feedback_learner`). At start-up, and every `rebuild_s` after, the learner is rebuilt by
replaying the log's feedback and outcomes in time order (the store is shared by replicas, so each replica
converges on the others' feedback), bounded to the last `replay_days` and `replay_max_events` of each
kind. The log keeps what learning needs in each `auto` request's route receipt (the prompt's latent
vector and its weights' version), never the prompt's text.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from proxy.config import FeedbackLearningConfig
from proxy.outcome import Outcome
from proxy.routing.feedback_learner import (
    EXPLICIT_WEIGHT,
    FeedbackLearner,
    Observation,
    explicit_label,
    implicit_signal,
    learnable_latent,
    scope_of,
)
from proxy.routing.model_routing import DEPLOYMENT_SCOPE, ModelRouter
from proxy.store import Feedback, Store, StoreUnavailable

log = logging.getLogger("switchyard")
RECENT_MAX = 2048  # live observations kept to re-apply over a rebuild that started before they came


def rated(ts_ms: int, scope: str | None, score: float | None, thumbs: str | None, key: str | None,
          record: Mapping[str, Any], router: ModelRouter) -> Observation | None:
    """A feedback row on an `auto` request as an observation of the model that answered it."""
    z = learnable_latent(record.get("route"), router)
    model = record.get("model")
    if z is None or not isinstance(model, str):
        return None
    return Observation(DEPLOYMENT_SCOPE if scope == DEPLOYMENT_SCOPE else scope_of(key), model, z,
                       explicit_label(score, thumbs), EXPLICIT_WEIGHT, ts_ms / 1000.0, "feedback")


def implied(record: Mapping[str, Any], router: ModelRouter) -> Observation | None:
    """A finished `auto` request's implicit signal (a failure, a truncation, a flagged refusal), if any."""
    route = record.get("route")
    z = learnable_latent(route, router)
    if z is None:
        return None
    feats = (route.get("features") or {}) if isinstance(route, Mapping) else {}
    signal = implicit_signal(record.get("status"), record.get("http_status"), record.get("error_code"),
                             record.get("finish_reason"), feats.get("max_tokens"))
    attempts = record.get("attempts") or []
    model = record.get("model") or (attempts[-1].get("model") if attempts else None)
    if signal is None or not isinstance(model, str):
        return None
    name, y, weight = signal
    ends_ms = float(record.get("ts_ms") or 0) + float(record.get("duration_ms") or 0.0)
    return Observation(scope_of(record.get("key")), model, z, y, weight, ends_ms / 1000.0, name)


class FeedbackLearning:
    """The learner, the store it replays from, and the periodic rebuild."""

    def __init__(self, router: ModelRouter, store: Store, cfg: FeedbackLearningConfig,
                 clock: Callable[[], float] = time.time) -> None:
        self.router = router
        self.store = store
        self.cfg = cfg
        self.clock = clock
        self.learner = FeedbackLearner(router, cfg.half_life_s)
        self.recent: list[Observation] = []
        self.replayed = 0  # observations the last rebuild applied
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.rebuild()
        if self.cfg.rebuild_s > 0:
            self._task = asyncio.create_task(self._every())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def learn(self, obs: Observation) -> None:
        if self.learner.learn(obs):
            self.recent.append(obs)
            del self.recent[:-RECENT_MAX]

    async def rebuild(self) -> int:
        """Replay the log into a fresh learner; on a store outage keep what is learned."""
        now = self.clock()
        since_ms = int((now - self.cfg.replay_days * 86400) * 1000)
        try:
            feedback_rows, implicit_rows = await self.store.learning_events(since_ms, self.cfg.replay_max_events)
        except StoreUnavailable as exc:
            log.warning("learning from feedback: could not replay the log (%s); keeping what was learned", exc)
            return 0
        observations: list[Observation] = []
        for ts, scope, score, thumbs, key, doc in feedback_rows:
            obs = rated(ts, scope, score, thumbs, key, orjson.loads(doc), self.router)
            if obs is not None:
                observations.append(obs)
        for _ts, _key, doc in implicit_rows:
            obs = implied(orjson.loads(doc), self.router)
            if obs is not None:
                observations.append(obs)
        observations.sort(key=lambda o: o.ts)
        fresh = FeedbackLearner(self.router, self.cfg.half_life_s, push=False)
        # pure Python, up to ~0.2 ms an observation: off the event loop
        applied = await asyncio.to_thread(lambda: sum(fresh.learn(o) for o in observations))
        self.learner.adopt(fresh.posteriors, fresh.updated)
        # live observations that came after the replay's read
        seen = set(observations)
        for obs in self.recent:
            if obs.ts >= now - 1.0 and obs not in seen:
                self.learner.learn(obs)
        self.learner.refresh(self.clock())
        self.replayed = applied
        return applied

    def on_finish(self, outcome: Outcome) -> None:
        """The on_finish hook: an `auto` request's implicit signal, learned on the loop's next turn."""
        if outcome.route is None:
            return
        record = {
            "route": {"features": outcome.route.features}, "status": outcome.status,
            "http_status": outcome.http_status, "error_code": outcome.error_code,
            "finish_reason": outcome.finish_reason, "model": outcome.model, "key": outcome.key,
            "ts_ms": int(outcome.started_at * 1000), "duration_ms": outcome.duration_ms,
            "attempts": [{"model": a.model} for a in outcome.attempts],
        }
        obs = implied(record, self.router)
        if obs is not None:
            asyncio.get_running_loop().call_soon(self.learn, obs)

    async def on_feedback(self, fb: Feedback, record: Mapping[str, Any] | None) -> None:
        """A rating the store has just kept, with the rated request's record."""
        if record is None:
            return
        obs = rated(fb.ts_ms, fb.scope, fb.score, fb.thumbs, record.get("key"), record, self.router)
        if obs is not None:
            self.learn(obs)

    async def _every(self) -> None:
        while True:
            await asyncio.sleep(self.cfg.rebuild_s)
            try:
                await self.rebuild()
            except Exception:  # a bug must not end the rebuilds for good; what was learned stays
                log.exception("learning from feedback: rebuilding from the log failed")


def learning_hook(get: Callable[[], FeedbackLearning | None]) -> Callable[[Outcome], None]:
    """An on_finish hook that reaches the learning service once the gateway has made it."""

    def hook(outcome: Outcome) -> None:
        learning = get()
        if learning is not None:
            learning.on_finish(outcome)

    return hook
