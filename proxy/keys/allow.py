"""A key's model allow-list: catalogue slugs with `*` wildcards, matched after alias resolution.

`anthropic/*` allows every Anthropic model; a `model:provider` pin is allowed when its model is; an
empty list allows everything. `auto` routes only among the allowed models of its pool.
"""

from __future__ import annotations

from collections.abc import Iterable
from fnmatch import fnmatchcase

from proxy.errors import GatewayError


def model_allowed(patterns: Iterable[str], slug: str) -> bool:
    """`slug` is the catalogue slug the request resolved to (never an alias or a short name)."""
    patterns = tuple(patterns)
    return not patterns or any(fnmatchcase(slug, p) for p in patterns)


def check_model(patterns: tuple[str, ...], slug: str, key_name: str) -> None:
    if not model_allowed(patterns, slug):
        raise GatewayError(
            403, f"The key '{key_name}' may not use the model '{slug}'. Its models: {', '.join(patterns)}.",
            param="model", code="model_not_allowed")


def allowed_pool(patterns: tuple[str, ...], pool: Iterable[str], key_name: str) -> list[str]:
    """`auto`'s candidate models narrowed to the key's allow-list; a 400 when none is left."""
    pool = list(pool)
    kept = [slug for slug in pool if model_allowed(patterns, slug)]
    if not kept:
        raise GatewayError(
            400, f"model 'auto': none of its candidate models is allowed for the key '{key_name}' "
                 f"(its models: {', '.join(patterns)}). Name a model the key may use, or widen its allow-list.",
            param="model", code="no_allowed_model")
    return kept


def valid_pattern(pattern: str) -> bool:
    """A slug (`vendor/model`) or a pattern over slugs; a provider pin has no place in an allow-list."""
    return bool(pattern) and ":" not in pattern and len(pattern) <= 200 and pattern.strip() == pattern
