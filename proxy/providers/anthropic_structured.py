"""OpenAI's `response_format` on Anthropic's Messages API, which has no JSON mode on every model:
the schema becomes one tool that the model is made to call, and that call's input becomes the
answer's text (tools-as-schema, the translation Anthropic documents for JSON output).

A tool's input must be an object, so a schema whose root is not one is wrapped in `{"value": ...}`
under a second tool name, and unwrapped on the way back; the name alone says which, so the response
side needs no state from the request.
"""

from __future__ import annotations

from typing import Any

import orjson

OBJECT_TOOL = "structured_output"
WRAPPED_TOOL = "structured_output_value"
STRUCTURED_TOOLS = (OBJECT_TOOL, WRAPPED_TOOL)
ANY_OBJECT: dict[str, Any] = {"type": "object"}


def requested_schema(response_format: Any) -> dict[str, Any] | None:
    """The schema `response_format` asks for (any object for json_object); None for plain text."""
    if not isinstance(response_format, dict):
        return None
    kind = response_format.get("type")
    if kind == "json_object":
        return ANY_OBJECT
    if kind == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema")
        return schema if isinstance(schema, dict) and schema else ANY_OBJECT
    return None


def is_object_schema(schema: dict[str, Any]) -> bool:
    kind = schema.get("type")
    return kind == "object" or (kind is None and "properties" in schema and "$ref" not in schema)


def structured_tool(schema: dict[str, Any]) -> dict[str, Any]:
    """The tool whose input is the answer."""
    description = "Answer with this tool: its input is your whole reply, in the required JSON structure."
    if is_object_schema(schema):
        return {"name": OBJECT_TOOL, "description": description, "input_schema": schema}
    defs: dict[str, Any] = {k: schema[k] for k in ("$defs", "definitions") if k in schema}
    inner = {k: v for k, v in schema.items() if k not in defs}
    wrapped = {"type": "object", "properties": {"value": inner}, "required": ["value"], **defs}
    return {"name": WRAPPED_TOOL, "description": description, "input_schema": wrapped}


def apply_structured_output(out: dict[str, Any], schema: dict[str, Any], thinking: bool) -> None:
    """Add the answer tool to a Messages request and make the model call it (or a tool of the
    client's, when it offered its own: OpenAI lets the model choose between them too).
    Extended thinking allows no forced tool choice, so there the tool is only offered."""
    tool = structured_tool(schema)
    own_tools = out.get("tools") or []
    choice = out.get("tool_choice") or {}
    if choice.get("type") == "none":
        own_tools, choice = [], {}
    out["tools"] = [*own_tools, tool]
    if thinking:
        out["tool_choice"] = {"type": "auto"}
    elif own_tools and choice.get("type") == "tool":
        out["tool_choice"] = choice
    else:
        forced: dict[str, Any] = {"type": "any"} if own_tools else {"type": "tool", "name": tool["name"]}
        out["tool_choice"] = forced


def structured_text(name: Any, tool_input: Any) -> str | None:
    """The answer's text when a tool call is the structured answer; None for any other tool."""
    if name == OBJECT_TOOL:
        return orjson.dumps(tool_input if tool_input is not None else {}).decode()
    if name == WRAPPED_TOOL:
        value = tool_input.get("value") if isinstance(tool_input, dict) else None
        return orjson.dumps(value).decode()
    return None
