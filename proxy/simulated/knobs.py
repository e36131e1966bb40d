"""Fault and pacing knobs shared by every mock upstream, and the bits of behaviour they drive."""

from __future__ import annotations

import asyncio
import random
from dataclasses import asdict, dataclass, fields
from typing import Any

import orjson

from proxy.simulated.schema_instance import instance_for


@dataclass
class Knobs:
    ttft_ms: float = 20.0  # delay before the first content chunk (or before a non-stream body)
    slow_share: float = 0.0  # the tail: this share of requests waits `slow_ttft_ms` instead (a queue)
    slow_ttft_ms: float = 3000.0
    tokens_per_s: float = 400.0  # pace of content chunks; each chunk carries `tokens_per_chunk` tokens
    tokens_per_chunk: int = 2
    chunks: int = 8  # content chunks per answer
    error_rate: float = 0.0  # probability that a request gets `error_status`
    error_status: int = 500
    status: int | None = None  # force every request to this status (e.g. 503, 429, 401)
    retry_after_s: float | None = None  # sent as Retry-After with 429/503
    hang: bool = False  # accept the request and never answer
    drop_after_chunks: int | None = None  # close the connection after N content chunks (mid-stream)
    stream_error_after_chunks: int | None = None  # send an in-stream error event after N content chunks
    keepalive_every_ms: float = 0.0  # send SSE keep-alive comments while waiting for the first token
    cached_prompt_tokens: int = 0  # prompt tokens reported as read from the provider's prompt cache
    api_key: str | None = None  # when set, requests must carry this key in the wire format's auth header
    seed: int | None = None

    def update(self, patch: dict[str, Any]) -> None:
        names = {f.name for f in fields(self)}
        unknown = set(patch) - names
        if unknown:
            raise ValueError(f"unknown knob(s): {sorted(unknown)}")
        for key, value in patch.items():
            setattr(self, key, value)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def chunk_gap_s(self) -> float:
        if self.tokens_per_s <= 0:
            return 0.0
        return self.tokens_per_chunk / self.tokens_per_s


@dataclass
class MockCounters:
    requests: int = 0
    streams: int = 0
    errors: int = 0
    in_flight: int = 0
    last_headers: dict[str, str] | None = None
    last_body: Any = None


class FaultPlan:
    """What this one request will suffer, drawn once from the knobs."""

    __slots__ = ("status", "hang", "ttft_ms")

    def __init__(self, knobs: Knobs, rng: random.Random) -> None:
        self.hang = knobs.hang
        slow = knobs.slow_share > 0 and rng.random() < knobs.slow_share
        self.ttft_ms = knobs.slow_ttft_ms if slow else knobs.ttft_ms
        if knobs.status is not None:
            self.status: int | None = knobs.status
        elif knobs.error_rate > 0 and rng.random() < knobs.error_rate:
            self.status = knobs.error_status
        else:
            self.status = None


async def sleep_ms(ms: float) -> None:
    if ms > 0:
        await asyncio.sleep(ms / 1000.0)


FILLER = (
    "Switchyard routes each request to the model and provider that fit it best and streams the answer "
    "back as it arrives while keeping live statistics for every provider it has called so far today"
).split()


def answer_words(model: str, prompt_text: str, chunks: int) -> list[str]:
    """A deterministic answer split into `chunks` pieces; the first piece names the model."""
    head = f"[{model}]"
    echo = prompt_text.strip().split()[:3]
    words = [head, *(f"re:{w}" for w in echo)]
    i = 0
    while len(words) < max(chunks, 1):
        words.append(FILLER[i % len(FILLER)])
        i += 1
    if len(words) > chunks >= 1:
        words = words[: chunks - 1] + [" ".join(words[chunks - 1 :])]
    return [w if k == 0 else " " + w for k, w in enumerate(words)]


def estimate_tokens(text: str) -> int:
    return max(1, len(text) // 4)


def sample_arguments(schema: Any) -> dict[str, Any]:
    """Tool-call arguments that validate against the tool's JSON schema (an object, as tools take)."""
    value = instance_for(schema if isinstance(schema, dict) and schema else {"type": "object"})
    return value if isinstance(value, dict) else {}


def json_answer(schema: Any | None, answer: str) -> str:
    """Structured output: a JSON text valid against `schema`, or a JSON object when there is none."""
    value = {"answer": answer} if schema is None else instance_for(schema)
    return orjson.dumps(value).decode()


def split_text(text: str, parts: int) -> list[str]:
    """Split a string into `parts` non-empty pieces (fewer if it is shorter)."""
    parts = max(1, min(parts, len(text)))
    size = -(-len(text) // parts)
    return [text[i : i + size] for i in range(0, len(text), size)]
