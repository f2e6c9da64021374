"""Querysets visible to a user. What is not visible answers 404.

Rows of orders and resources are reached through their project (consumer side) or offering (provider side).
The predicates test the row's own foreign-key columns, e.g. `project_id IN (<projects granted>) OR project_id
= ANY(ARRAY(<projects of the organisations granted>))`, never a column of a joined table: an OR over columns of
two joined tables matches no index and makes every count a join of the whole table. The organisations'
projects and offerings are a subquery of the same statement (core/db.py AnyOf), not a query of their own.
"""

from __future__ import annotations

from django.db.models import IntegerField, Model, Q, QuerySet

from core.db import AnyOf
from core.statements import InParam
from permissions.constants import Permission as P
from permissions.models import Project
from permissions.policies import sees_everything
from permissions.roles import grants_of


def _related_model(model: type[Model], path: str) -> type[Model]:
    """The model reached from `model` by the `__`-separated foreign-key path."""
    for name in path.split("__"):
        model = model._meta.get_field(name).related_model
    return model


def _scope_q(user, permission: str, kind: str, path: str, target: type[Model] | None) -> Q:
    """Rows whose `kind` object at `path` ("" = the row itself), or its organisation, grant `permission`.
    `target` is the model of that object; without it the organisation is tested through a join."""
    grants = grants_of(user)
    own_ids, customer_ids = grants.scope_ids(permission, kind), grants.scope_ids(permission, "customer")
    if not path:
        return Q(id__in=own_ids) | Q(customer_id__in=customer_ids)
    if target is None:
        return Q(**{f"{path}__id__in": own_ids}) | Q(**{f"{path}__customer_id__in": customer_ids})
    condition = Q(**{f"{path}__id__in": own_ids})  # on a forward key: the row's own column, no join
    if customer_ids:  # the organisations' objects in the same statement, by the indexed customer column
        objects = target._base_manager.filter(customer_id__in=sorted(customer_ids)).order_by().values("id")
        condition |= Q(AnyOf(f"{path}__id", objects))
    return condition


def _target(model: type[Model] | None, path: str, default: type[Model] | None = None) -> type[Model] | None:
    if model is None:
        return default
    return _related_model(model, path) if path else model


def consumer_q(user, permission: str, *, project: str = "project", model: type[Model] | None = None) -> Q:
    """Rows whose project, or the project's organisation, grants the user `permission`.
    `model` is the rows' model (optional: the path leads to a Project)."""
    return _scope_q(user, permission, "project", project, _target(model, project, Project))


def provider_q(user, permission: str, *, offering: str = "offering", model: type[Model] | None = None) -> Q:
    """Rows whose offering, or the provider organisation, grants the user `permission`. Pass `model`, the
    rows' model, to keep the predicate on the rows' own offering column (permissions/ cannot name Offering)."""
    return _scope_q(user, permission, "offering", offering, _target(model, offering))


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
        project = "project" if lookup is None else lookup
        return queryset.filter(consumer_q(user, permission, project=project, model=queryset.model))
    offering = "offering" if lookup is None else lookup
    return queryset.filter(provider_q(user, permission, offering=offering, model=queryset.model))


def filter_visible(user, queryset: QuerySet, *, project: str = "project", offering: str = "offering") -> QuerySet:
    """Orders or resources the user may see: everything for staff/support, else ORDER.LIST on either side."""
    if sees_everything(user):
        return queryset
    if user is None or not user.is_authenticated:
        return queryset.none()
    model = queryset.model
    return queryset.filter(
        consumer_q(user, P.ORDER_LIST, project=project, model=model)
        | provider_q(user, P.ORDER_LIST, offering=offering, model=model)
    )


def visible_q(user, *, project: str = "project", offering: str = "offering") -> Q | None:
    """`filter_visible`'s rule as one condition on the rows' project and offering and their organisations'
    columns (joins, no query for id sets): for reading one or a few rows by key. None: everything is
    visible. `visible_condition` is the same rule for a compiled statement."""
    ids = visible_ids(user)
    if ids is None:
        return None
    return (
        Q(**{f"{project}_id__in": ids["visible_projects"]})
        | Q(**{f"{project}__customer_id__in": ids["visible_customers"]})
        | Q(**{f"{offering}_id__in": ids["visible_offerings"]})
        | Q(**{f"{offering}__customer_id__in": ids["visible_customers"]})
    )


def visible_condition(*, project: str = "project", offering: str = "offering") -> Q:
    """`visible_q`'s rule in a compiled statement (core/statements.py): the user's ids are its parameters,
    `visible_ids(user)`, so every user runs the same SQL."""
    pk = IntegerField()
    return (
        Q(InParam(f"{project}_id", "visible_projects", pk))
        | Q(InParam(f"{project}__customer_id", "visible_customers", pk))
        | Q(InParam(f"{offering}_id", "visible_offerings", pk))
        | Q(InParam(f"{offering}__customer_id", "visible_customers", pk))
    )


def visible_rows_condition(model: type[Model], *, project: str = "project", offering: str = "offering") -> Q:
    """`filter_visible`'s rule in a compiled statement, on the rows' own project and offering columns and
    the organisations' projects and offerings as subqueries (no join): for many rows, e.g. counting them.
    Its parameters are `visible_ids(user)`."""
    pk = IntegerField()

    def of_organisations(target: type[Model]) -> QuerySet:
        return target._base_manager.filter(InParam("customer_id", "visible_customers", pk)).order_by().values("id")

    return (
        Q(InParam(f"{project}_id", "visible_projects", pk))
        | Q(AnyOf(f"{project}_id", of_organisations(_related_model(model, project))))
        | Q(InParam(f"{offering}_id", "visible_offerings", pk))
        | Q(AnyOf(f"{offering}_id", of_organisations(_related_model(model, offering))))
    )


def visible_ids(user) -> dict[str, list[int]] | None:
    """The ids `visible_condition` takes for `user` (ORDER.LIST by project, organisation or offering);
    None: everything is visible."""
    if sees_everything(user):
        return None
    if user is None or not user.is_authenticated:
        return {"visible_projects": [], "visible_customers": [], "visible_offerings": []}
    grants = grants_of(user)
    return {
        "visible_projects": sorted(grants.scope_ids(P.ORDER_LIST, "project")),
        "visible_customers": sorted(grants.scope_ids(P.ORDER_LIST, "customer")),
        "visible_offerings": sorted(grants.scope_ids(P.ORDER_LIST, "offering")),
    }


def visible_customers_q(user) -> Q | None:
    """Organisations the user has any role in: directly, through a project, or as manager of one of
    their offerings; None = all."""
    if sees_everything(user):
        return None
    scopes = grants_of(user).roles_by_scope
    ids = {kind: {pk for (k, pk) in scopes if k == kind} for kind in ("customer", "project", "offering")}
    return Q(id__in=ids["customer"]) | Q(projects__id__in=ids["project"]) | Q(offerings__id__in=ids["offering"])


def projects_visible_q(user) -> Q | None:
    """Projects the user has a role in, or whose organisation the user has a role in; None = all.
    `projects_visible_condition` is the same rule for a compiled statement."""
    ids = projects_visible_ids(user)
    if ids is None:
        return None
    return Q(id__in=ids["role_projects"]) | Q(customer_id__in=ids["role_customers"])


def projects_visible_condition(*, project: str = "") -> Q:
    """`projects_visible_q`'s rule in a compiled statement (core/statements.py), on the projects at
    `project` ("" = the rows are projects); its parameters are `projects_visible_ids(user)`."""
    prefix = f"{project}__" if project else ""
    pk = IntegerField()
    return Q(InParam(f"{prefix}id", "role_projects", pk)) | Q(InParam(f"{prefix}customer_id", "role_customers", pk))


def projects_visible_ids(user) -> dict[str, list[int]] | None:
    """The ids `projects_visible_condition` takes for `user`; None: every project is visible."""
    if sees_everything(user):
        return None
    scopes = grants_of(user).roles_by_scope if user is not None and user.is_authenticated else {}
    return {
        "role_projects": sorted(pk for (kind, pk) in scopes if kind == "project"),
        "role_customers": sorted(pk for (kind, pk) in scopes if kind == "customer"),
    }
