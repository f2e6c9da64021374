"""Error groups: an order's error message with its variable parts (ids, numbers, addresses) replaced, so
that the failures of one outage group together in previews, the Failed orders page and the dashboard."""

from __future__ import annotations

import re

_PATTERNS = (
    (re.compile(r"https?://[^\s'\"<>]+"), "<url>"),
    (re.compile(r"\b[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}\b", re.I), "<uuid>"),
    (re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b"), "<address>"),
    (re.compile(r"\b0x[0-9a-f]+\b", re.I), "<hex>"),  # "object at 0x7f3a2b1c4d90" in urllib3's errors
    (re.compile(r"\b[0-9a-f]{16,}\b", re.I), "<hex>"),
    # numbers, with a unit of time or size stuck to them ("12.5s", "30ms"), also at a sentence's end ("12.")
    (re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?:ms|s|m|h|[kmg]?b)?(?!\w|\.\d)", re.I), "<n>"),
    (re.compile(r"\s+"), " "),
)
MAX_CHARS = 200
HTTP_STATUS = re.compile(r"\b(HTTP|answered) ([1-5]\d\d)\b")


def error_group(message: str) -> str:
    """The normalised form of an error message (HTTP status codes are kept: they tell outages apart)."""
    text = (message or "").strip().splitlines()[0] if (message or "").strip() else ""
    statuses = {m.start(2): m.group(2) for m in HTTP_STATUS.finditer(text)}
    text = HTTP_STATUS.sub(lambda m: f"{m.group(1)} _S{m.group(2)}_", text)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    text = re.sub(r"_S([1-5]\d\d)_", r"\1", text) if statuses else text
    return text.strip()[:MAX_CHARS] or "(no message)"
