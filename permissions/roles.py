"""A user's effective grants, loaded once per user object and answered from memory.

One query per user per request whatever the number of orders a policy is asked about (the user's active
roles joined to their roles' grants, compiled once per connection: core/statements.py), which keeps list
endpoints (with `available_transitions`) and every order action at a constant number of SQL queries.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import DateTimeField, IntegerField, Q
from django.utils import timezone

from core.statements import Param, Statement
from permissions.models import UserRole

Scope = tuple[str, int]  # (scope kind, primary key), e.g. ("project", 7)

_CACHE_ATTR = "_marketplace_grants"

_GRANTS = Statement(
    lambda: (
        UserRole.objects.filter(user_id=Param("user", IntegerField()), is_active=True)
        .filter(Q(expiration_time__isnull=True) | Q(expiration_time__gt=Param("now", DateTimeField())))
        # one row per (role held, grant of that role); a role without grants gives one row with None
        .values_list("role__name", "content_type__model", "object_id", "role__grants__permission")
    ),
    prepared=True,
)


@dataclass
class Grants:
    by_scope: dict[Scope, set[str]] = field(default_factory=dict)
    roles_by_scope: dict[Scope, set[str]] = field(default_factory=dict)

    def has(self, permission: str, scopes: list[Scope]) -> bool:
        return any(permission in self.by_scope.get(scope, ()) for scope in scopes)

    def has_role(self, role: str, scopes: list[Scope]) -> bool:
        return any(role in self.roles_by_scope.get(scope, ()) for scope in scopes)

    def scope_ids(self, permission: str, kind: str) -> set[int]:
        return {pk for (k, pk), perms in self.by_scope.items() if k == kind and permission in perms}


def grants_of(user) -> Grants:
    """The user's grants (active, unexpired roles), cached on the user object."""
    cached = getattr(user, _CACHE_ATTR, None)
    if cached is not None:
        return cached
    grants = Grants()
    if user is not None and user.is_authenticated:
        for role_name, kind, object_id, permission in _GRANTS.rows(user=user.pk, now=timezone.now()):
            scope = (kind, object_id)
            permissions = grants.by_scope.setdefault(scope, set())
            if permission is not None:
                permissions.add(permission)
            grants.roles_by_scope.setdefault(scope, set()).add(role_name)
    if user is not None:
        setattr(user, _CACHE_ATTR, grants)
    return grants


def forget_grants(user) -> None:
    """Drop the cached grants (after roles of this user object changed)."""
    if hasattr(user, _CACHE_ATTR):
        delattr(user, _CACHE_ATTR)
