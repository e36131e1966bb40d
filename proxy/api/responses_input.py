"""The inbound OpenAI Responses API, input side: `input` items (messages with input_text, input_image
and input_file parts, function calls and their outputs, reasoning) as the internal chat messages,
each part checked so a mistake is a 400 naming its path (`input[2].content[0].image_url`).
"""

from __future__ import annotations

from typing import Any

from proxy.api.responses_checks import expect_dict, expect_list, expect_one_of, expect_str, invalid
from proxy.api.responses_output import new_id, unpack_reasoning

MESSAGE_ROLES = ("user", "assistant", "system", "developer")
ITEM_ID_PREFIXES = {"message": "msg", "function_call": "fc", "function_call_output": "fco", "reasoning": "rs"}


# -- input items -------------------------------------------------------------------------------


def image_part(part: dict[str, Any], param: str) -> dict[str, Any]:
    if part.get("file_id") is not None:
        raise invalid(f"{param}.file_id", "file ids need OpenAI's Files API, which the gateway does not serve; "
                      "send the image as image_url (an https URL or a data: URL).")
    url = expect_str(part.get("image_url"), f"{param}.image_url", required=True)
    image: dict[str, Any] = {"url": url}
    detail = part.get("detail")
    if detail is not None:
        image["detail"] = expect_one_of(detail, ("auto", "low", "high", "original"), f"{param}.detail")
    return {"type": "image_url", "image_url": image}


def file_part(part: dict[str, Any], param: str) -> dict[str, Any]:
    if part.get("file_id") is not None or part.get("file_url") is not None:
        name = "file_id" if part.get("file_id") is not None else "file_url"
        raise invalid(f"{param}.{name}", "send the file inline as file_data (a data: URL or base64); "
                      "file ids and file URLs are not fetched by the gateway.")
    data = expect_str(part.get("file_data"), f"{param}.file_data", required=True)
    file: dict[str, Any] = {"file_data": data}
    if part.get("filename") is not None:
        file["filename"] = expect_str(part["filename"], f"{param}.filename")
    return {"type": "file", "file": file}


def content_part(part: Any, param: str) -> dict[str, Any]:
    part = expect_dict(part, param)
    kind = part.get("type")
    if kind in ("input_text", "output_text"):
        return {"type": "text", "text": expect_str(part.get("text"), f"{param}.text", required=True)}
    if kind == "refusal":
        return {"type": "text", "text": expect_str(part.get("refusal"), f"{param}.refusal", required=True)}
    if kind == "input_image":
        return image_part(part, param)
    if kind == "input_file":
        return file_part(part, param)
    if kind == "input_audio":
        raise invalid(f"{param}.type", "audio input is not supported through the gateway.")
    raise invalid(f"{param}.type", f"expected 'input_text', 'input_image' or 'input_file', got {kind!r}.")


def message_content(content: Any, role: str, param: str) -> str | list[dict[str, Any]]:
    if isinstance(content, str):
        return content
    parts = [content_part(p, f"{param}[{k}]") for k, p in enumerate(expect_list(content, param))]
    if not parts:
        raise invalid(param, "expected a string or at least one content part.")
    if role != "user" and any(p["type"] != "text" for p in parts):
        raise invalid(param, f"a {role} message can carry text only.")
    if role == "assistant" or len(parts) == 1 and parts[0]["type"] == "text":
        return "".join(p["text"] for p in parts)  # an answer's parts are one text; a lone part, a plain string
    return parts


def function_call(item: dict[str, Any], param: str) -> dict[str, Any]:
    call_id = expect_str(item.get("call_id"), f"{param}.call_id", required=True)
    name = expect_str(item.get("name"), f"{param}.name", required=True)
    arguments = expect_str(item.get("arguments"), f"{param}.arguments", required=True)
    call: dict[str, Any] = {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
    if item.get("extra_content") is not None:  # a provider's own data for the call, from our output item
        call["extra_content"] = expect_dict(item["extra_content"], f"{param}.extra_content")
    return call


def function_output(item: dict[str, Any], param: str) -> dict[str, Any]:
    call_id = expect_str(item.get("call_id"), f"{param}.call_id", required=True)
    output = item.get("output")
    if isinstance(output, list):
        parts = [content_part(p, f"{param}.output[{k}]") for k, p in enumerate(output)]
        content: Any = "".join(p["text"] for p in parts) if all(p["type"] == "text" for p in parts) else parts
    else:
        content = expect_str(output, f"{param}.output", required=True)
    return {"role": "tool", "tool_call_id": call_id, "content": content}


def reasoning_of(item: dict[str, Any], param: str) -> dict[str, Any]:
    """A reasoning item's text and, when the gateway packed them into encrypted_content, the exact
    upstream blocks (Claude's signed thinking) for the next assistant message."""
    texts = []
    for k, part in enumerate(expect_list(item.get("summary") or [], f"{param}.summary")):
        texts.append(expect_str(expect_dict(part, f"{param}.summary[{k}]").get("text"), f"{param}.summary[{k}].text", required=True))
    out: dict[str, Any] = {"reasoning_content": "\n\n".join(texts)}
    sealed = item.get("encrypted_content")
    if sealed is not None:
        blocks = unpack_reasoning(expect_str(sealed, f"{param}.encrypted_content"))
        if blocks:
            out["thinking_blocks"] = blocks
    return out


class TurnBuilder:
    """Input items to internal messages: consecutive function calls (and the text and reasoning just
    before them) become one assistant message, as chat APIs want them."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.pending_reasoning: dict[str, Any] | None = None

    def assistant(self) -> dict[str, Any]:
        last = self.messages[-1] if self.messages else None
        if last is None or last["role"] != "assistant" or self.pending_reasoning is not None:
            last = {"role": "assistant", "content": None, **(self.pending_reasoning or {})}
            self.pending_reasoning = None
            self.messages.append(last)
        return last

    def add(self, item: Any, param: str) -> None:
        if isinstance(item, str):
            raise invalid(param, "expected an input item object (for text, send {'role': 'user', 'content': '...'}).")
        item = expect_dict(item, param)
        kind = item.get("type", "message" if "role" in item else None)
        if kind == "message":
            role = expect_one_of(item.get("role"), MESSAGE_ROLES, f"{param}.role")
            content = message_content(item.get("content"), role, f"{param}.content")
            if role == "assistant":
                message = self.assistant()
                message["content"] = (message.get("content") or "") + str(content)
            else:
                self.messages.append({"role": role, "content": content})
        elif kind == "function_call":
            message = self.assistant()
            message.setdefault("tool_calls", []).append(function_call(item, param))
        elif kind == "function_call_output":
            self.messages.append(function_output(item, param))
        elif kind == "reasoning":
            self.pending_reasoning = reasoning_of(item, param)
        elif kind == "item_reference":
            raise invalid(f"{param}.type", "item references are not supported; send the item itself, "
                          "or chain the turn with previous_response_id.")
        else:
            raise invalid(f"{param}.type", f"input items of type {kind!r} are not supported: the gateway takes "
                          "'message', 'function_call', 'function_call_output' and 'reasoning'.")


def input_messages(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    items = expect_list(value, "input")
    builder = TurnBuilder()
    for i, item in enumerate(items):
        builder.add(item, f"input[{i}]")
    return builder.messages


def listed_input_items(value: Any) -> list[dict[str, Any]]:
    """Checked `input` as GET /v1/responses/{id}/input_items lists it: items with ids and a type,
    message content as parts (a string becomes one input_text, or output_text for the assistant)."""
    items = [{"role": "user", "content": value}] if isinstance(value, str) else value
    out = []
    for given in items:
        item = dict(given)
        kind = item.setdefault("type", "message")
        if kind == "message":
            if isinstance(item.get("content"), str):
                assistant = item.get("role") == "assistant"
                part = {"type": "output_text", "text": item["content"], "annotations": []} if assistant else {
                    "type": "input_text", "text": item["content"]}
                item["content"] = [part]
            item.setdefault("status", "completed")
        item.setdefault("id", new_id(ITEM_ID_PREFIXES.get(kind, "item")))
        out.append(item)
    return out
