"""A site agent's configuration text as the API shows it: every credential masked.

Agents upload their whole config file (waldur-site-agent's YAML: API tokens, backend passwords, STOMP
credentials). The API shows its shape and values except credentials: the value of any key that names a
token, secret, password, key or credential, and the password in a URL (scheme://user:password@host).
"""

from __future__ import annotations

import re

from offerings.types.spec import MASK

_CREDENTIAL_KEY = re.compile(
    r"""^(?P<lead>\s*(?:-\s+)?["']?(?P<key>[\w.-]*(?:token|secret|passw(?:or)?d|pwd|api[_-]?key|private[_-]?key|credential|auth)[\w.-]*)["']?\s*[:=]\s*)(?P<value>\S.*?)\s*$""",
    re.IGNORECASE,
)
_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^\s:/@]*:)[^\s@/]+(?=@)", re.IGNORECASE)


_BLOCK_SCALAR = re.compile(r"^[|>][+-]?\d*$")  # a YAML multi-line value follows on more indented lines
_EMPTY = ("null", "~", '""', "''")


def mask_config_text(text: str | None) -> str:
    """`text` with credential values replaced by MASK, line by line; everything else as uploaded."""
    if not text:
        return text or ""
    lines = []
    block_indent: int | None = None  # inside a credential's multi-line value: lines indented more than this
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        ending = line[len(body) :]
        indent = len(body) - len(body.lstrip())
        if block_indent is not None and (not body.strip() or indent > block_indent):
            lines.append((" " * indent + MASK if body.strip() else body) + ending)
            continue
        block_indent = None
        match = _CREDENTIAL_KEY.match(body)
        if match and _BLOCK_SCALAR.match(match["value"]):
            block_indent = indent
        elif match and match["value"] not in _EMPTY:
            body = f"{match['lead']}{MASK}"
        lines.append(_URL_PASSWORD.sub(rf"\g<head>{MASK}", body) + ending)
    return "".join(lines)
