"""An answer's accounting: the catalogue model name, usage (estimated when the upstream sent none) and cost."""

from __future__ import annotations

from typing import Any

import orjson

from proxy.catalog import Route


def estimate_usage(body: dict[str, Any], completion_chars: int) -> dict[str, Any]:
    """Rough usage (4 characters a token) for when an upstream reports none; marked as estimated."""
    prompt_chars = len(orjson.dumps(body.get("messages") or []))
    prompt, completion = max(1, prompt_chars // 4), max(0, completion_chars // 4)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion, "estimated": True}


def cached_tokens(usage: dict[str, Any]) -> tuple[int, int]:
    """(cache reads, cache writes) inside an OpenAI-shaped usage's prompt_tokens."""
    details = usage.get("prompt_tokens_details") or {}
    read = int(details.get("cached_tokens") or usage.get("cache_read_input_tokens") or 0)
    return read, int(usage.get("cache_creation_input_tokens") or 0)


def with_cost(usage: dict[str, Any], route: Route) -> dict[str, Any]:
    read, written = cached_tokens(usage)
    usage["cost_usd"] = route.cost_usd(
        int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0), read, written)
    return usage


def answer_text(choices: list[dict[str, Any]], part: str = "message") -> str:
    """The content of a completion's choices ("message") or of a stream chunk's ("delta")."""
    return "".join((c.get(part) or {}).get("content") or "" for c in choices)


def content_chars(chunk: dict[str, Any]) -> int:
    n = 0
    for choice in chunk.get("choices") or ():
        delta = choice.get("delta") or {}
        content = delta.get("content")
        if content:
            n += len(content)
        for call in delta.get("tool_calls") or ():
            n += len((call.get("function") or {}).get("arguments") or "")
    return n


def shape_completion(data: dict[str, Any], route: Route, body: dict[str, Any]) -> dict[str, Any]:
    """A whole answer with the catalogue's model name and usage with cost."""
    data["model"] = route.model
    usage = data.get("usage")
    if not usage:
        text = sum(len((c.get("message") or {}).get("content") or "") for c in data.get("choices") or ())
        usage = estimate_usage(body, text)
    data["usage"] = with_cost(usage, route)
    return data


def finish_reason_of(data: dict[str, Any]) -> str | None:
    for choice in data.get("choices") or ():
        reason = choice.get("finish_reason")
        if reason:
            return str(reason)
    return None


class StreamTally:
    """What a stream said so far, read from each chunk before the front end frames it: the model name
    set to the catalogue's, usage with cost, characters of content, the finish reason, the first chunk."""

    __slots__ = ("route", "body", "usage", "completion_chars", "finish_reason", "first", "text")

    def __init__(self, route: Route, body: dict[str, Any], keep_text: bool = False) -> None:
        self.route = route
        self.body = body
        self.text: list[str] | None = [] if keep_text else None  # the answer's text, for log.bodies only
        self.usage: dict[str, Any] | None = None
        self.completion_chars = 0
        self.finish_reason: str | None = None
        self.first: dict[str, Any] | None = None  # the first chunk: its id and created time frame a closing chunk

    def feed(self, chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
        model = self.route.model
        for chunk in chunks:
            if self.first is None:
                self.first = chunk
            chunk["model"] = model
            usage = chunk.get("usage")
            if usage:
                self.usage = with_cost(usage, self.route)
            choices = chunk.get("choices")
            if choices:
                self.completion_chars += content_chars(chunk)
                if self.text is not None:
                    self.text.append(answer_text(choices, "delta"))
                reason = choices[0].get("finish_reason")
                if reason:
                    self.finish_reason = reason
        return chunks

    def final_usage(self) -> dict[str, Any]:
        """The stream's usage with cost; estimated when the upstream reported none."""
        if self.usage is None:
            self.usage = with_cost(estimate_usage(self.body, self.completion_chars), self.route)
        return self.usage
