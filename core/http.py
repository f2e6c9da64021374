"""The one outbound HTTP client: webhooks to providers and callbacks to consumers go through here.

Every request has connect and read timeouts and an overall deadline, reads at most `max_bytes` of the
answer, never follows redirects and only speaks http/https. Unless
MARKETPLACE["OUTBOUND_ALLOW_PRIVATE_TARGETS"] is on, it refuses loopback, private, link-local, multicast,
reserved and unspecified addresses. The check happens where the socket is opened: the host name is
resolved once, every address is checked, and the connection goes to a checked address, so a DNS answer
that changes between check and connect (rebinding) cannot slip through. The URL's host name still goes
into the Host header and, for https, into SNI and certificate verification.

Non-2xx answers are returned, not raised; callers classify them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import socket
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

import urllib3
from django.conf import settings
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import HTTPError as Urllib3Error

SIGNATURE_HEADER = "X-Marketplace-Signature"
DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024
_CHUNK = 64 * 1024
_LOCAL_NAMES = ("localhost", "localhost.localdomain")


class OutboundError(Exception):
    """An outbound request did not produce an answer we can use."""


class OutboundRefused(OutboundError):
    """The URL is not an allowed target (scheme, or an internal address): permanent, do not retry."""


class OutboundUnavailable(OutboundError):
    """DNS failure, refused connection, timeout or reset: worth trying again later."""


class OutboundTooLarge(OutboundError):
    """The answer was larger than the cap; the rest was not read."""


@dataclass(frozen=True)
class OutboundResponse:
    status: int
    body: bytes
    elapsed_ms: int
    headers: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> Any | None:
        """The body parsed as JSON, or None when it is empty or not JSON."""
        if not self.body.strip():
            return None
        try:
            return json.loads(self.body)
        except ValueError:
            return None


def sign(secret: str, body: bytes) -> str:
    """`sha256=<hex HMAC-SHA256 of the body>`, as sent in the signature header of webhooks and callbacks."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def private_targets_allowed() -> bool:
    return bool(settings.MARKETPLACE.get("OUTBOUND_ALLOW_PRIVATE_TARGETS", settings.DEBUG))


def max_response_bytes() -> int:
    return int(settings.MARKETPLACE.get("OUTBOUND_MAX_RESPONSE_BYTES", DEFAULT_MAX_RESPONSE_BYTES))


# --- allowed targets ---------------------------------------------------------------------------------


def _address_problem(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """Why an address is internal ('' if it is a public one)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return _address_problem(address.ipv4_mapped)
    for attribute, label in (
        ("is_unspecified", "an unspecified"),
        ("is_loopback", "a loopback"),
        ("is_link_local", "a link-local"),
        ("is_multicast", "a multicast"),
        ("is_private", "a private"),
        ("is_reserved", "a reserved"),
    ):
        if getattr(address, attribute):
            return f"{address} is {label} address"
    if not address.is_global:
        return f"{address} is not a public address"
    return ""


def _split(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an http(s) URL, or OutboundRefused."""
    try:
        parts = urlsplit(str(url).strip())
        port = parts.port
    except ValueError as exc:
        raise OutboundRefused(f"{url!r} is not a valid URL ({exc})") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise OutboundRefused(f"only http and https URLs are allowed, not {scheme or 'a URL without a scheme'}")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise OutboundRefused("the URL has no host")
    return scheme, host, port or (443 if scheme == "https" else 80)


def _literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None


def _check_host(host: str) -> None:
    """Refuse a host that is internal by its name or literal address alone (no DNS)."""
    if host.lower() in _LOCAL_NAMES or host.lower().endswith(".localhost"):
        raise OutboundRefused(f"{host} is a loopback host name")
    address = _literal(host)
    if address is not None and (problem := _address_problem(address)):
        raise OutboundRefused(problem)


def _resolve(host: str, port: int) -> list[tuple]:
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise OutboundUnavailable(f"cannot resolve {host}: {exc}") from exc
    if not found:
        raise OutboundUnavailable(f"cannot resolve {host}: no addresses")
    return found


def _check_addresses(host: str, found: list[tuple]) -> None:
    for *_, sockaddr in found:
        problem = _address_problem(ipaddress.ip_address(sockaddr[0].split("%", 1)[0]))
        if problem:
            shown = problem if _literal(host) else f"{host} resolves to {problem.replace(' is ', ', ', 1)}"
            raise OutboundRefused(shown)


def check_target(url: str, *, resolve: bool = True, allow_private: bool | None = None) -> None:
    """Raise OutboundRefused (with a human message) unless `url` is an http(s) URL we may call.

    With `resolve=False` only the scheme, the host name and a literal address are checked (request time,
    no DNS); the address actually connected to is checked again when the request is made.
    A name that does not resolve raises OutboundUnavailable.
    """
    _, host, port = _split(url)
    if private_targets_allowed() if allow_private is None else allow_private:
        return
    _check_host(host)
    if resolve:
        _check_addresses(host, _resolve(host, port))


# --- connections that connect only to checked addresses ----------------------------------------------


class _GuardedConnectionMixin:
    """Resolve, check every address, connect to a checked one (see the module docstring)."""

    allow_private: bool = False

    def _new_conn(self) -> socket.socket:
        host = self._dns_host  # type: ignore[attr-defined]
        found = _resolve(host, self.port)  # type: ignore[attr-defined]
        if not self.allow_private:
            _check_host(host)
            _check_addresses(host, found)
        error: OSError | None = None
        for family, socktype, proto, _, sockaddr in found:
            sock = socket.socket(family, socktype, proto)
            try:
                sock.settimeout(self.timeout)  # type: ignore[attr-defined]
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sock.connect(sockaddr)
                return sock
            except OSError as exc:
                sock.close()
                error = exc
        if isinstance(error, TimeoutError):
            raise OutboundUnavailable(f"connecting to {host}:{self.port} timed out")  # type: ignore[attr-defined]
        raise OutboundUnavailable(f"cannot connect to {host}:{self.port}: {error}")  # type: ignore[attr-defined]


class _GuardedHTTPConnection(_GuardedConnectionMixin, HTTPConnection):
    pass


class _GuardedHTTPSConnection(_GuardedConnectionMixin, HTTPSConnection):
    pass


def _pool(scheme: str, host: str, port: int, timeout: float, allow_private: bool) -> urllib3.HTTPConnectionPool:
    guarded = _GuardedHTTPSConnection if scheme == "https" else _GuardedHTTPConnection
    connection_class = type(guarded.__name__, (guarded,), {"allow_private": allow_private})
    pool_class = urllib3.HTTPSConnectionPool if scheme == "https" else urllib3.HTTPConnectionPool
    pool = pool_class(host, port, timeout=urllib3.Timeout(connect=timeout, read=timeout), retries=False, maxsize=1)
    pool.ConnectionCls = connection_class
    return pool


def _read_capped(response: urllib3.BaseHTTPResponse, limit: int, deadline: float, url: str) -> bytes:
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        raise OutboundTooLarge(f"the answer from {url} is {declared} bytes, more than the {limit} allowed")
    body = bytearray()
    while chunk := response.read1(_CHUNK, decode_content=True):
        body += chunk
        if len(body) > limit:
            raise OutboundTooLarge(f"the answer from {url} is larger than the {limit} bytes allowed")
        if time.monotonic() > deadline:
            raise OutboundUnavailable(f"reading the answer from {url} took too long")
    return bytes(body)


def request(
    method: str,
    url: str,
    *,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float,
    max_bytes: int | None = None,
) -> OutboundResponse:
    """Send one request and return the answer whatever its status; see the module docstring."""
    scheme, host, port = _split(url)
    allow_private = private_targets_allowed()
    if not allow_private:
        _check_host(host)
    parts = urlsplit(url.strip())
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    sent = {"User-Agent": "marketplace-orders", **(headers or {})}
    if parts.username is not None:
        credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        sent.setdefault("Authorization", "Basic " + base64.b64encode(credentials).decode())
    limit = max_response_bytes() if max_bytes is None else max_bytes
    started = time.monotonic()
    deadline = started + 2 * timeout  # connect + read, whatever the server's pace
    pool = _pool(scheme, host, port, timeout, allow_private)
    try:
        response = pool.urlopen(
            method, target, body=body, headers=sent, redirect=False, retries=False,
            preload_content=False, assert_same_host=False,
        )  # fmt: skip
        try:
            content = _read_capped(response, limit, deadline, url)
        finally:
            response.release_conn()
    except Urllib3Error as exc:
        raise OutboundUnavailable(f"{host}:{port} did not answer: {_reason(exc)}") from exc
    except OSError as exc:
        raise OutboundUnavailable(f"{host}:{port} did not answer: {exc}") from exc
    finally:
        pool.close()
    elapsed_ms = int((time.monotonic() - started) * 1000)
    return OutboundResponse(status=response.status, body=content, elapsed_ms=elapsed_ms, headers=dict(response.headers))


def _reason(exc: Exception) -> str:
    reason = getattr(exc, "reason", None)
    if isinstance(reason, OutboundError):
        return str(reason)
    text = str(exc)
    if "timed out" in text.lower() or isinstance(exc, urllib3.exceptions.TimeoutError):
        return "timed out"
    return text


def post_json(
    url: str,
    body: bytes,
    *,
    headers: dict[str, str] | None = None,
    timeout: float,
    max_bytes: int | None = None,
) -> OutboundResponse:
    """POST a JSON body (already serialised, so a signature over it stays valid)."""
    sent = {"Content-Type": "application/json", "Accept": "application/json", **(headers or {})}
    return request("POST", url, body=body, headers=sent, timeout=timeout, max_bytes=max_bytes)


def get(
    url: str,
    *,
    headers: dict[str, str] | None = None,
    timeout: float,
    max_bytes: int | None = None,
) -> OutboundResponse:
    """GET a URL (e.g. a backend's health probe)."""
    return request("GET", url, headers=headers, timeout=timeout, max_bytes=max_bytes)
