"""Field checks for inbound request translation: each returns the value when it has the right type
and raises a 400 in OpenAI's shape naming the field (`param`) when it has not."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from proxy.call import invalid
from proxy.errors import GatewayError

__all__ = ["expect_bool", "expect_dict", "expect_int", "expect_list", "expect_number", "expect_one_of", "expect_str", "invalid",
           "missing"]


def missing(param: str) -> GatewayError:
    return GatewayError(400, f"Missing required parameter: '{param}'.", param=param, code="missing_required_parameter")


def type_name(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "an array",
            dict: "an object", type(None): "null"}.get(type(value), type(value).__name__)


def expect_str(value: Any, param: str, *, required: bool = False) -> str:
    if value is None and required:
        raise missing(param)
    if not isinstance(value, str):
        raise invalid(param, f"expected a string, got {type_name(value)}.", code="invalid_type")
    return value


def expect_bool(value: Any, param: str) -> bool:
    if not isinstance(value, bool):  # strict: "true" and 1 are mistakes to report, not values to guess at
        raise invalid(param, f"expected a boolean, got {type_name(value)}.", code="invalid_type")
    return value


def expect_int(value: Any, param: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise invalid(param, f"expected an integer, got {type_name(value)}.", code="invalid_type")
    if minimum is not None and value < minimum:
        raise invalid(param, f"must be at least {minimum}, got {value}.")
    if maximum is not None and value > maximum:
        raise invalid(param, f"must be at most {maximum}, got {value}.")
    return value


def expect_number(value: Any, param: str, minimum: float, maximum: float) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise invalid(param, f"expected a number, got {type_name(value)}.", code="invalid_type")
    if not minimum <= value <= maximum:
        raise invalid(param, f"must be between {minimum:g} and {maximum:g}, got {value}.")
    return value


def expect_dict(value: Any, param: str) -> dict[str, Any]:
    if value is None:
        raise missing(param)
    if not isinstance(value, dict):
        raise invalid(param, f"expected an object, got {type_name(value)}.", code="invalid_type")
    return value


def expect_list(value: Any, param: str) -> list[Any]:
    if value is None:
        raise missing(param)
    if not isinstance(value, list):
        raise invalid(param, f"expected an array, got {type_name(value)}.", code="invalid_type")
    return value


def expect_one_of(value: Any, allowed: Sequence[str], param: str) -> str:
    if value is None:
        raise missing(param)
    if value not in allowed:
        options = ", ".join(repr(a) for a in allowed)
        raise invalid(param, f"expected one of {options}, got {value!r}.")
    return str(value)
