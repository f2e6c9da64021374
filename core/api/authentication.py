"""Token authentication with an optional lifetime (TOKEN_TTL_HOURS; unset or 0: tokens never expire).

A token older than the lifetime is refused with a 401 like an unknown one, and says why. Staff issue a
new one with `manage.py drf_create_token -r USERNAME`, or for a site agent from the admin (Site agent
identities › Rotate the API token); a new token starts a new lifetime.

One read per request and no write: the token, its user and the user's marketplace profile (the support
flag the policies read) come in one statement, compiled once per connection (core/statements.py), and
neither the token nor the user row is updated, so concurrent requests on one token never wait for each
other's row lock.
"""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db.models import CharField
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

from core.statements import Param, Statement

# Loaded with the user in the token's statement; the policies read the support flag on every request.
# (A user without a profile is cached as such: reading it then raises, as it would, without a query.)
USER_RELATIONS = ("user__marketplace_profile",)


def token_ttl() -> datetime.timedelta | None:
    hours = getattr(settings, "TOKEN_TTL_HOURS", None)
    return datetime.timedelta(hours=hours) if hours else None


def token_expired(token, *, now: datetime.datetime | None = None) -> bool:
    ttl = token_ttl()
    return ttl is not None and token.created + ttl <= (now or timezone.now())


def _token_with_user():
    from rest_framework.authtoken.models import Token  # models load after the app registry

    return Token.objects.select_related("user", *USER_RELATIONS).filter(key=Param("key", CharField()))


_TOKEN = Statement(_token_with_user, prepared=True)


class ExpiringTokenAuthentication(TokenAuthentication):
    def authenticate_credentials(self, key):
        token = _TOKEN.first(key=key)
        if token is None:
            raise AuthenticationFailed(_("Invalid token."))
        if not token.user.is_active:
            raise AuthenticationFailed(_("User inactive or deleted."))
        if token_expired(token):
            raise AuthenticationFailed("Token has expired.", code="token_expired")
        return token.user, token
