"""The simulated providers' structured answers validate against the schema they were built from:
a property test over generated JSON Schemas (the shapes pydantic, the OpenAI SDK and Gemini emit),
checked by the `jsonschema` validator with format checking on."""

from __future__ import annotations

import datetime
import enum
import uuid
from typing import Any, Literal

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openai.lib._pydantic import to_strict_json_schema
from pydantic import BaseModel, Field

from proxy.simulated.schema_instance import instance_for

FORMATS = ["date-time", "date", "time", "email", "uri", "uuid", "ipv4", "ipv6", "hostname", "duration"]
PATTERNS = [r"^[A-Z]{2}-\d{3}$", r"^\w+@\w+\.com$", r"^(yes|no)$", r"[a-f0-9]{8}", r"^\+?[0-9 ]{7,15}$"]
NAMES = st.text("abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=8)


def check(schema: Any) -> Any:
    value = instance_for(schema)
    jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER).validate(value)
    return value


@st.composite
def numbers(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["integer", "number"]))
    schema: dict[str, Any] = {"type": kind}
    low = draw(st.none() | st.integers(-1000, 1000))
    if low is not None:
        schema["exclusiveMinimum" if draw(st.booleans()) else "minimum"] = low
    if draw(st.booleans()):
        top = (low if low is not None else -1000) + draw(st.integers(2, 500))
        schema["exclusiveMaximum" if draw(st.booleans()) else "maximum"] = top
    if draw(st.booleans()):
        schema["multipleOf"] = draw(st.sampled_from([1, 2, 5, 10])) if kind == "integer" else draw(st.sampled_from([0.5, 0.25, 2]))
        # a range narrower than one step may hold no multiple: widen it
        if "maximum" in schema or "exclusiveMaximum" in schema:
            schema.pop("maximum", None)
            schema.pop("exclusiveMaximum", None)
    return schema


@st.composite
def strings(draw: st.DrawFn) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    choice = draw(st.sampled_from(["plain", "format", "pattern"]))
    if choice == "format":
        schema["format"] = draw(st.sampled_from(FORMATS))
    elif choice == "pattern":
        schema["pattern"] = draw(st.sampled_from(PATTERNS))
    else:
        low = draw(st.integers(0, 30))
        schema["minLength"] = low
        if draw(st.booleans()):
            schema["maxLength"] = low + draw(st.integers(0, 20))
    return schema


SCALARS = st.one_of(
    numbers(),
    strings(),
    st.just({"type": "boolean"}),
    st.just({"type": "null"}),
    st.lists(st.text(max_size=5) | st.integers(), min_size=1, max_size=4, unique=True).map(lambda v: {"enum": v}),
    st.integers().map(lambda v: {"const": v}),
)


def containers(children: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    @st.composite
    def an_object(draw: st.DrawFn) -> dict[str, Any]:
        props = draw(st.dictionaries(NAMES, children, max_size=4))
        required = [p for p in props if draw(st.booleans())]
        schema: dict[str, Any] = {"type": "object", "properties": props, "required": required}
        extra = draw(st.sampled_from([None, False, True, "schema"]))
        if extra == "schema":
            schema["additionalProperties"] = draw(children)
            schema["minProperties"] = draw(st.integers(0, len(props) + 2))
        elif extra is not None:
            schema["additionalProperties"] = extra
        return schema

    @st.composite
    def an_array(draw: st.DrawFn) -> dict[str, Any]:
        low = draw(st.integers(0, 3))
        schema: dict[str, Any] = {"type": "array", "items": draw(children), "minItems": low}
        if draw(st.booleans()):
            schema["maxItems"] = low + draw(st.integers(0, 3))
        # distinct items exist for open numbers and strings (a const or a boolean has too few values)
        if schema["items"].get("type") in ("integer", "number", "string") and "maxLength" not in schema["items"]:
            schema["uniqueItems"] = draw(st.booleans())
        return schema

    @st.composite
    def a_tuple(draw: st.DrawFn) -> dict[str, Any]:
        prefix = draw(st.lists(children, min_size=1, max_size=3))
        return {"type": "array", "prefixItems": prefix, "minItems": len(prefix), "maxItems": len(prefix)}

    unions = st.one_of(
        children.map(lambda s: {"anyOf": [s, {"type": "null"}]}),
        st.tuples(children, children).map(lambda p: {"allOf": [{"type": "object", "properties": {"a": p[0]}, "required": ["a"]},
                                                               {"type": "object", "properties": {"b": p[1]}, "required": ["b"]}]}),
        children.map(lambda s: {"type": [s.get("type", "string"), "null"]} if isinstance(s.get("type"), str) else s),
    )
    return st.one_of(an_object(), an_array(), a_tuple(), unions)


SCHEMAS = st.recursive(SCALARS, containers, max_leaves=12)


@st.composite
def with_defs(draw: st.DrawFn) -> dict[str, Any]:
    """A root object whose properties point into $defs, as pydantic writes nested models."""
    defs = draw(st.dictionaries(NAMES.map(str.title), SCHEMAS, min_size=1, max_size=3))
    names = list(defs)
    props = {f"p{i}": {"$ref": f"#/$defs/{draw(st.sampled_from(names))}"} for i in range(draw(st.integers(1, 4)))}
    return {"type": "object", "properties": props, "required": list(props), "additionalProperties": False, "$defs": defs}


@settings(max_examples=400, deadline=None)
@given(SCHEMAS)
def test_instances_validate_against_generated_schemas(schema: dict[str, Any]) -> None:
    check(schema)


@settings(max_examples=150, deadline=None)
@given(with_defs())
def test_instances_follow_refs_into_defs(schema: dict[str, Any]) -> None:
    check(schema)


class Color(enum.Enum):
    red = "red"
    green = "green"


class Node(BaseModel):
    name: str
    children: list[Node] = []
    parent: Node | None = None


class Everything(BaseModel):
    count: int = Field(ge=3, le=9, multiple_of=3)
    ratio: float = Field(gt=0, lt=1)
    label: str | None
    kind: Literal["a", "b"]
    color: Color
    when: datetime.datetime
    day: datetime.date
    id: uuid.UUID
    tree: Node
    scores: dict[str, float] = Field(min_length=2)
    pair: tuple[int, str]
    ids: set[int] = Field(min_length=3)
    code: str = Field(pattern=r"^[A-Z]{3}-\d{2,}$", max_length=8)
    name: str = Field(min_length=5, max_length=6)


@pytest.mark.parametrize("make", [Everything.model_json_schema, lambda: to_strict_json_schema(Everything)])
def test_pydantic_and_openai_strict_schemas(make: Any) -> None:
    value = check(make())
    Everything.model_validate(value)  # what `client.chat.completions.parse` does with the answer


def test_gemini_openapi_schema() -> None:
    """Gemini's responseSchema spelling: upper-case types, nullable, propertyOrdering."""
    schema = {"type": "OBJECT", "properties": {"n": {"type": "INTEGER", "minimum": 4}, "s": {"type": "STRING", "nullable": True},
                                               "e": {"type": "STRING", "format": "enum", "enum": ["x", "y"]}},
              "required": ["n", "s", "e"], "propertyOrdering": ["n", "s", "e"]}
    assert instance_for(schema) == {"n": 4, "s": "sample s", "e": "x"}


def test_recursion_ends() -> None:
    schema = {"$defs": {"T": {"type": "object", "properties": {"kids": {"type": "array", "items": {"$ref": "#/$defs/T"}}},
                              "required": ["kids"]}}, "$ref": "#/$defs/T"}
    check(schema)
