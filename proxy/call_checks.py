"""Checks of an OpenAI-shaped chat request's fields, to the depth OpenAI's API defines them.

Each check takes the field's value and its path and raises a 400 that names the path
(`tools[0].function.name`); a request sets few fields, and a check runs only for a field that is
set, so the common request pays a dict test per field. Values every wire format can take pass;
what an upstream would refuse (or an adapter could not translate) stops here, before any attempt,
so a client's bad input never reaches, nor counts against, a provider.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from proxy.errors import GatewayError

MAX_STOP = 4  # OpenAI's limit; Anthropic has none, Gemini's is 5
MAX_N = 128
MAX_TOOLS = 128
MAX_TOP_LOGPROBS = 20
# The message count past which a request is refused: far above any real conversation (and above
# what any upstream's context window holds), so a 200k-message body costs one list length test.
MAX_MESSAGES = 10_000
TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
ROLES = ("system", "developer", "user", "assistant", "tool", "function")
RESPONSE_FORMATS = ("text", "json_object", "json_schema")
TOOL_CHOICE_WORDS = ("none", "auto", "required")
REASONING_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh")
USER_PARTS = ("text", "image_url", "input_audio", "file")
ASSISTANT_PARTS = ("text", "refusal")
PLAIN_ROLES = ("user", "system", "developer")


def invalid(param: str, message: str, code: str = "invalid_value") -> GatewayError:
    """A 400 that names the field: `param: message`."""
    return GatewayError(400, f"{param}: {message}", param=param, code=code)


def type_name(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean", int: "an integer",
            float: "a number", type(None): "null"}.get(type(value), type(value).__name__)


NUMBER_CLASSES = (int, float)


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def number_between(low: float, high: float) -> Callable[[Any, str], None]:
    def check(value: Any, param: str) -> None:
        if value.__class__ not in NUMBER_CLASSES or not low <= value <= high:  # a bool's class is bool: refused
            shown = value if is_number(value) else type_name(value)
            raise invalid(param, f"expected a number from {low:g} to {high:g}, got {shown}.")

    return check


def int_between(low: int, high: int | None = None) -> Callable[[Any, str], None]:
    def check(value: Any, param: str) -> None:
        if value.__class__ is not int or value < low or (high is not None and value > high):
            span = f"from {low} to {high}" if high is not None else f"of at least {low}"
            raise invalid(param, f"expected an integer {span}, got {value if is_int(value) else type_name(value)}.")

    return check


def check_bool(value: Any, param: str) -> None:
    if not isinstance(value, bool):
        raise invalid(param, f"expected true or false, got {type_name(value)}.")


def check_string(value: Any, param: str) -> None:
    if not isinstance(value, str):
        raise invalid(param, f"expected a string, got {type_name(value)}.")


def check_object(value: Any, param: str) -> None:
    if not isinstance(value, dict):
        raise invalid(param, f"expected an object, got {type_name(value)}.")


def check_stop(value: Any, param: str) -> None:
    if isinstance(value, str):
        return
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        raise invalid(param, f"expected a string or an array of up to {MAX_STOP} strings, got {type_name(value)}.")
    if len(value) > MAX_STOP:
        raise invalid(param, f"at most {MAX_STOP} stop sequences, got {len(value)}.")


def check_logit_bias(value: Any, param: str) -> None:
    check_object(value, param)
    for token, bias in value.items():
        if not token.isdigit():
            raise invalid(f"{param}.{token}", "keys are token ids (integers as strings).")
        number_between(-100, 100)(bias, f"{param}.{token}")


def check_response_format(value: Any, param: str) -> None:
    check_object(value, param)
    kind = value.get("type")
    if kind not in RESPONSE_FORMATS:
        raise invalid(f"{param}.type", f"expected one of {', '.join(RESPONSE_FORMATS)}, got {kind!r}.")
    if kind != "json_schema":
        return
    spec = value.get("json_schema")
    check_object(spec, f"{param}.json_schema")
    if not isinstance(spec.get("name"), str) or not TOOL_NAME.match(spec["name"]):
        raise invalid(f"{param}.json_schema.name", "expected a name of 1-64 letters, digits, '_' or '-'.")
    if not isinstance(spec.get("schema"), dict):
        raise invalid(f"{param}.json_schema.schema", f"expected a JSON Schema object, got {type_name(spec.get('schema'))}.")
    if "strict" in spec and spec["strict"] is not None:
        check_bool(spec["strict"], f"{param}.json_schema.strict")


# -- tools: the parts every inbound API's tools share (each API checks its own shape around them) ----


def check_tool_name(name: Any, param: str) -> str:
    """A tool's name as every wire format behind the gateway takes it."""
    if not isinstance(name, str) or not TOOL_NAME.match(name):
        shown = repr(name) if isinstance(name, str) else type_name(name)
        raise invalid(param, f"expected 1-64 letters, digits, '_' or '-', got {shown}.")
    return name


def check_tool_schema(schema: Any, param: str, *, object_type: bool = False) -> None:
    """A tool's input schema: a JSON Schema object (of `"type": "object"` where the API requires it)."""
    if object_type and not (isinstance(schema, dict) and schema.get("type") == "object"):
        raise invalid(param, 'expected a JSON Schema object with "type": "object".')
    if not isinstance(schema, dict):
        raise invalid(param, f"expected a JSON Schema object, got {type_name(schema)}.")


def check_tool_list(value: Any, param: str, check_one: Callable[[Any, str], str], name_at: str) -> None:
    """An array of at most MAX_TOOLS tools, each checked by `check_one` (which returns its name), no name
    used twice; `name_at` is where a tool keeps its name (`.function.name`, `.name`)."""
    if not isinstance(value, list):
        raise invalid(param, f"expected an array of tools, got {type_name(value)}.")
    if len(value) > MAX_TOOLS:
        raise invalid(param, f"at most {MAX_TOOLS} tools, got {len(value)}.")
    names: set[str] = set()
    for i, tool in enumerate(value):
        name = check_one(tool, f"{param}[{i}]")
        if name in names:
            raise invalid(f"{param}[{i}]{name_at}", f"the name {name!r} is used by an earlier tool; tool names are unique.")
        names.add(name)


def check_tool(tool: Any, param: str) -> str:
    """An OpenAI function tool; its name."""
    check_object(tool, param)
    if tool.get("type", "function") != "function":
        raise invalid(f"{param}.type", f"only 'function' tools can be sent through the gateway, got {tool.get('type')!r}.")
    fn = tool.get("function")
    if fn is None:
        raise invalid(f"{param}.function", "missing: a function tool needs {\"name\": ..., \"parameters\": {...}}.",
                      code="missing_required_parameter")
    check_object(fn, f"{param}.function")
    name = check_tool_name(fn.get("name"), f"{param}.function.name")
    if fn.get("parameters") is not None:
        check_tool_schema(fn["parameters"], f"{param}.function.parameters")
    if fn.get("description") is not None:
        check_string(fn["description"], f"{param}.function.description")
    if fn.get("strict") is not None:
        check_bool(fn["strict"], f"{param}.function.strict")
    return name


def check_tools(value: Any, param: str) -> None:
    check_tool_list(value, param, check_tool, ".function.name")


def tool_names(body: dict[str, Any]) -> set[str]:
    tools = body.get("tools")
    return {t["function"]["name"] for t in tools} if isinstance(tools, list) else set()


def check_tool_choice(value: Any, param: str, body: dict[str, Any]) -> None:
    if isinstance(value, str):
        if value not in TOOL_CHOICE_WORDS:
            raise invalid(param, f"expected one of {', '.join(TOOL_CHOICE_WORDS)} or a function choice, got {value!r}.")
        if value == "required" and not body.get("tools"):
            raise invalid(param, "'required' needs `tools`.")
        return
    check_object(value, param)
    if value.get("type") != "function":
        raise invalid(f"{param}.type", f"expected 'function', got {value.get('type')!r}.")
    fn = value.get("function")
    check_object(fn, f"{param}.function")
    name = fn.get("name")
    if not isinstance(name, str) or name not in tool_names(body):
        raise invalid(f"{param}.function.name", f"{name!r} is not one of the request's tools.")


def check_logprobs(body: dict[str, Any]) -> None:
    if "logprobs" in body and body["logprobs"] is not None:
        check_bool(body["logprobs"], "logprobs")
    top = body.get("top_logprobs")
    if top is not None:
        int_between(0, MAX_TOP_LOGPROBS)(top, "top_logprobs")
        if body.get("logprobs") is not True:
            raise invalid("top_logprobs", "needs `logprobs: true`.")


# -- messages -------------------------------------------------------------------------------------


def check_part(part: Any, param: str, allowed: tuple[str, ...]) -> None:
    check_object(part, param)
    kind = part.get("type")
    if kind not in allowed:
        raise invalid(f"{param}.type", f"expected one of {', '.join(allowed)}, got {kind!r}.")
    if kind in ("text", "refusal"):
        check_string(part.get(kind), f"{param}.{kind}")
    elif kind == "image_url":
        image = part.get("image_url")
        check_object(image, f"{param}.image_url")
        check_string(image.get("url"), f"{param}.image_url.url")
    elif kind == "input_audio":
        check_object(part.get("input_audio"), f"{param}.input_audio")
    elif kind == "file":
        check_object(part.get("file"), f"{param}.file")


def check_content(content: Any, param: str, allowed: tuple[str, ...], nullable: bool = False) -> None:
    if isinstance(content, str) or (content is None and nullable):
        return
    if not isinstance(content, list):
        raise invalid(param, f"expected a string or an array of content parts, got {type_name(content)}.")
    for j, part in enumerate(content):
        check_part(part, f"{param}[{j}]", allowed)


def check_tool_call(call: Any, param: str) -> None:
    check_object(call, param)
    check_string(call.get("id"), f"{param}.id")
    fn = call.get("function")
    check_object(fn, f"{param}.function")
    check_string(fn.get("name"), f"{param}.function.name")
    check_string(fn.get("arguments"), f"{param}.function.arguments")


def check_message(msg: Any, param: str) -> None:
    check_object(msg, param)
    role = msg.get("role")
    if role == "user":
        check_content(msg.get("content"), f"{param}.content", USER_PARTS)
    elif role == "assistant":
        check_content(msg.get("content"), f"{param}.content", ASSISTANT_PARTS, nullable=True)
        calls = msg.get("tool_calls")
        if calls is not None:
            if not isinstance(calls, list):
                raise invalid(f"{param}.tool_calls", f"expected an array, got {type_name(calls)}.")
            for k, call in enumerate(calls):
                check_tool_call(call, f"{param}.tool_calls[{k}]")
    elif role in ("system", "developer"):
        check_content(msg.get("content"), f"{param}.content", ("text",))
    elif role == "tool":
        if not isinstance(msg.get("tool_call_id"), str) or not msg["tool_call_id"]:
            raise invalid(f"{param}.tool_call_id", "a tool message needs the id of the tool call it answers.",
                          code="missing_required_parameter")
        check_content(msg.get("content"), f"{param}.content", ("text",))
    elif role == "function":
        check_string(msg.get("name"), f"{param}.name")
    else:
        raise invalid(f"{param}.role", f"expected one of {', '.join(ROLES)}, got {role!r}.")


def check_message_count(body: dict[str, Any]) -> None:
    """First of all, before anything walks the messages: a list past the bound costs one length test."""
    messages = body.get("messages")
    if isinstance(messages, list) and len(messages) > MAX_MESSAGES:
        raise invalid("messages", f"at most {MAX_MESSAGES} messages, got {len(messages)}.")


def check_messages(value: Any, param: str) -> None:
    if not isinstance(value, list) or not value:
        raise invalid(param, "expected a non-empty array of messages.")
    if len(value) > MAX_MESSAGES:
        raise invalid(param, f"at most {MAX_MESSAGES} messages, got {len(value)}.")
    for i, msg in enumerate(value):
        # the common message, plain text from the user or the system, in three tests (a tuple, not a
        # set: a role may be any JSON value, a list included)
        if msg.__class__ is dict and msg.get("role") in PLAIN_ROLES and msg.get("content").__class__ is str:
            continue
        check_message(msg, f"{param}[{i}]")


FieldCheck = Callable[[Any, str], None]

# Top-level field -> its check; run only when the request sets the field (and to a non-null value).
FIELD_CHECKS: dict[str, FieldCheck] = {
    "messages": check_messages,
    "temperature": number_between(0, 2),
    "top_p": number_between(0, 1),
    "n": int_between(1, MAX_N),
    "stop": check_stop,
    "presence_penalty": number_between(-2, 2),
    "frequency_penalty": number_between(-2, 2),
    "seed": int_between(-(2**63)),
    "logit_bias": check_logit_bias,
    "response_format": check_response_format,
    "tools": check_tools,
    "parallel_tool_calls": check_bool,
    "user": check_string,
    "stream_options": check_object,
}


def check_reasoning_effort(body: dict[str, Any]) -> None:
    effort = body["reasoning_effort"]
    if effort not in REASONING_EFFORTS:
        raise invalid("reasoning_effort", f"expected one of {', '.join(REASONING_EFFORTS)}, got {effort!r}.")


# Fields whose check reads others too: field -> check(body)
BODY_CHECKS: dict[str, Callable[[dict[str, Any]], None]] = {
    "tool_choice": lambda body: check_tool_choice(body["tool_choice"], "tool_choice", body),
    "logprobs": check_logprobs,
    "top_logprobs": check_logprobs,
    "reasoning_effort": check_reasoning_effort,
}


def check_fields(body: dict[str, Any]) -> None:
    """Every field the body sets (one look-up per field it has, not per field there is)."""
    for name, value in body.items():
        if value is None:
            continue
        check = FIELD_CHECKS.get(name)
        if check is not None:
            check(value, name)
            continue
        body_check = BODY_CHECKS.get(name)
        if body_check is not None:
            body_check(body)
