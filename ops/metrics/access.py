"""Who may read /metrics (README "Monitoring"): a client address inside METRICS_ALLOWED_NETWORKS, or
`Authorization: Bearer <METRICS_TOKEN>`, or `Authorization: Token <key>` of an active staff user. No
credentials → 401 (with WWW-Authenticate), credentials that do not qualify → 403.

No network is allowed by default: behind a reverse proxy on the same host every request arrives from
loopback, so trusting loopback would publish the metrics to the internet. The client address is the
socket's (REMOTE_ADDR); X-Forwarded-For is not trusted.
"""

from __future__ import annotations

import hmac
import ipaddress
from functools import cache

from django.conf import settings
from django.http import HttpRequest
from rest_framework.authtoken.models import Token

ALLOWED, UNAUTHENTICATED, FORBIDDEN = 200, 401, 403


@cache
def _networks(cidrs: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(cidr.strip(), strict=False) for cidr in cidrs if cidr.strip())


def address_allowed(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in _networks(tuple(settings.METRICS_ALLOWED_NETWORKS)))


def _token_allowed(scheme: str, credential: str) -> bool:
    if scheme == "bearer":
        expected = settings.METRICS_TOKEN
        return bool(expected) and hmac.compare_digest(credential.encode(), expected.encode())
    if scheme == "token":
        token = Token.objects.select_related("user").filter(key=credential).first()
        return token is not None and token.user.is_active and token.user.is_staff
    return False


def metrics_access(request: HttpRequest) -> int:
    """ALLOWED, UNAUTHENTICATED or FORBIDDEN for this request."""
    if address_allowed(request.META.get("REMOTE_ADDR", "")):
        return ALLOWED
    header = request.headers.get("Authorization", "").strip()
    if not header:
        return UNAUTHENTICATED
    scheme, _, credential = header.partition(" ")
    return ALLOWED if _token_allowed(scheme.lower(), credential.strip()) else FORBIDDEN
