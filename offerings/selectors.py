"""Catalogue querysets a user may see, joined, prefetched and annotated so lists cost a constant number
of queries whatever the page size.

- Public: Active or Paused offerings that are shared or private to the user's organisations/projects,
  plus every offering the user manages as provider; staff and support see everything.
- Provider: offerings on which the user holds ORDER.LIST, directly or through the provider organisation
  (permissions.policies.can_see_offering_as_provider, as a queryset).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Count, Prefetch, Q, QuerySet

from offerings.models import Category, Offering, OfferingComponent, Plan, PlanComponent, ServiceProvider
from offerings.serializers import TERMINATED
from permissions.constants import Permission as P
from permissions.models import Customer, Project
from permissions.policies import sees_everything
from permissions.scoping import projects_visible_q, provider_q, visible_customers_q

VISIBLE_STATES = (Offering.States.ACTIVE, Offering.States.PAUSED)


def _q(prefix: str, **lookups: object) -> Q:
    return Q(**{prefix + key: value for key, value in lookups.items()})


def managed_offerings_q(user, prefix: str = "") -> Q | None:
    """Offerings the user sees as provider (ORDER.LIST on the offering or its organisation); None = all."""
    if sees_everything(user):
        return None
    return provider_q(user, P.ORDER_LIST, offering=prefix.removesuffix("__"))


def public_offerings_q(user, prefix: str = "") -> Q | None:
    """Offerings the user may look at in the catalogue (see the module docstring); None = all."""
    if sees_everything(user):
        return None
    projects = Project.objects.filter(projects_visible_q(user), is_removed=False)
    customers = Customer.objects.filter(visible_customers_q(user))
    reachable = _q(prefix, shared=True) | _q(prefix, customer__in=customers) | _q(prefix, project__in=projects)
    return (_q(prefix, state__in=VISIBLE_STATES) & reachable) | managed_offerings_q(user, prefix)


def _restrict(queryset: QuerySet, q: Q | None) -> QuerySet:
    return queryset if q is None else queryset.filter(q)


def plan_details(queryset: QuerySet[Plan]) -> QuerySet[Plan]:
    """Plans with their component prices and the number of live resources on them."""
    # aggregating drops Meta.ordering (Django ≥ 3.1): order explicitly so pages are stable
    return (
        queryset.annotate(
            resources_count=Count("resources") - Count("resources", filter=Q(resources__state=TERMINATED))
        )
        .order_by("offering__name", "offering_id", "name", "id")
        .prefetch_related(
            Prefetch(
                "components", queryset=PlanComponent.objects.select_related("component").order_by("component__type")
            )
        )
    )


def offering_details(queryset: QuerySet[Offering], fields: Iterable[str] = ()) -> QuerySet[Offering]:
    """Offerings joined for their representation; `fields` (sparse `?field=`) skips what is not asked for."""
    wanted = set(fields)
    queryset = queryset.select_related("customer", "category", "project").order_by("name", "id")
    if not wanted or "order_count" in wanted:
        queryset = queryset.annotate(order_count=Count("orders"))
    if not wanted or "components" in wanted:
        queryset = queryset.prefetch_related(
            Prefetch("components", queryset=OfferingComponent.objects.order_by("type"))
        )
    if not wanted or "plans" in wanted:
        queryset = queryset.prefetch_related(Prefetch("plans", queryset=plan_details(Plan.objects.all())))
    return queryset


def public_offerings_for(user) -> QuerySet[Offering]:
    return _restrict(Offering.objects.all(), public_offerings_q(user))


def provider_offerings_for(user) -> QuerySet[Offering]:
    return _restrict(Offering.objects.all(), managed_offerings_q(user))


def plans_for(user) -> QuerySet[Plan]:
    """Plans of offerings the user sees in the catalogue or as provider, with their offering."""
    return plan_details(
        _restrict(Plan.objects.select_related("offering"), public_offerings_q(user, prefix="offering__"))
    )


def offering_plans(offering: Offering, *, archived: bool = True) -> QuerySet[Plan]:
    plans = plan_details(offering.plans.all())
    return plans if archived else plans.filter(archived=False)


def categories_for(user) -> QuerySet[Category]:
    """All categories, each with the number of offerings in it the user can see."""
    visible = public_offerings_q(user, prefix="offerings__")
    return Category.objects.annotate(offering_count=Count("offerings", filter=visible or Q(), distinct=True)).order_by(
        "title", "id"
    )


def service_providers() -> QuerySet[ServiceProvider]:
    """Providers are public: every authenticated user may find one (site agents look theirs up)."""
    return ServiceProvider.objects.select_related("customer").order_by("customer__name", "id")
