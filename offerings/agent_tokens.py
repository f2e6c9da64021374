"""Rotating a site agent's API token: the agent authenticates as a user (who registered its identity), so
its token is that user's DRF token. A new token replaces the old at once (the agent needs the new key in its
config) and starts a new lifetime under TOKEN_TTL_HOURS."""

from __future__ import annotations

from django.db import transaction
from rest_framework.authtoken.models import Token

from offerings.agent_models import AgentIdentity


class AgentHasNoUser(Exception):
    """The identity has no user to rotate a token for (registered by a user since deleted)."""


@transaction.atomic
def agent_token_rotate(*, identity: AgentIdentity) -> Token:
    """Replace the token of the user the agent authenticates as; returns the new token."""
    user = identity.created_by
    if user is None:
        raise AgentHasNoUser(f"Site agent {identity.name!r} has no user whose token could be rotated.")
    Token.objects.filter(user=user).delete()
    return Token.objects.create(user=user)
