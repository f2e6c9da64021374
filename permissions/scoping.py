"""Querysets visible to a user. What is not visible answers 404."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from permissions.constants import Permission as P
from permissions.policies import sees_everything
from permissions.roles import grants_of


def _scope_q(user, permission: str, kind: str, path: str) -> Q:
    """Rows whose `kind` object at `path` ("" = the row itself), or its organisation, grant `permission`."""
    grants = grants_of(user)
    own, customer = (f"{path}_id", f"{path}__customer_id") if path else ("id", "customer_id")
    return Q(**{f"{own}__in": grants.scope_ids(permission, kind)}) | Q(
        **{f"{customer}__in": grants.scope_ids(permission, "customer")}
    )


def consumer_q(user, permission: str, *, project: str = "project") -> Q:
    """Rows whose project, or the project's organisation, grants the user `permission`."""
    return _scope_q(user, permission, "project", project)


def provider_q(user, permission: str, *, offering: str = "offering") -> Q:
    """Rows whose offering, or the provider organisation, grants the user `permission`."""
    return _scope_q(user, permission, "offering", offering)


def filter_side(
    user, queryset: QuerySet, side: str, permission: str = P.ORDER_LIST, *, lookup: str | None = None
) -> QuerySet:
    """Restrict to rows the user reaches from one side ("consumer" or "provider"); staff/support: all.
    `lookup` is the path to the project (consumer) or offering (provider), by default "project"/"offering";
    "" when the rows are projects or offerings themselves."""
    if sees_everything(user):
        return queryset
    if user is None or not user.is_authenticated:
        return queryset.none()
    if side == "consumer":
        return queryset.filter(consumer_q(user, permission, project="project" if lookup is None else lookup))
    return queryset.filter(provider_q(user, permission, offering="offering" if lookup is None else lookup))


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
    """Organisations the user has any role in: directly, through a project, or as manager of one of
    their offerings; None = all."""
    if sees_everything(user):
        return None
    scopes = grants_of(user).roles_by_scope
    ids = {kind: {pk for (k, pk) in scopes if k == kind} for kind in ("customer", "project", "offering")}
    return Q(id__in=ids["customer"]) | Q(projects__id__in=ids["project"]) | Q(offerings__id__in=ids["offering"])


def projects_visible_q(user) -> Q | None:
    """Projects the user has a role in, or whose organisation the user has a role in; None = all."""
    if sees_everything(user):
        return None
    grants = grants_of(user)
    return Q(id__in={pk for (kind, pk) in grants.roles_by_scope if kind == "project"}) | Q(
        customer_id__in={pk for (kind, pk) in grants.roles_by_scope if kind == "customer"}
    )
