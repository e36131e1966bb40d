"""Whether a request fits the model it named: output limit, vision, tools, context window.

`auto` routing filters models on the same facts; a named model instead gets a 400 that says which
limit the request broke, rather than an upstream error (or a provider's circuit counting it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from proxy.catalog import Route
from proxy.config import ModelConfig
from proxy.errors import GatewayError

IMAGE_PARTS = ("image_url", "input_image", "image")
# Wire formats that return what OpenAI's `logprobs` and `n` ask for; others fan `n` out (not streams).
LOGPROBS_WIRES = frozenset({"openai"})
N_WIRES = frozenset({"openai"})
TokenCounter = Callable[[str], int]


def rough_tokens(text: str) -> int:
    return max(1, len(text) // 4) if text else 0


def token_counter(router: Any) -> TokenCounter:
    """The gateway's token estimate: the auto router's o200k count when it is loaded, else four
    characters a token. (`router`: a proxy.routing.model_routing.ModelRouter, or None.)"""
    if router is None:
        return rough_tokens
    features = router.router.features
    return lambda text: int(features(text)["est_tokens"]) if text else 0


def too_much(param: str, message: str, code: str = "invalid_value") -> GatewayError:
    return GatewayError(400, f"{param}: {message}", param=param, code=code)


def first_image(messages: list[Any]) -> str | None:
    """The path of the first image part (`messages[2].content[1]`), if any."""
    for i, msg in enumerate(messages):
        content = msg.get("content") if isinstance(msg, dict) else None
        if isinstance(content, list):
            for j, part in enumerate(content):
                if isinstance(part, dict) and part.get("type") in IMAGE_PARTS:
                    return f"messages[{i}].content[{j}]"
    return None


def prompt_chars(body: dict[str, Any]) -> int:
    """Characters of text in the prompt: messages (strings and text parts) and tool definitions."""
    total = 0
    for msg in body.get("messages") or ():
        content = msg.get("content") if isinstance(msg, dict) else None
        if isinstance(content, str):
            total += len(content)
        elif isinstance(content, list):
            total += sum(len(p.get("text") or "") for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    return total


def prompt_text(body: dict[str, Any]) -> str:
    parts: list[str] = []
    for msg in body.get("messages") or ():
        content = msg.get("content") if isinstance(msg, dict) else None
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts += [p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)]
    return "\n".join(parts)


def check_fits_model(slug: str, config: ModelConfig, body: dict[str, Any], count_tokens: TokenCounter) -> None:
    """A 400 naming the field when the request cannot fit `slug` on any of its providers."""
    for name in ("max_completion_tokens", "max_tokens"):
        value = body.get(name)
        if isinstance(value, int) and value > config.max_output:
            raise too_much(name, f"{value} is more than {slug} can write ({config.max_output} tokens); lower it or omit it.")
    if not config.capabilities.vision:
        image = first_image(body.get("messages") or [])
        if image is not None:
            raise too_much(image, f"{slug} does not read images; send text only, or pick a model with vision "
                                  "(GET /v1/models shows capabilities).", code="model_not_capable")
    if body.get("tools") and not config.capabilities.tools:
        raise too_much("tools", f"{slug} does not call tools; leave `tools` out or pick a model that does.", code="model_not_capable")
    # A token holds at least one byte and a character at most four, so a prompt under a quarter of the
    # window in characters fits without counting: the common case costs one pass over message lengths.
    if prompt_chars(body) * 4 > config.context_window:
        tokens = count_tokens(prompt_text(body))
        if tokens > config.context_window:
            raise too_much("messages", f"the prompt is about {tokens} tokens, over {slug}'s context window of "
                                       f"{config.context_window}; shorten it or pick a model with a larger window.",
                           code="context_length_exceeded")


def choice_count(body: dict[str, Any]) -> int:
    n = body.get("n")
    return n if isinstance(n, int) and not isinstance(n, bool) and n > 1 else 1


def wire_needs(body: dict[str, Any], stream: bool) -> tuple[str, frozenset[str]] | None:
    """(field, wire formats that can answer it) when the request asks for what only some wire formats
    give: logprobs, or several choices streamed (a non-streaming `n` is fanned out elsewhere)."""
    if body.get("logprobs") is True or body.get("top_logprobs"):
        return "logprobs", LOGPROBS_WIRES
    if stream and choice_count(body) > 1:
        return "n", N_WIRES
    return None


def able_routes(routes: list[Route], body: dict[str, Any], stream: bool) -> list[Route]:
    """The routes whose wire format can answer the request, in order; a 400 naming the field when
    none can (rather than an answer that silently lacks what was asked for)."""
    need = wire_needs(body, stream)
    if need is None:
        return routes
    field, wires = need
    able = [r for r in routes if r.wire in wires]
    if not able:
        models = sorted({r.model for r in routes})
        what = "log probabilities" if field == "logprobs" else "several choices in one stream"
        raise too_much(field, f"{', '.join(models)} cannot return {what} through any of its providers' APIs "
                              f"({', '.join(sorted({r.wire for r in routes}))}); only OpenAI-format providers do.",
                       code="unsupported_parameter")
    return able
