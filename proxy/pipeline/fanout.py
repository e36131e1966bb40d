"""`n > 1` for providers whose API has no `n` (Anthropic, Gemini): n single-choice attempts run in
parallel against the same route and merge into one answer, its choices indexed 0..n-1 and its usage
(and so its cost) the sum of theirs. If one fails, the others are cancelled and the route counts as
failed once, so the fallback loop moves on as it would for a single attempt.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from proxy.upstream.attempt import JsonAttempt

USAGE_COUNTS = ("prompt_tokens", "completion_tokens", "total_tokens")


def single_choice(body: dict[str, Any]) -> dict[str, Any]:
    """The body each of the parallel attempts sends: the same request, one choice."""
    return {k: v for k, v in body.items() if k != "n"}


def summed_usage(usages: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {key: sum(int(u.get(key) or 0) for u in usages) for key in USAGE_COUNTS}
    cached = sum(int((u.get("prompt_tokens_details") or {}).get("cached_tokens") or 0) for u in usages)
    out["prompt_tokens_details"] = {"cached_tokens": cached}
    return out


def merge_answers(attempts: list[JsonAttempt]) -> JsonAttempt:
    """One completion whose choices are each attempt's first choice, in order."""
    first = attempts[0]
    choices = []
    for index, attempt in enumerate(attempts):
        choice = dict((attempt.response.get("choices") or [{}])[0])
        choice["index"] = index
        choices.append(choice)
    response = {**first.response, "choices": choices,
                "usage": summed_usage([a.response.get("usage") or {} for a in attempts])}
    return JsonAttempt(first.route, response, max(a.elapsed_ms for a in attempts))


async def fan_out(n: int, attempt: Callable[[], Awaitable[JsonAttempt]]) -> JsonAttempt:
    """`attempt` n times at once; the first failure cancels the rest and is raised."""
    tasks = [asyncio.ensure_future(attempt()) for _ in range(n)]
    try:
        results = await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    return merge_answers(list(results))
