"""Token authentication with an optional lifetime (TOKEN_TTL_HOURS; unset or 0: tokens never expire).

A token older than the lifetime is refused with a 401 like an unknown one, and says why. Staff issue a
new one with `manage.py drf_create_token -r USERNAME`, or for a site agent from the admin (Site agent
identities › Rotate the API token); a new token starts a new lifetime.
"""

from __future__ import annotations

import datetime

from django.conf import settings
from django.utils import timezone
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed


def token_ttl() -> datetime.timedelta | None:
    hours = getattr(settings, "TOKEN_TTL_HOURS", None)
    return datetime.timedelta(hours=hours) if hours else None


def token_expired(token, *, now: datetime.datetime | None = None) -> bool:
    ttl = token_ttl()
    return ttl is not None and token.created + ttl <= (now or timezone.now())


class ExpiringTokenAuthentication(TokenAuthentication):
    def authenticate_credentials(self, key):
        user, token = super().authenticate_credentials(key)
        if token_expired(token):
            raise AuthenticationFailed("Token has expired.", code="token_expired")
        return user, token
