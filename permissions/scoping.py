"""Querysets visible to a user. What is not visible answers 404."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from permissions.constants import Permission as P
from permissions.policies import sees_everything
from permissions.roles import grants_of


def consumer_q(user, permission: str, *, project: str = "project") -> Q:
    """Rows whose project, or the project's organisation, grants the user `permission`."""
    grants = grants_of(user)
    return Q(**{f"{project}_id__in": grants.scope_ids(permission, "project")}) | Q(
        **{f"{project}__customer_id__in": grants.scope_ids(permission, "customer")}
    )


def provider_q(user, permission: str, *, offering: str = "offering") -> Q:
    """Rows whose offering, or the provider organisation, grants the user `permission`."""
    grants = grants_of(user)
    return Q(**{f"{offering}_id__in": grants.scope_ids(permission, "offering")}) | Q(
        **{f"{offering}__customer_id__in": grants.scope_ids(permission, "customer")}
    )


def filter_side(user, queryset: QuerySet, side: str, permission: str = P.ORDER_LIST) -> QuerySet:
    """Restrict to rows the user reaches from one side ("consumer" or "provider"); staff/support: all."""
    if sees_everything(user):
        return queryset
    if user is None or not user.is_authenticated:
        return queryset.none()
    return queryset.filter(consumer_q(user, permission) if side == "consumer" else provider_q(user, permission))


def filter_visible(user, queryset: QuerySet, *, project: str = "project", offering: str = "offering") -> QuerySet:
    """Orders or resources the user may see: everything for staff/support, else ORDER.LIST on either side."""
    if sees_everything(user):
        return queryset
    if user is None or not user.is_authenticated:
        return queryset.none()
    return queryset.filter(
        consumer_q(user, P.ORDER_LIST, project=project) | provider_q(user, P.ORDER_LIST, offering=offering)
    )


def visible_customers_q(user) -> Q | None:
    """Customers the user has any role in (directly, or through a project/offering); None = all."""
    if sees_everything(user):
        return None
    grants = grants_of(user)
    return Q(id__in={pk for (kind, pk) in grants.roles_by_scope if kind == "customer"}) | Q(
        projects__id__in={pk for (kind, pk) in grants.roles_by_scope if kind == "project"}
    )


def projects_visible_q(user) -> Q | None:
    """Projects the user has a role in, or whose organisation the user has a role in; None = all."""
    if sees_everything(user):
        return None
    grants = grants_of(user)
    return Q(id__in={pk for (kind, pk) in grants.roles_by_scope if kind == "project"}) | Q(
        customer_id__in={pk for (kind, pk) in grants.roles_by_scope if kind == "customer"}
    )
