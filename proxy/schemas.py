"""Request validation for the OpenAI-shaped API.

The models check what the gateway relies on and let every other field through untouched (the raw
dict is what gets forwarded), so new OpenAI parameters keep working without a release.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, NamedTuple, get_args

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
    n: int | None = Field(None, ge=1, le=128, strict=True)
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


class ChatParams(NamedTuple):
    """What the pipeline reads from a validated request (the body itself is forwarded as it came)."""

    stream: bool
    include_usage: bool


ROLES: frozenset[str] = frozenset(get_args(Role))
_STRICT_INT = ("max_tokens", "max_completion_tokens")
_INT_LIMIT = 2**63  # larger ints go the model's way, which checks them as it always has


def quick_chat_params(body: dict[str, Any]) -> ChatParams | None:
    """ChatRequest's checks for the common request, in plain Python: the parameters when `body` is
    certainly valid, None when it is not or when this cannot tell (then the model decides, and words
    the error). Accepts only what the model accepts: tests/test_properties.py holds the two together."""
    model = body.get("model")
    if type(model) is not str or not model or not str_keys(body):
        return None
    messages = body.get("messages")
    if type(messages) is not list or not messages:
        return None
    for message in messages:
        if not plain_dict(message):
            return None
        role = message.get("role")
        if type(role) is not str or role not in ROLES:
            return None
        content = message.get("content")
        if content is not None and type(content) is not str:
            if type(content) is not list or not all(plain_dict(part) for part in content):
                return None
    stream = body.get("stream", False)
    if type(stream) is not bool:
        return None
    include_usage = False
    options = body.get("stream_options")
    if options is not None:
        if not plain_dict(options):
            return None
        include_usage = options.get("include_usage", False)
        if type(include_usage) is not bool:
            return None
    for name in _STRICT_INT:
        value = body.get(name)
        if value is not None and (type(value) is not int or not 1 <= value < _INT_LIMIT):
            return None
    n = body.get("n")
    if n is not None and (type(n) is not int or n != 1):
        return None
    tools = body.get("tools")
    if tools is not None and (type(tools) is not list or not all(plain_dict(tool) for tool in tools)):
        return None
    config = body.get("model_routing_config")
    if config is not None and not plain_dict(config):
        return None
    if body.get("provider") is not None:  # provider preferences: rarer, and the model's to check
        return None
    return ChatParams(stream, include_usage)


def plain_dict(value: Any) -> bool:
    """A dict whose keys are all strings (as the model requires of every object it reads)."""
    return type(value) is dict and str_keys(value)


def str_keys(value: dict[Any, Any]) -> bool:
    for key in value:
        if type(key) is not str:
            return False
    return True


def validate_chat_request(body: dict[str, Any]) -> ChatParams:
    """Check what the gateway relies on; a 400 in OpenAI's error shape, naming the field, if wrong."""
    quick = quick_chat_params(body)
    if quick is not None:
        return quick
    try:
        req = ChatRequest.model_validate(body)
    except ValidationError as exc:
        raise validation_to_gateway_error(exc) from None
    return ChatParams(req.stream, bool(req.stream_options and req.stream_options.include_usage))
