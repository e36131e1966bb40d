"""Request validation for the OpenAI-shaped API.

The models check what the gateway relies on and let every other field through untouched (the raw
dict is what gets forwarded), so new OpenAI parameters keep working without a release.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from proxy.errors import GatewayError

Role = Literal["system", "developer", "user", "assistant", "tool", "function"]


class Loose(BaseModel):
    model_config = ConfigDict(extra="allow")


class ChatMessage(Loose):
    role: Role
    content: str | list[dict[str, Any]] | None = None


class StreamOptions(Loose):
    include_usage: bool = Field(False, strict=True)


class RoutingOrder(Loose):
    type: Literal["priority", "order"]
    primary_factor: Literal["latency", "price", "throughput"] | None = None
    providers: list[Annotated[str, Field(min_length=1)]] | None = None


class ProviderPreferences(Loose):
    routing: RoutingOrder | None = None


class ChatRequest(Loose):
    model: str = Field(min_length=1)
    messages: list[ChatMessage] = Field(min_length=1)
    # strict: "yes" or "5" are mistakes to report, not values to guess at
    stream: bool = Field(False, strict=True)
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(None, ge=1, strict=True)
    max_completion_tokens: int | None = Field(None, ge=1, strict=True)
    n: int | None = Field(None, ge=1, le=1, strict=True)
    tools: list[dict[str, Any]] | None = None
    provider: ProviderPreferences | None = None
    model_routing_config: dict[str, Any] | None = None


def describe_location(loc: tuple[int | str, ...]) -> str:
    """('messages', 0, 'role') -> 'messages[0].role'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out


def validation_to_gateway_error(exc: ValidationError) -> GatewayError:
    err = exc.errors()[0]
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith(("function-", "literal["))))
    # pydantic lists each union branch; drop the branch tags so the path stays the user's path
    loc = tuple(p for p in loc if p not in ("str", "list[dict[str,any]]", "list[dict[str, any]]"))
    param = describe_location(loc)
    message = f"{param}: {err['msg']}" if param else err["msg"]
    if err["type"] == "missing":
        message = f"Missing required parameter: '{param}'."
    more = exc.error_count() - 1
    if more:
        message += f" (and {more} more problem{'s' if more > 1 else ''})"
    return GatewayError(400, message, param=param or None, code="invalid_value" if err["type"] != "missing" else "missing_required_parameter")


def parse_json_body(raw: bytes) -> dict[str, Any]:
    if not raw:
        raise GatewayError(400, "The request body is empty; expected a JSON object.", code="invalid_json")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise GatewayError(400, f"The request body is not valid JSON: {exc}", code="invalid_json") from None
    if not isinstance(body, dict):
        raise GatewayError(400, f"The request body must be a JSON object, got {type(body).__name__}.", code="invalid_json")
    return body


def validate_chat_request(body: dict[str, Any]) -> ChatRequest:
    try:
        return ChatRequest.model_validate(body)
    except ValidationError as exc:
        raise validation_to_gateway_error(exc) from None
