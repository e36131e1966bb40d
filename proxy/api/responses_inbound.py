"""The inbound OpenAI Responses API, request side, as pure translation: a `/v1/responses` body becomes
the gateway's internal (OpenAI chat-shaped) request, checked field by field so a mistake is a 400 in
OpenAI's shape naming the field (`input[2].content[0].image_url`), never a crash.

What the gateway cannot do honestly (OpenAI's hosted tools, background runs, the Conversations API,
prompt templates) is refused by name rather than dropped: see REFUSED_FIELDS and `unsupported_tool`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from proxy.api.responses_checks import (
    expect_bool,
    expect_dict,
    expect_int,
    expect_list,
    expect_number,
    expect_one_of,
    expect_str,
    invalid,
)
from proxy.api.responses_input import input_messages, listed_input_items
from proxy.errors import GatewayError
from proxy.providers.common import GATEWAY_FIELDS

# Fields OpenAI documents that are hints, not contracts: accepted, and change nothing here.
ECHOED_HINTS = ("prompt_cache_key", "prompt_cache_retention", "service_tier", "safety_identifier", "stream_options")
REFUSED_FIELDS: dict[str, str] = {
    "background": "background responses are not supported through the gateway; use stream instead.",
    "conversation": "the Conversations API is not supported; chain turns with previous_response_id.",
    "prompt": "stored prompt templates live in OpenAI's dashboard; send the prompt as input instead.",
    "max_tool_calls": "limits on hosted tool calls do not apply: only function tools run through the gateway.",
    "context_management": "server-side compaction is not supported through the gateway.",
}
KNOWN_FIELDS = frozenset({
    "model", "input", "instructions", "tools", "tool_choice", "parallel_tool_calls", "text", "reasoning",
    "max_output_tokens", "temperature", "top_p", "top_logprobs", "metadata", "store", "previous_response_id",
    "stream", "include", "user", "truncation", *ECHOED_HINTS, *REFUSED_FIELDS, *GATEWAY_FIELDS,
})
INCLUDABLE = frozenset({
    "file_search_call.results", "web_search_call.results", "web_search_call.action.sources", "message.input_image.image_url",
    "computer_call_output.output.image_url", "code_interpreter_call.outputs", "reasoning.encrypted_content",
    "message.output_text.logprobs",
})
HOSTED_TOOL_REASON = ("is a built-in tool that runs inside OpenAI, and the gateway serves every provider: "
                      "only tools of type 'function' are supported. Define it as a function tool.")
CUSTOM_TOOL_REASON = ("free-form tools (type 'custom') are OpenAI's alone, and the gateway serves every provider: "
                      "only tools of type 'function' are supported. Define it as a function tool with a string parameter.")


def unsupported_tool(kind: Any, param: str) -> GatewayError:
    reason = CUSTOM_TOOL_REASON if kind == "custom" else f"{kind!r} {HOSTED_TOOL_REASON}"
    return invalid(param, reason, code="unsupported_tool")
REASONING_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh", "max")
SUMMARY_MODES = ("auto", "concise", "detailed")


@dataclass(slots=True)
class ResponsesRequest:
    """A checked `/v1/responses` request: the internal chat body (without the earlier turns a
    `previous_response_id` brings) and what the response object echoes back."""

    model: str
    instructions: str | None
    input_messages: list[dict[str, Any]]
    raw_input: Any  # `input` as the client sent it (checked), listed by input_items when the turn is kept
    options: dict[str, Any]  # internal chat fields other than model and messages
    echo: dict[str, Any] = field(default_factory=dict)
    store: bool = True
    previous_response_id: str | None = None
    stream: bool = False
    include: tuple[str, ...] = ()

    def input_items(self) -> list[dict[str, Any]]:
        """This turn's input as GET /v1/responses/{id}/input_items lists it (ids made here, once kept)."""
        return listed_input_items(self.raw_input)

    def chat_body(self, history: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """The internal request: instructions first (they are not carried between turns), then the
        earlier turns, then this turn's input."""
        system = [{"role": "system", "content": self.instructions}] if self.instructions else []
        return {"model": self.model, "messages": [*system, *(history or ()), *self.input_messages], **self.options}


# -- tools, text format, reasoning -------------------------------------------------------------


def function_tool(tool: Any, param: str) -> dict[str, Any]:
    tool = expect_dict(tool, param)
    kind = tool.get("type")
    if kind != "function":
        if not isinstance(kind, str):
            raise invalid(f"{param}.type", "Field required: 'function'.", code="missing_required_parameter")
        raise unsupported_tool(kind, f"{param}.type")
    fn: dict[str, Any] = {"name": expect_str(tool.get("name"), f"{param}.name", required=True)}
    if tool.get("description") is not None:
        fn["description"] = expect_str(tool["description"], f"{param}.description")
    parameters = tool.get("parameters")
    fn["parameters"] = expect_dict(parameters, f"{param}.parameters") if parameters is not None else {"type": "object", "properties": {}}
    if tool.get("strict") is not None:
        fn["strict"] = expect_bool(tool["strict"], f"{param}.strict")
    return {"type": "function", "function": fn}


def tool_choice(value: Any, names: set[str]) -> tuple[Any, set[str] | None]:
    """The internal tool_choice, and the tools an `allowed_tools` choice narrows the list to."""
    if isinstance(value, str):
        return expect_one_of(value, ("auto", "none", "required"), "tool_choice"), None
    choice = expect_dict(value, "tool_choice")
    kind = choice.get("type")
    if kind == "function":
        name = expect_str(choice.get("name"), "tool_choice.name", required=True)
        if name not in names:
            raise invalid("tool_choice.name", f"no function tool named {name!r} in tools.")
        return {"type": "function", "function": {"name": name}}, None
    if kind == "allowed_tools":
        mode = expect_one_of(choice.get("mode"), ("auto", "required"), "tool_choice.mode")
        allowed: set[str] = set()
        for k, tool in enumerate(expect_list(choice.get("tools"), "tool_choice.tools")):
            tool = expect_dict(tool, f"tool_choice.tools[{k}]")
            if tool.get("type") != "function":
                raise unsupported_tool(tool.get("type"), f"tool_choice.tools[{k}].type")
            allowed.add(expect_str(tool.get("name"), f"tool_choice.tools[{k}].name", required=True))
        return mode, allowed
    raise unsupported_tool(kind, "tool_choice.type")


def response_format(text: Any) -> dict[str, Any] | None:
    fmt = expect_dict(expect_dict(text, "text").get("format") or {"type": "text"}, "text.format")
    kind = expect_one_of(fmt.get("type"), ("text", "json_object", "json_schema"), "text.format.type")
    if kind == "text":
        return None
    if kind == "json_object":
        return {"type": "json_object"}
    schema: dict[str, Any] = {
        "name": expect_str(fmt.get("name"), "text.format.name", required=True),
        "schema": expect_dict(fmt.get("schema"), "text.format.schema"),
    }
    if fmt.get("strict") is not None:
        schema["strict"] = expect_bool(fmt["strict"], "text.format.strict")
    if fmt.get("description") is not None:
        schema["description"] = expect_str(fmt["description"], "text.format.description")
    return {"type": "json_schema", "json_schema": schema}


def check_metadata(value: Any) -> dict[str, str]:
    """OpenAI's limits: at most 16 pairs, keys up to 64 characters, string values up to 512."""
    metadata = expect_dict(value, "metadata")
    if len(metadata) > 16:
        raise invalid("metadata", f"at most 16 key-value pairs, got {len(metadata)}.")
    for key, item in metadata.items():
        if len(key) > 64:
            raise invalid(f"metadata.{key[:20]}…", "keys are at most 64 characters.")
        if not isinstance(item, str) or len(item) > 512:
            raise invalid(f"metadata.{key}", "values are strings of at most 512 characters.")
    return metadata


# -- the request -------------------------------------------------------------------------------


def check_fields(body: dict[str, Any]) -> None:
    for name in body:
        if name not in KNOWN_FIELDS:
            raise GatewayError(400, f"Unknown parameter: '{name}'.", param=name, code="unknown_parameter")
    for name, why in REFUSED_FIELDS.items():
        value = body.get(name)
        if value not in (None, False, [], {}):
            raise invalid(name, why, code="unsupported_parameter")


def tool_options(body: dict[str, Any], options: dict[str, Any], echo: dict[str, Any]) -> None:
    tools = [function_tool(t, f"tools[{i}]") for i, t in enumerate(expect_list(body.get("tools") or [], "tools"))]
    echo["tools"] = [dict(t) for t in body.get("tools") or ()]
    names = {t["function"]["name"] for t in tools}
    if body.get("tool_choice") is not None:
        choice, allowed = tool_choice(body["tool_choice"], names)
        if allowed is not None:
            tools = [t for t in tools if t["function"]["name"] in allowed]
        if tools:  # chat APIs refuse a tool_choice without tools
            options["tool_choice"] = choice
        echo["tool_choice"] = body["tool_choice"]
    if tools:
        options["tools"] = tools
    if body.get("parallel_tool_calls") is not None:
        parallel = expect_bool(body["parallel_tool_calls"], "parallel_tool_calls")
        echo["parallel_tool_calls"] = parallel
        if tools:
            options["parallel_tool_calls"] = parallel


def sampling_options(body: dict[str, Any], options: dict[str, Any], echo: dict[str, Any]) -> None:
    if body.get("temperature") is not None:
        options["temperature"] = echo["temperature"] = expect_number(body["temperature"], "temperature", 0, 2)
    if body.get("top_p") is not None:
        options["top_p"] = echo["top_p"] = expect_number(body["top_p"], "top_p", 0, 1)
    if body.get("max_output_tokens") is not None:
        limit = expect_int(body["max_output_tokens"], "max_output_tokens", minimum=16)
        options["max_completion_tokens"] = echo["max_output_tokens"] = limit
    if body.get("top_logprobs") is not None:
        count = expect_int(body["top_logprobs"], "top_logprobs", minimum=0, maximum=20)
        if count:
            raise invalid("top_logprobs", "log probabilities are not returned through the gateway (not every provider has them).",
                          code="unsupported_parameter")
    if body.get("text") is not None:
        fmt = response_format(body["text"])
        if fmt is not None:
            options["response_format"] = fmt
        verbosity = body["text"].get("verbosity")
        if verbosity is not None:
            options["verbosity"] = expect_one_of(verbosity, ("low", "medium", "high"), "text.verbosity")
        echo["text"] = body["text"]
    if body.get("reasoning") is not None:
        reasoning = expect_dict(body["reasoning"], "reasoning")
        if reasoning.get("effort") is not None:
            options["reasoning_effort"] = expect_one_of(reasoning["effort"], REASONING_EFFORTS, "reasoning.effort")
        for name in ("summary", "generate_summary"):
            if reasoning.get(name) is not None:
                expect_one_of(reasoning[name], SUMMARY_MODES, f"reasoning.{name}")
        echo["reasoning"] = {"effort": reasoning.get("effort"), "summary": reasoning.get("summary") or reasoning.get("generate_summary")}


def to_responses_request(body: dict[str, Any]) -> ResponsesRequest:
    """Check a `/v1/responses` body and translate it; a 400 naming the field when something is wrong."""
    check_fields(body)
    model = expect_str(body.get("model"), "model", required=True)
    if not model:
        raise invalid("model", "must not be empty.")
    if body.get("input") is None:
        raise GatewayError(400, "Missing required parameter: 'input'.", param="input", code="missing_required_parameter")
    instructions = expect_str(body["instructions"], "instructions") if body.get("instructions") is not None else None
    messages = input_messages(body["input"])
    if not messages:
        raise invalid("input", "at least one input item is required.")
    options: dict[str, Any] = {}
    echo: dict[str, Any] = {"instructions": instructions}
    tool_options(body, options, echo)
    sampling_options(body, options, echo)
    if body.get("metadata") is not None:
        echo["metadata"] = check_metadata(body["metadata"])
    user = body.get("user") if body.get("user") is not None else body.get("safety_identifier")
    if user is not None:
        options["user"] = echo["user"] = expect_str(user, "user" if body.get("user") is not None else "safety_identifier")
    truncation = body.get("truncation")
    if truncation is not None and expect_one_of(truncation, ("auto", "disabled"), "truncation") == "auto":
        raise invalid("truncation", "'auto' would drop earlier turns silently; the gateway supports 'disabled' only.",
                      code="unsupported_parameter")
    include = tuple(expect_one_of(v, tuple(sorted(INCLUDABLE)), f"include[{k}]")
                    for k, v in enumerate(expect_list(body.get("include") or [], "include")))
    if "message.output_text.logprobs" in include:
        raise invalid(f"include[{include.index('message.output_text.logprobs')}]", "log probabilities are not returned "
                      "through the gateway (not every provider has them).", code="unsupported_parameter")
    stream = expect_bool(body["stream"], "stream") if body.get("stream") is not None else False
    if stream:
        options["stream"] = True
        options["stream_options"] = {"include_usage": True}
    for name in GATEWAY_FIELDS:
        if body.get(name) is not None:
            options[name] = body[name]
    previous = body.get("previous_response_id")
    return ResponsesRequest(
        model=model, instructions=instructions, input_messages=messages, raw_input=body["input"],
        options=options, echo=echo,
        store=expect_bool(body["store"], "store") if body.get("store") is not None else True,
        previous_response_id=expect_str(previous, "previous_response_id") if previous is not None else None,
        stream=stream, include=include,
    )
