"""What the chat pipeline needs, built once per process (see proxy.app) and passed to every call."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from proxy._scorer import Scorer
from proxy.catalog import Catalog
from proxy.outcome import Outcome
from proxy.pipeline.cached import AnswerCache
from proxy.pipeline.fallback import ProbeGate
from proxy.routing.hedging import Hedging
from proxy.routing.model_routing import ModelRouter
from proxy.upstream.drain import Drain
from proxy.upstream.keys import UpstreamKeys
from proxy.upstream.pool import UpstreamPool

OnFinish = Callable[[Outcome], None]


@dataclass(frozen=True, slots=True)
class ChatResources:
    """What the pipeline needs, built once per process (see proxy.app)."""

    catalog: Catalog
    scorer: Scorer
    model_router: ModelRouter | None
    upstreams: UpstreamPool
    drain: Drain
    max_attempts: int
    on_finish: Sequence[OnFinish] = ()
    upstream_keys: UpstreamKeys | None = None  # providers with several API keys, used in turn
    probe_gate: ProbeGate | None = None  # replicas sharing provider health: who probes a half-open one
    bodies_max_bytes: int = 0  # log.bodies: keep messages and answers (redacted, capped) on the outcome; 0: never
    hedging: Hedging | None = None
    cache: AnswerCache | None = None
