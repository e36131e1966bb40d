"""A cached answer: a whole completion or a stream's chunks in their original batches (one batch per
upstream read, so a replay keeps the chunking), with usage. Either form can be served as the other."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import orjson

# Only these answers are complete and final; "length" is truncated, "tool_calls" waits on the client.
CACHEABLE_FINISH = frozenset({"stop"})


@dataclass(slots=True)
class CachedAnswer:
    model: str
    provider: str
    usage: dict[str, Any]  # with cost_usd as first paid
    finish_reason: str | None
    completion: dict[str, Any] | None = None  # OpenAI chat.completion (a non-streamed answer)
    batches: list[list[dict[str, Any]]] | None = None  # OpenAI chunks (a streamed answer)

    def to_bytes(self) -> bytes:
        return orjson.dumps(asdict(self))

    @classmethod
    def from_bytes(cls, raw: bytes) -> CachedAnswer:
        return cls(**orjson.loads(raw))

    @property
    def cost_usd(self) -> float:
        return float(self.usage.get("cost_usd") or 0.0)

    def as_completion(self) -> dict[str, Any]:
        if self.completion is not None:
            return self.completion
        return completion_from_chunks([c for batch in self.batches or () for c in batch], self.usage)

    def as_batches(self) -> list[list[dict[str, Any]]]:
        if self.batches is not None:
            return self.batches
        return chunks_from_completion(self.completion or {})


def stream_answer_bytes(model: str, provider: str, usage: dict[str, Any], finish_reason: str | None,
                        batches: list[bytes]) -> bytes:
    """A streamed answer's stored form, from its batches as already serialised while they were relayed."""
    head = orjson.dumps({"model": model, "provider": provider, "usage": usage, "finish_reason": finish_reason,
                         "completion": None})
    return head[:-1] + b',"batches":[' + b",".join(batches) + b"]}"


def completion_from_chunks(chunks: list[dict[str, Any]], usage: dict[str, Any]) -> dict[str, Any]:
    """The chat.completion a stream adds up to: text, reasoning and refusal joined per choice."""
    first = chunks[0] if chunks else {}
    parts: dict[int, dict[str, Any]] = {}
    for chunk in chunks:
        for choice in chunk.get("choices") or ():
            slot = parts.setdefault(int(choice.get("index") or 0), {"content": [], "reasoning": [], "refusal": [],
                                                                    "finish_reason": None})
            delta = choice.get("delta") or {}
            for field, into in (("content", "content"), ("reasoning_content", "reasoning"), ("refusal", "refusal")):
                if delta.get(field):
                    slot[into].append(delta[field])
            if choice.get("finish_reason"):
                slot["finish_reason"] = choice["finish_reason"]
    choices = []
    for index in sorted(parts):
        slot = parts[index]
        message: dict[str, Any] = {"role": "assistant", "content": "".join(slot["content"]) or None,
                                   "refusal": "".join(slot["refusal"]) or None}
        if slot["reasoning"]:
            message["reasoning_content"] = "".join(slot["reasoning"])
        choices.append({"index": index, "message": message, "logprobs": None, "finish_reason": slot["finish_reason"]})
    out = {"id": first.get("id", "chatcmpl-cached"), "object": "chat.completion", "created": first.get("created", 0),
           "model": first.get("model"), "choices": choices, "usage": usage}
    if first.get("system_fingerprint"):
        out["system_fingerprint"] = first["system_fingerprint"]
    return out


def chunks_from_completion(data: dict[str, Any]) -> list[list[dict[str, Any]]]:
    """A completion as a stream: per choice one chunk with the whole message, then one with its finish
    reason. (Usage follows in the renderer's closing, as for any stream.)"""
    head = {"id": data.get("id", "chatcmpl-cached"), "object": "chat.completion.chunk",
            "created": data.get("created", 0), "model": data.get("model")}
    if data.get("system_fingerprint"):
        head["system_fingerprint"] = data["system_fingerprint"]
    content: list[dict[str, Any]] = []
    finish: list[dict[str, Any]] = []
    for choice in data.get("choices") or ():
        message = choice.get("message") or {}
        delta: dict[str, Any] = {"role": "assistant"}
        for field in ("reasoning_content", "content", "refusal"):
            if message.get(field):
                delta[field] = message[field]
        index = choice.get("index", 0)
        content.append({**head, "choices": [{"index": index, "delta": delta, "logprobs": None, "finish_reason": None}]})
        finish.append({**head, "choices": [{"index": index, "delta": {}, "logprobs": None,
                                            "finish_reason": choice.get("finish_reason")}]})
    return [content, finish]
