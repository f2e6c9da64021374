"""A user's effective grants, loaded once per user object and answered from memory.

Two queries per user per request whatever the number of orders a policy is asked about, which keeps
list endpoints (with `available_transitions`) at a constant number of SQL queries.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Q
from django.utils import timezone

from permissions.models import RolePermission, UserRole

Scope = tuple[str, int]  # (scope kind, primary key), e.g. ("project", 7)

_CACHE_ATTR = "_marketplace_grants"


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
        role_grants: dict[int, set[str]] = defaultdict(set)
        for role_id, permission in RolePermission.objects.values_list("role_id", "permission"):
            role_grants[role_id].add(permission)
        now = timezone.now()
        rows = (
            UserRole.objects.filter(user=user, is_active=True)
            .filter(Q(expiration_time__isnull=True) | Q(expiration_time__gt=now))
            .values_list("role_id", "role__name", "content_type__model", "object_id")
        )
        for role_id, role_name, kind, object_id in rows:
            scope = (kind, object_id)
            grants.by_scope.setdefault(scope, set()).update(role_grants[role_id])
            grants.roles_by_scope.setdefault(scope, set()).add(role_name)
    if user is not None:
        setattr(user, _CACHE_ATTR, grants)
    return grants


def forget_grants(user) -> None:
    """Drop the cached grants (after roles of this user object changed)."""
    if hasattr(user, _CACHE_ATTR):
        delattr(user, _CACHE_ATTR)
