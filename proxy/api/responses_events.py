"""Internal stream chunks in, OpenAI Responses events out, in the documented order:

    response.created, response.in_progress,
    then per output item: response.output_item.added, its parts and deltas, response.output_item.done
      (message: content_part.added, output_text.delta..., output_text.done, content_part.done;
       function_call: function_call_arguments.delta..., function_call_arguments.done;
       reasoning: reasoning_summary_part.added, reasoning_summary_text.delta..., .done, reasoning_summary_part.done),
    then response.completed with usage, response.incomplete, or after a failure response.failed.

Every event carries the one `resp_` id (inside its response object or implied by its item ids) and a
`sequence_number` that rises by one. The closing event carries the same Response object a plain
request returns (`proxy.api.responses_output`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from proxy.api.responses_output import (
    failure_error,
    function_call_item,
    message_item,
    new_id,
    reasoning_item,
    refusal_part,
    response_object,
    status_of,
    text_part,
    to_response_usage,
)


@dataclass(slots=True)
class OpenItem:
    """The output item being streamed: its kind, position, id and what it has accumulated."""

    kind: str  # "message" | "refusal" (a message whose part is a refusal) | "reasoning" | "function_call"
    index: int
    item_id: str
    text: str = ""
    call_id: str = ""
    name: str = ""
    blocks: list[dict[str, Any]] = field(default_factory=list)
    extra_content: dict[str, Any] | None = None  # a call's provider data (Gemini's thought signature)


# A message item's one content part, by the open item's kind: how to build the part, the prefix of its
# delta and done events, and the done event's field holding the whole text.
CONTENT_PARTS: dict[str, tuple[Callable[[str], dict[str, Any]], str, str]] = {
    "message": (text_part, "response.output_text", "text"),
    "refusal": (refusal_part, "response.refusal", "refusal"),
}


def logprobs_of(kind: str) -> dict[str, Any]:
    """Output text events carry (empty) logprobs; refusal events have none."""
    return {"logprobs": []} if kind == "message" else {}


def sse(event: dict[str, Any]) -> bytes:
    return b"event: " + event["type"].encode() + b"\ndata: " + orjson.dumps(event) + b"\n\n"


class ResponsesEventEncoder:
    """One streamed response. `encode(chunk)` per internal chunk, then `finish_events(usage)` or
    `failure_events(status, message)`; `assistant_message()` is the answer as an internal message
    (what a stored conversation keeps)."""

    def __init__(self, response_id: str, model: str, echo: dict[str, Any], created_at: int, *, store: bool = True,
                 previous_response_id: str | None = None, include_packed: bool = False) -> None:
        self.response_id = response_id
        self.model = model
        self.echo = echo
        self.created_at = created_at
        self.store = store
        self.previous_response_id = previous_response_id
        self.include_packed = include_packed
        self.sequence = 0
        self.started = False
        self.items: list[dict[str, Any]] = []  # finished items, in output order
        self.open: OpenItem | None = None
        self.calls: dict[int, OpenItem] = {}  # chat tool_calls index -> its item
        self.finish: str | None = None
        self.blocks: list[dict[str, Any]] = []  # every upstream reasoning block, for the stored conversation
        self.result: dict[str, Any] | None = None  # the final Response object, once the stream has ended

    # -- framing ---------------------------------------------------------------------------------

    def event(self, kind: str, **fields: Any) -> bytes:
        data = {"type": kind, "sequence_number": self.sequence, **fields}
        self.sequence += 1
        return sse(data)

    def snapshot(self, status: str, **extra: Any) -> dict[str, Any]:
        return response_object(self.response_id, self.created_at, self.model, self.echo, status=status, output=list(self.items),
                               store=self.store, previous_response_id=self.previous_response_id, **extra)

    def opening(self) -> bytes:
        self.started = True
        return (self.event("response.created", response=self.snapshot("in_progress"))
                + self.event("response.in_progress", response=self.snapshot("in_progress")))

    # -- chunks ----------------------------------------------------------------------------------

    def encode(self, chunk: dict[str, Any]) -> bytes:
        out = [] if self.started else [self.opening()]
        for choice in chunk.get("choices") or ():
            delta = choice.get("delta") or {}
            if delta.get("reasoning_content"):
                out.append(self.reasoning_delta(delta["reasoning_content"]))
            if delta.get("thinking_blocks"):
                out.append(self.thinking_blocks(delta["thinking_blocks"]))
            if delta.get("content"):
                out.append(self.text_delta(delta["content"]))
            if delta.get("refusal"):
                out.append(self.refusal_delta(delta["refusal"]))
            for call in delta.get("tool_calls") or ():
                out.append(self.tool_call_delta(call))
            if choice.get("finish_reason"):
                self.finish = choice["finish_reason"]
        return b"".join(out)

    def start(self, kind: str, prefix: str) -> tuple[OpenItem, bytes]:
        out = self.close()
        self.open = OpenItem(kind, len(self.items), new_id(prefix))
        self.items.append({})  # the slot keeps output_index stable; filled when the item is done
        return self.open, out

    def reasoning_delta(self, text: str) -> bytes:
        out = b""
        item = self.open
        if item is None or item.kind != "reasoning":
            item, out = self.start("reasoning", "rs")
            out += self.event("response.output_item.added", output_index=item.index, item=reasoning_item("", None, False, item.item_id))
            out += self.event("response.reasoning_summary_part.added", item_id=item.item_id, output_index=item.index,
                              summary_index=0, part={"type": "summary_text", "text": ""})
        item.text += text
        return out + self.event("response.reasoning_summary_text.delta", item_id=item.item_id, output_index=item.index,
                                summary_index=0, delta=text)

    def thinking_blocks(self, blocks: list[dict[str, Any]]) -> bytes:
        """Whole upstream blocks (a signature, a redacted block): kept with the reasoning item they close."""
        out = b""
        if self.open is None or self.open.kind != "reasoning":
            shown = "".join(str(b.get("thinking") or "") for b in blocks if b.get("type") == "thinking")
            out = self.reasoning_delta(shown) if shown else self.start_silent_reasoning()
        assert self.open is not None
        self.open.blocks += [dict(b) for b in blocks]
        self.blocks += [dict(b) for b in blocks]
        return out

    def start_silent_reasoning(self) -> bytes:
        item, out = self.start("reasoning", "rs")
        return out + self.event("response.output_item.added", output_index=item.index, item=reasoning_item("", None, False, item.item_id))

    def text_delta(self, text: str) -> bytes:
        return self.content_delta("message", text)

    def refusal_delta(self, text: str) -> bytes:
        return self.content_delta("refusal", text)

    def content_delta(self, kind: str, text: str) -> bytes:
        """A piece of a message's one content part: its text, or its refusal (`CONTENT_PARTS`)."""
        make_part, event, _ = CONTENT_PARTS[kind]
        out = b""
        item = self.open
        if item is None or item.kind != kind:
            item, out = self.start(kind, "msg")
            out += self.event("response.output_item.added", output_index=item.index, item=message_item([], "in_progress", item.item_id))
            out += self.event("response.content_part.added", item_id=item.item_id, output_index=item.index, content_index=0,
                              part=make_part(""))
        item.text += text
        return out + self.event(f"{event}.delta", item_id=item.item_id, output_index=item.index, content_index=0,
                                delta=text, **logprobs_of(kind))

    def tool_call_delta(self, call: dict[str, Any]) -> bytes:
        out = b""
        position = int(call.get("index") or 0)
        fn = call.get("function") or {}
        item = self.calls.get(position)
        if item is None or (call.get("id") and call["id"] != item.call_id):
            item, out = self.start("function_call", "fc")
            item.call_id = str(call.get("id") or new_id("call"))
            item.name = str(fn.get("name") or "")
            item.extra_content = call.get("extra_content")
            self.calls[position] = item
            out += self.event("response.output_item.added", output_index=item.index,
                              item=function_call_item(item.call_id, item.name, "", "in_progress", item.item_id))
        arguments = fn.get("arguments") or ""
        if arguments:
            item.text += arguments
            if item is self.open:  # a late piece of a call already closed still counts in its final item
                out += self.event("response.function_call_arguments.delta", item_id=item.item_id, output_index=item.index, delta=arguments)
            else:
                self.items[item.index]["arguments"] = item.text
        return out

    # -- closing ---------------------------------------------------------------------------------

    def close(self, status: str = "completed") -> bytes:
        """End the open item with its done events; its final form takes its slot in `items`."""
        item, self.open = self.open, None
        if item is None:
            return b""
        where = {"item_id": item.item_id, "output_index": item.index}
        if item.kind in CONTENT_PARTS:
            make_part, event, field_name = CONTENT_PARTS[item.kind]
            done: dict[str, Any] = message_item([make_part(item.text)], status, item.item_id)
            out = (self.event(f"{event}.done", **where, content_index=0, **{field_name: item.text}, **logprobs_of(item.kind))
                   + self.event("response.content_part.done", **where, content_index=0, part=make_part(item.text)))
        elif item.kind == "reasoning":
            done = reasoning_item(item.text, item.blocks, self.include_packed, item.item_id)
            out = b""
            if done["summary"]:
                part = {"type": "summary_text", "text": item.text}
                out = (self.event("response.reasoning_summary_text.done", **where, summary_index=0, text=item.text)
                       + self.event("response.reasoning_summary_part.done", **where, summary_index=0, part=part))
        else:
            done = function_call_item(item.call_id, item.name, item.text, status, item.item_id, item.extra_content)
            out = self.event("response.function_call_arguments.done", **where, name=item.name, arguments=item.text)
        self.items[item.index] = done
        return out + self.event("response.output_item.done", output_index=item.index, item=done)

    def finish_events(self, usage: dict[str, Any] | None) -> bytes:
        """The closing events; `usage` is the internal usage (with cost) for the whole answer."""
        status, incomplete = status_of(self.finish)
        out = b"" if self.started else self.opening()
        out += self.close("incomplete" if status == "incomplete" else "completed")
        final = self.result = self.snapshot(status, usage=to_response_usage(usage), incomplete=incomplete)
        return out + self.event(f"response.{status}", response=final)

    def failure_events(self, status: int, message: str, usage: dict[str, Any] | None = None) -> bytes:
        """A stream that broke after content: the open item ends incomplete, then response.failed."""
        out = b"" if self.started else self.opening()
        out += self.close("incomplete")
        final = self.result = self.snapshot("failed", error=failure_error(status, message), usage=to_response_usage(usage) if usage else None)
        return out + self.event("response.failed", response=final)

    def assistant_message(self) -> dict[str, Any]:
        """The streamed answer as one internal assistant message (for a stored conversation)."""
        message: dict[str, Any] = {"role": "assistant", "content": None}
        reasoning: list[str] = []
        for item in self.items:
            if item.get("type") == "message":
                message["content"] = (message["content"] or "") + "".join(p.get("text", "") for p in item["content"])
                refusal = "".join(p.get("refusal", "") for p in item["content"])
                if refusal:
                    message["refusal"] = refusal
            elif item.get("type") == "function_call":
                call = {"id": item["call_id"], "type": "function", "function": {"name": item["name"], "arguments": item["arguments"]}}
                if item.get("extra_content"):
                    call["extra_content"] = item["extra_content"]
                message.setdefault("tool_calls", []).append(call)
            elif item.get("type") == "reasoning":
                reasoning += [s["text"] for s in item["summary"]]
        if reasoning:
            message["reasoning_content"] = "".join(reasoning)
        if self.blocks:
            message["thinking_blocks"] = list(self.blocks)
        return message
