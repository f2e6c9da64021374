"""The settings that keep a production deployment safe, read from the environment (README "Production").

With DEBUG off and outside the embedded mode the server refuses to start on a SECRET_KEY that is missing,
a known placeholder or short, and on a missing ALLOWED_HOSTS. The embedded mode (`bin/serve`, the test
suite: MARKETPLACE_EMBEDDED=true) and DEBUG use a key generated once into an untracked file instead.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

MIN_SECRET_KEY_LENGTH = 50  # what `check --deploy` asks for (security.W009)
MIN_SECRET_KEY_CHARS = 5
PLACEHOLDER_KEYS = frozenset({"change-me", "changeme", "secret", "insecure-embedded-default-change-me"})
GENERATE_HINT = "python -c 'import secrets; print(secrets.token_urlsafe(50))'"


def secret_key_problem(key: str) -> str | None:
    """Why `key` is unfit for production (None: it is fit)."""
    if not key:
        return "SECRET_KEY is not set"
    if key.lower() in PLACEHOLDER_KEYS or key.startswith("django-insecure-"):
        return "SECRET_KEY is a known placeholder"
    if len(key) < MIN_SECRET_KEY_LENGTH or len(set(key)) < MIN_SECRET_KEY_CHARS:
        return f"SECRET_KEY is too short (at least {MIN_SECRET_KEY_LENGTH} characters, {MIN_SECRET_KEY_CHARS} distinct)"
    return None


def embedded_secret_key(key_file: Path) -> str:
    """The key of this checkout's embedded mode: generated on first use into `key_file` (mode 0600).

    When the file cannot be written (a read-only checkout) the key lives for this process only, and
    sessions do not survive a restart."""
    try:
        return key_file.read_text().strip() or _write_key(key_file)
    except FileNotFoundError:
        return _write_key(key_file)
    except OSError:
        return secrets.token_urlsafe(50)


def _write_key(key_file: Path) -> str:
    key = secrets.token_urlsafe(50)
    try:
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process of this checkout got there first: use its key
        return key_file.read_text().strip() or key
    except OSError:
        return key
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key


def secret_key(key: str, *, relaxed: bool, key_file: Path) -> str:
    """SECRET_KEY for these settings: the given one if fit; in relaxed modes a generated one when unset.

    Raises ImproperlyConfigured (the server does not start) for an unfit key in production."""
    if relaxed:
        return key or embedded_secret_key(key_file)
    problem = secret_key_problem(key)
    if problem:
        raise ImproperlyConfigured(
            f"{problem}; with DEBUG off the server refuses to start. Set SECRET_KEY to a long random value "
            f"(e.g. {GENERATE_HINT}), or run in the embedded mode (bin/serve) with MARKETPLACE_EMBEDDED=true."
        )
    return key


def allowed_hosts(hosts: list[str], *, relaxed: bool) -> list[str]:
    """ALLOWED_HOSTS: any host in relaxed modes when unset; required in production (no `*` default)."""
    if hosts:
        return hosts
    if relaxed:
        return ["*"]
    raise ImproperlyConfigured(
        "ALLOWED_HOSTS is not set; with DEBUG off the server refuses to start. Set it to the host names "
        "the server answers to, comma-separated (e.g. ALLOWED_HOSTS=marketplace.example.org)."
    )


def proxy_ssl_header(value: list[str]) -> tuple[str, str] | None:
    """SECURE_PROXY_SSL_HEADER from `HTTP_X_FORWARDED_PROTO,https` (empty: not behind a TLS proxy)."""
    if not value:
        return None
    if len(value) != 2 or not value[0].startswith("HTTP_"):
        raise ImproperlyConfigured(
            "SECURE_PROXY_SSL_HEADER must be a header and its value, e.g. HTTP_X_FORWARDED_PROTO,https "
            f"(got {','.join(value)!r})."
        )
    return value[0], value[1]
