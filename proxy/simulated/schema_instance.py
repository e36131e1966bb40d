"""A JSON value built from a JSON Schema so that it validates against it: the simulated providers'
structured output and tool arguments.

It covers what pydantic, the OpenAI SDK's strict schemas and Gemini's OpenAPI subset emit: types
(also as lists, or Gemini's upper-case names), enum and const, objects with required, optional,
additional and min/max properties, arrays with items, prefixItems, min/max and unique items,
anyOf / oneOf / allOf, local `$ref`s into `$defs` (recursive ones too), string formats, lengths and
patterns, and numeric bounds with multipleOf. The answer is deterministic: the same schema gives
the same value, so a demo and a test see the same thing.
"""

from __future__ import annotations

import math
import re
from typing import Any

# Past this depth, recursion stops where the schema allows: no optional properties, arrays at their
# minimum length, the null or ref-free branch of a union. A schema that forces deeper nesting still
# gets a value; HARD_DEPTH only guards against one that can never end.
SOFT_DEPTH = 5
HARD_DEPTH = 64

FORMAT_SAMPLES = {
    "date-time": "2026-01-01T12:00:00Z",
    "date": "2026-01-01",
    "time": "12:00:00Z",
    "duration": "P1D",
    "email": "user@example.com",
    "idn-email": "user@example.com",
    "hostname": "example.com",
    "idn-hostname": "example.com",
    "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1",
    "uri": "https://example.com/",
    "iri": "https://example.com/",
    "uri-reference": "https://example.com/",
    "iri-reference": "https://example.com/",
    "uri-template": "https://example.com/{id}",
    "uuid": "123e4567-e89b-42d3-a456-426614174000",
    "json-pointer": "/sample",
    "relative-json-pointer": "0",
    "regex": "^sample$",
    "byte": "c2FtcGxl",
    "binary": "sample",
    "password": "sample-password",
}
# formats whose samples take a variant number (distinct values for uniqueItems)
FORMAT_VARIANTS = {
    "date-time": lambda v: f"2026-01-{1 + v % 28:02d}T12:00:00Z",
    "date": lambda v: f"2026-01-{1 + v % 28:02d}",
    "time": lambda v: f"12:00:{v % 60:02d}Z",
    "ipv4": lambda v: f"192.0.2.{1 + v % 254}",
    "ipv6": lambda v: f"2001:db8::{v:x}",
    "duration": lambda v: f"P{1 + v}D",
    "uuid": lambda v: f"123e4567-e89b-42d3-a456-{v:012d}",
    "email": lambda v: f"user{v}@example.com",
    "idn-email": lambda v: f"user{v}@example.com",
    "hostname": lambda v: f"example{v}.com",
    "uri": lambda v: f"https://example.com/{v}",
    "iri": lambda v: f"https://example.com/{v}",
}
TYPE_ORDER = ("object", "array", "string", "integer", "number", "boolean", "null")


def instance_for(schema: Any, name: str = "value") -> Any:
    """A value valid against `schema`; `name` seeds string samples (`"sample city"` for `city`)."""
    return InstanceBuilder(schema).build(schema, name, 0, 0)


class InstanceBuilder:
    """Walks one schema; `root` is where local `$ref`s point into."""

    def __init__(self, root: Any) -> None:
        self.root = root

    def build(self, schema: Any, name: str, depth: int, variant: int) -> Any:
        """`variant` picks a different value of the same schema (for uniqueItems)."""
        if depth > HARD_DEPTH:
            return None
        if schema is True or schema is None:
            return f"sample {name}"
        if not isinstance(schema, dict):
            return None
        schema = self.flatten(schema, depth)
        if "const" in schema:
            return schema["const"]
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            return schema["enum"][variant % len(schema["enum"])]
        for key in ("anyOf", "oneOf"):
            branches = schema.get(key)
            if isinstance(branches, list) and branches:
                rest = {k: v for k, v in schema.items() if k != key}
                return self.build({**rest, **self.pick_branch(branches, depth)}, name, depth, variant)
        kind = self.pick_type(schema, depth)
        if kind == "object":
            return self.build_object(schema, depth, variant)
        if kind == "array":
            return self.build_array(schema, name, depth, variant)
        if kind == "integer":
            return build_number(schema, True, variant)
        if kind == "number":
            return build_number(schema, False, variant)
        if kind == "boolean":
            return variant % 2 == 0
        if kind == "null":
            return None
        return build_string(schema, name, variant)

    # -- composition ----------------------------------------------------------------------------
    def resolve(self, ref: str) -> Any:
        """A local JSON pointer (`#/$defs/Node`); anything else is taken as an empty schema."""
        if not ref.startswith("#"):
            return {}
        node = self.root
        for part in ref[1:].split("/")[1:]:
            part = part.replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                return {}
        return node

    def flatten(self, schema: dict[str, Any], depth: int) -> dict[str, Any]:
        """`$ref` and `allOf` merged into one schema (siblings of a `$ref` kept, as 2020-12 does)."""
        seen = 0
        while isinstance(schema.get("$ref"), str) and seen < HARD_DEPTH:
            target = self.resolve(schema["$ref"])
            rest = {k: v for k, v in schema.items() if k != "$ref"}
            schema = {**target, **rest} if isinstance(target, dict) else rest
            seen += 1
        parts = schema.get("allOf")
        if isinstance(parts, list) and parts:
            merged = {k: v for k, v in schema.items() if k != "allOf"}
            for part in parts:
                if isinstance(part, dict):
                    merged = merge_schemas(merged, self.flatten(part, depth))
            schema = merged
        return schema

    def pick_branch(self, branches: list[Any], depth: int) -> dict[str, Any]:
        """The first non-null branch; when deep, one that ends the recursion (null, or no `$ref`)."""
        usable = [b for b in branches if isinstance(b, dict)]
        if not usable:
            return {}
        if depth >= SOFT_DEPTH:
            ending = [b for b in usable if b.get("type") == "null"] or [b for b in usable if "$ref" not in b]
            if ending:
                return ending[0]
        return next((b for b in usable if b.get("type") != "null"), usable[0])

    def pick_type(self, schema: dict[str, Any], depth: int) -> str:
        declared = schema.get("type")
        kinds = [str(k).lower() for k in declared] if isinstance(declared, list) else [str(declared).lower()] if declared else []
        if schema.get("nullable") is True and depth >= SOFT_DEPTH:  # Gemini's OpenAPI spelling
            return "null"
        if kinds:
            if depth >= SOFT_DEPTH and "null" in kinds:
                return "null"
            return min(kinds, key=lambda k: (k == "null", TYPE_ORDER.index(k) if k in TYPE_ORDER else len(TYPE_ORDER)))
        if "properties" in schema or "required" in schema or "additionalProperties" in schema:
            return "object"
        if "items" in schema or "prefixItems" in schema:
            return "array"
        if any(k in schema for k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")):
            return "number"
        return "string"

    # -- containers ------------------------------------------------------------------------------
    def build_object(self, schema: dict[str, Any], depth: int, variant: int) -> dict[str, Any]:
        found = schema.get("properties")
        props: dict[str, Any] = found if isinstance(found, dict) else {}
        required = [str(r) for r in schema.get("required") or [] if isinstance(r, str)]
        names = list(dict.fromkeys(required))
        if not names and props and depth < SOFT_DEPTH:
            names = list(props)[:1]  # an answer with something in it
        low = int(schema.get("minProperties") or 0)
        optional = [p for p in props if p not in names]
        while len(names) < low and optional:
            names.append(optional.pop(0))
        extra = schema.get("additionalProperties", True)
        out: dict[str, Any] = {}
        for i, prop in enumerate(names):
            sub = props.get(prop, extra if isinstance(extra, dict) else True)
            out[prop] = self.build(sub, prop, depth + 1, variant if i == 0 else 0)
        k = 0
        while len(out) < low and extra is not False:
            key = f"key_{k}"
            k += 1
            if key not in out:
                out[key] = self.build(extra if isinstance(extra, dict) else True, key, depth + 1, 0)
        if isinstance(schema.get("maxProperties"), int) and len(out) > schema["maxProperties"]:
            out = dict(list(out.items())[: max(schema["maxProperties"], len(required))])
        return out

    def build_array(self, schema: dict[str, Any], name: str, depth: int, variant: int) -> list[Any]:
        found = schema.get("prefixItems")
        prefix: list[Any] = found if isinstance(found, list) else []
        items = schema.get("items", True)
        if isinstance(items, list):  # draft 4-2019 tuple form
            prefix, items = items, schema.get("additionalItems", True)
        low = int(schema.get("minItems") or 0)
        high = schema.get("maxItems") if isinstance(schema.get("maxItems"), int) else None
        count = max(low, len(prefix) if depth < SOFT_DEPTH else min(len(prefix), low), 1 if depth < SOFT_DEPTH else 0)
        if items is False:
            count = min(count, len(prefix))
        if high is not None:
            count = min(count, high)
        unique = schema.get("uniqueItems") is True
        out: list[Any] = []
        for i in range(count):
            sub = prefix[i] if i < len(prefix) else items
            out.append(self.build(sub, name, depth + 1, (variant + i) if unique else variant))
        return out


def merge_schemas(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """allOf's conjunction, as far as building a value needs: properties and required combine."""
    out = {**a, **b}
    if isinstance(a.get("properties"), dict) and isinstance(b.get("properties"), dict):
        out["properties"] = {**a["properties"], **b["properties"]}
    if a.get("required") or b.get("required"):
        out["required"] = list(dict.fromkeys([*(a.get("required") or []), *(b.get("required") or [])]))
    for key, tighter in (("minimum", max), ("minLength", max), ("minItems", max), ("maximum", min), ("maxLength", min), ("maxItems", min)):
        if key in a and key in b:
            out[key] = tighter(a[key], b[key])
    return out


# -- scalars ------------------------------------------------------------------------------------


def bounds(schema: dict[str, Any], integer: bool) -> tuple[float, float]:
    """The inclusive range of allowed values (draft 4's boolean exclusives and 6+'s numbers)."""
    step = 1.0 if integer else 1e-6
    low, high = -math.inf, math.inf
    if isinstance(schema.get("minimum"), int | float):
        low = schema["minimum"]
        if schema.get("exclusiveMinimum") is True:
            low += step
    if isinstance(schema.get("maximum"), int | float):
        high = schema["maximum"]
        if schema.get("exclusiveMaximum") is True:
            high -= step
    ex_low, ex_high = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    if isinstance(ex_low, int | float) and not isinstance(ex_low, bool):
        low = max(low, ex_low + step)
    if isinstance(ex_high, int | float) and not isinstance(ex_high, bool):
        high = min(high, ex_high - step)
    if integer:
        low, high = math.ceil(low) if low > -math.inf else low, math.floor(high) if high < math.inf else high
    return low, high


def build_number(schema: dict[str, Any], integer: bool, variant: int) -> int | float:
    low, high = bounds(schema, integer)
    step = schema.get("multipleOf")
    if isinstance(step, int | float) and not isinstance(step, bool) and step > 0:
        # k * step for an integer k: 0 when it fits, else the first multiple inside the range
        k = 0 if low <= 0 <= high else math.ceil(low / step) if low > 0 else math.floor(high / step)
        k = k + variant if low <= (k + variant) * step <= high else k - variant
        value: float = k * step
        return int(value) if integer or float(step).is_integer() else value
    preferred = (1 if integer else 1.5) + variant
    if preferred > high:  # step down from the top (distinct values for distinct variants)
        value = max(high - variant, low)
    elif preferred < low:
        value = min(low + variant, high)
    else:
        value = preferred
    return int(value) if integer else float(value)


def build_string(schema: dict[str, Any], name: str, variant: int) -> str:
    low = int(schema.get("minLength") or 0)
    high = schema.get("maxLength") if isinstance(schema.get("maxLength"), int) else None
    pattern = schema.get("pattern")
    if isinstance(pattern, str):
        found = string_matching(pattern, low, high, variant)
        if found is not None:
            return found
    fmt = schema.get("format")
    suffix = str(variant) if variant else ""
    if isinstance(fmt, str) and variant and fmt in FORMAT_VARIANTS:
        text: str | None = FORMAT_VARIANTS[fmt](variant)
    else:
        text = FORMAT_SAMPLES.get(fmt) if isinstance(fmt, str) else None
    if text is None:
        text = f"sample {name}" + (f" {suffix}" if suffix else "")
    if len(text) < low:
        text += "x" * (low - len(text))
    if high is not None and len(text) > high:
        text = (text[: max(high - len(suffix), 0)] + suffix)[-high:] if high else ""
    return text


# -- strings for a pattern ----------------------------------------------------------------------


def string_matching(pattern: str, low: int, high: int | None, variant: int = 0) -> str | None:
    """The shortest string the regex matches, lengthened by repeating its repeats to reach `low`;
    `variant` shifts each character class and alternative along (for distinct values)."""
    try:
        import re._parser as sre_parse  # type: ignore[import-not-found]

        parsed = sre_parse.parse(pattern)
    except (re.error, ImportError, RecursionError, OverflowError):
        return None
    for shift in dict.fromkeys((variant, 0)):
        for extra in range(0, max(low, 1) + 1):
            try:
                text = "".join(render_regex(parsed, extra, shift))
            except (ValueError, IndexError, RecursionError):
                return None
            if len(text) >= low and (high is None or len(text) <= high) and safe_search(pattern, text):
                return text
    return None


def safe_search(pattern: str, text: str) -> bool:
    try:
        return re.search(pattern, text) is not None
    except re.error:
        return False


def render_regex(parsed: Any, extra: int, shift: int) -> list[str]:
    """Walk a parsed regex, taking the first alternative and `min + extra` of each open repeat."""
    import re._constants as c  # type: ignore[import-not-found]

    out: list[str] = []
    for op, arg in parsed:
        if op is c.LITERAL:
            out.append(chr(arg))
        elif op is c.NOT_LITERAL:
            out.append("a" if arg != ord("a") else "b")
        elif op is c.ANY:
            out.append("a")
        elif op is c.IN:
            out.append(char_in(arg, shift))
        elif op in (c.MAX_REPEAT, c.MIN_REPEAT, getattr(c, "POSSESSIVE_REPEAT", None)):
            lo, hi, sub = arg
            times = lo + extra if hi == c.MAXREPEAT else min(hi, lo + extra)
            for _ in range(times):
                out += render_regex(sub, extra, shift)
        elif op is c.SUBPATTERN:
            out += render_regex(arg[-1], extra, shift)
        elif op is c.ATOMIC_GROUP:
            out += render_regex(arg, extra, shift)
        elif op is c.BRANCH:
            out += render_regex(arg[1][shift % len(arg[1])], extra, shift)
        elif op is c.CATEGORY:
            out.append(char_of_category(arg, shift))
        elif op in (c.AT, c.ASSERT, c.ASSERT_NOT):
            continue
        else:  # back-references, conditionals: give up, the caller falls back
            raise ValueError(f"unsupported regex construct {op}")
    return out


def char_in(items: list[tuple[Any, Any]], shift: int) -> str:
    import re._constants as c

    if items and items[0][0] is c.NEGATE:
        excluded = {chr(v) for op, v in items[1:] if op is c.LITERAL}
        return next(ch for ch in "aZ0_ " if ch not in excluded)
    choices: list[str] = []
    for op, value in items:
        if op is c.LITERAL:
            choices.append(chr(value))
        elif op is c.RANGE:
            choices += [chr(value[0] + (shift % (value[1] - value[0] + 1)))]
        elif op is c.CATEGORY:
            choices.append(char_of_category(value, shift))
    if not choices:
        raise ValueError("empty character class")
    return choices[shift % len(choices)]


def char_of_category(category: Any, shift: int = 0) -> str:
    name = str(category)
    if "NOT_DIGIT" in name or "NOT_SPACE" in name:
        return "abcdefghijklmnopqrstuvwxyz"[shift % 26]
    if "DIGIT" in name:
        return str(shift % 10)
    if "NOT_WORD" in name:
        return "-"
    if "SPACE" in name:
        return " "
    return "abcdefghijklmnopqrstuvwxyz"[shift % 26]
