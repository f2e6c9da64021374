"""Limits on free-form JSON values (order attributes, limits, request bodies) that the database can store.

PostgreSQL refuses NUL characters and lone UTF-16 surrogates in text and jsonb, and JSON has no NaN or
Infinity; a value carrying any of them is refused here with a message instead of failing in the database.
Depth, serialized size and the number of keys are capped by settings (API_LIMITS) so that one order
cannot carry an arbitrarily large or deep document.
"""

from __future__ import annotations

import json
import math
from typing import Any

from django.conf import settings

DEFAULTS = {
    "JSON_MAX_DEPTH": 32,  # nesting of objects/arrays in any JSON request body
    "ATTRIBUTES_MAX_BYTES": 64 * 1024,  # an order's attributes, serialized as JSON
    "ATTRIBUTES_MAX_KEYS": 1000,  # object keys in an order's attributes, at every level
}


def limit(name: str) -> int:
    """The configured API limit `name` (settings.API_LIMITS, falling back to DEFAULTS)."""
    return int(getattr(settings, "API_LIMITS", {}).get(name, DEFAULTS[name]))


def text_problem(text: str) -> str | None:
    """Why a string cannot be stored as text (NUL, lone surrogate), or None."""
    if "\x00" in text:
        return "Null characters are not allowed."
    if any("\ud800" <= ch <= "\udfff" for ch in text):
        return "Surrogate characters are not allowed."
    return None


def depth_of(value: Any) -> int:
    """How deeply objects and arrays nest in `value` (a scalar is 0, {} and [] are 1); iterative."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict):
            children = node.values()
        elif isinstance(node, list | tuple):
            children = node
        else:
            continue
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in children)
    return deepest


def json_value_problem(value: Any, *, max_keys: int | None = None, max_bytes: int | None = None) -> str | None:
    """The first reason `value` cannot be stored as a jsonb document within the limits, or None."""
    if depth_of(value) > limit("JSON_MAX_DEPTH"):
        return f"Nested deeper than {limit('JSON_MAX_DEPTH')} levels."
    keys, stack = 0, [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            keys += len(node)
            for key, child in node.items():
                if not isinstance(key, str):
                    return "Keys must be strings."
                if (problem := text_problem(key)) is not None:
                    return f"Key {key!r}: {problem}"
                stack.append(child)
        elif isinstance(node, list | tuple):
            stack.extend(node)
        elif isinstance(node, str):
            if (problem := text_problem(node)) is not None:
                return problem
        elif isinstance(node, float) and not math.isfinite(node):
            return "Numbers must be finite."
        elif node is not None and not isinstance(node, bool | int | float):
            return "Only JSON values are allowed."
    if max_keys is not None and keys > max_keys:
        return f"At most {max_keys} keys are allowed (at all levels together)."
    if max_bytes is not None:
        size = len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())
        if size > max_bytes:
            return f"At most {max_bytes} bytes of JSON are allowed; this is {size}."
    return None


def attributes_problem(value: Any) -> str | None:
    """Why `value` cannot be an order's attributes (see the module docstring), or None."""
    if not isinstance(value, dict):
        return "Must be a JSON object."
    return json_value_problem(value, max_keys=limit("ATTRIBUTES_MAX_KEYS"), max_bytes=limit("ATTRIBUTES_MAX_BYTES"))
