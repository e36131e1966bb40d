"""Checks of an Anthropic `/v1/messages` body, in Anthropic's own terms, before it is translated:
a wrong field is a 400 whose message starts with the field's path (`tools[0].input_schema: ...`),
so the client reads its own names, not the internal request's.
"""

from __future__ import annotations

from typing import Any

from proxy.call_checks import (
    MAX_MESSAGES,
    check_bool,
    check_object,
    check_string,
    check_tool_list,
    check_tool_name,
    check_tool_schema,
    int_between,
    invalid,
    number_between,
    type_name,
)

# Tool names: Anthropic allows up to 128 characters; the shared check takes the 64 every wire format
# behind the gateway accepts.
TOOL_CHOICES = ("auto", "any", "tool", "none")
THINKING_TYPES = ("enabled", "disabled")
MIN_THINKING_BUDGET = 1024
USER_BLOCKS = ("text", "image", "document", "tool_result")
ASSISTANT_BLOCKS = ("text", "tool_use", "thinking", "redacted_thinking")


def check_stop_sequences(value: Any, param: str) -> None:
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        raise invalid(param, f"expected an array of strings, got {type_name(value)}.")


def check_system(value: Any, param: str) -> None:
    if isinstance(value, str):
        return
    if not isinstance(value, list):
        raise invalid(param, f"expected a string or an array of text blocks, got {type_name(value)}.")
    for i, block in enumerate(value):
        check_block(block, f"{param}[{i}]", ("text",))


def check_tool(tool: Any, param: str) -> str:
    """An Anthropic client tool; its name."""
    check_object(tool, param)
    if tool.get("type") not in (None, "custom"):
        raise invalid(f"{param}.type", f"server tools ({tool.get('type')!r}) are not supported through the gateway.")
    name = check_tool_name(tool.get("name"), f"{param}.name")
    check_tool_schema(tool.get("input_schema"), f"{param}.input_schema", object_type=True)
    if tool.get("description") is not None:
        check_string(tool["description"], f"{param}.description")
    return name


def check_tools(value: Any, param: str) -> None:
    check_tool_list(value, param, check_tool, ".name")


def check_tool_choice(value: Any, param: str, body: dict[str, Any]) -> None:
    check_object(value, param)
    kind = value.get("type")
    if kind not in TOOL_CHOICES:
        raise invalid(f"{param}.type", f"expected one of {', '.join(TOOL_CHOICES)}, got {kind!r}.")
    if kind == "tool":
        names = {t.get("name") for t in body.get("tools") or []}
        if value.get("name") not in names:
            raise invalid(f"{param}.name", f"{value.get('name')!r} is not one of the request's tools.")
    if value.get("disable_parallel_tool_use") is not None:
        check_bool(value["disable_parallel_tool_use"], f"{param}.disable_parallel_tool_use")


def check_thinking(value: Any, param: str) -> None:
    """(A budget over max_tokens is let through: the gateway raises max_tokens above it upstream.)"""
    check_object(value, param)
    if value.get("type") not in THINKING_TYPES:
        raise invalid(f"{param}.type", f"expected 'enabled' or 'disabled', got {value.get('type')!r}.")
    if value["type"] == "enabled":
        int_between(MIN_THINKING_BUDGET)(value.get("budget_tokens"), f"{param}.budget_tokens")


def check_metadata(value: Any, param: str) -> None:
    check_object(value, param)
    if value.get("user_id") is not None:
        check_string(value["user_id"], f"{param}.user_id")


def check_source(source: Any, param: str) -> None:
    check_object(source, param)
    kind = source.get("type")
    if kind == "base64":
        check_string(source.get("data"), f"{param}.data")
        check_string(source.get("media_type"), f"{param}.media_type")
    elif kind == "url":
        check_string(source.get("url"), f"{param}.url")
    else:
        raise invalid(f"{param}.type", f"expected 'base64' or 'url', got {kind!r}.")


def check_block(block: Any, param: str, allowed: tuple[str, ...]) -> None:
    check_object(block, param)
    kind = block.get("type")
    if kind not in allowed:
        raise invalid(f"{param}.type", f"expected one of {', '.join(allowed)}, got {kind!r}.")
    if kind == "text":
        check_string(block.get("text"), f"{param}.text")
    elif kind in ("image", "document"):
        check_source(block.get("source"), f"{param}.source")
    elif kind == "tool_use":
        check_string(block.get("id"), f"{param}.id")
        check_string(block.get("name"), f"{param}.name")
        check_object(block.get("input"), f"{param}.input")
    elif kind == "tool_result":
        check_string(block.get("tool_use_id"), f"{param}.tool_use_id")
        content = block.get("content")
        if content is not None and not isinstance(content, str):
            if not isinstance(content, list):
                raise invalid(f"{param}.content", f"expected a string or an array of blocks, got {type_name(content)}.")
            for k, inner in enumerate(content):
                check_block(inner, f"{param}.content[{k}]", ("text", "image", "document"))
    elif kind == "thinking":
        check_string(block.get("thinking"), f"{param}.thinking")
        check_string(block.get("signature"), f"{param}.signature")


def check_message(msg: Any, param: str) -> None:
    check_object(msg, param)
    role = msg.get("role")
    if role not in ("user", "assistant"):
        raise invalid(f"{param}.role", f"expected 'user' or 'assistant', got {role!r}.")
    content = msg.get("content")
    if isinstance(content, str):
        return
    if not isinstance(content, list):
        raise invalid(f"{param}.content", f"expected a string or an array of content blocks, got {type_name(content)}.")
    allowed = USER_BLOCKS if role == "user" else ASSISTANT_BLOCKS
    for j, block in enumerate(content):
        check_block(block, f"{param}.content[{j}]", allowed)


def check_messages(value: Any, param: str) -> None:
    if not isinstance(value, list) or not value:
        raise invalid(param, "at least one message is required.", code="missing_required_parameter")
    if len(value) > MAX_MESSAGES:
        raise invalid(param, f"at most {MAX_MESSAGES} messages, got {len(value)}.")
    for i, msg in enumerate(value):
        check_message(msg, f"{param}[{i}]")


FIELD_CHECKS = {
    "messages": check_messages,
    "system": check_system,
    "stop_sequences": check_stop_sequences,
    "temperature": number_between(0, 1),
    "top_p": number_between(0, 1),
    "top_k": int_between(0),
    "tools": check_tools,
    "metadata": check_metadata,
    "stream": check_bool,
}


def check_messages_request(body: dict[str, Any]) -> None:
    """Every field of a Messages request that is set; the first problem is a 400 naming it."""
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise invalid("model", "a model name is required.", code="missing_required_parameter")
    max_tokens = body.get("max_tokens")
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
        raise invalid("max_tokens", "a positive integer is required.", code="missing_required_parameter")
    if "messages" not in body:
        raise invalid("messages", "at least one message is required.", code="missing_required_parameter")
    for name, check in FIELD_CHECKS.items():
        value = body.get(name)
        if value is not None:
            check(value, name)
    if body.get("tool_choice") is not None:
        check_tool_choice(body["tool_choice"], "tool_choice", body)
    if body.get("thinking") is not None:
        check_thinking(body["thinking"], "thinking")
