"""Reads: querysets of orders and resources for a user, with the joins the representations need."""

from __future__ import annotations

import datetime
from collections.abc import Iterable

from django.db.models import Prefetch, Q, QuerySet, UUIDField
from django.utils import timezone

from core.statements import Param, Statement
from offerings.models import Offering, Plan
from offerings.registry import automated_type_names, get_offering_type, offering_types
from orders.models import Order, OrderEvent, Resource
from orders.states import OrderState as S
from permissions.models import Project
from permissions.scoping import filter_visible, projects_visible_condition, projects_visible_ids, projects_visible_q

# Joined in the main statement: the to-one rows every order has, read by the policies and most keys.
# Every further table joined costs PostgreSQL planning time far beyond the execution (13 tables: ~10 ms
# to plan, ~3 ms to run). Lists of orders are read as compiled rows instead (orders/views.py), which join
# exactly the columns of the requested keys; one order an action works on loads anything else lazily.
ORDER_SELECT = ("offering", "offering__customer", "offering__category", "project", "project__customer")
RESOURCE_SELECT = ORDER_SELECT
RESOURCE_JOINS = (*RESOURCE_SELECT, "plan")


def _with_related(queryset: QuerySet, paths: Iterable[str], *, joined: Iterable[str]) -> QuerySet:
    """Load the related rows at `paths`: select_related those in `joined`, prefetch the others (at most one
    query per first step, its deeper steps joined into it), so the count does not grow with the rows."""
    joined = set(joined)
    prefetched: dict[str, list[str]] = {}
    for path in paths:
        if path not in joined:
            head, _, rest = path.partition("__")
            prefetched.setdefault(head, []).extend([rest] if rest else [])
    lookups: list[str | Prefetch] = []
    for head, rests in sorted(prefetched.items()):
        related = queryset.model._meta.get_field(head).related_model
        lookups.append(Prefetch(head, queryset=related._base_manager.select_related(*rests)) if rests else head)
    selected = sorted(set(paths) & joined)
    if selected:  # select_related() without paths would join every non-null foreign key
        queryset = queryset.select_related(*selected)
    return queryset.prefetch_related(*lookups) if lookups else queryset


def order_list_for(user, *, joins: Iterable[str] = ORDER_SELECT) -> QuerySet[Order]:
    """Orders the user may see, with the related rows at `joins` (by default those the policies read)."""
    return filter_visible(user, _with_related(Order.objects.all(), joins, joined=ORDER_SELECT))


def resource_list_for(user) -> QuerySet[Resource]:
    return filter_visible(user, _with_related(Resource.objects.all(), RESOURCE_JOINS, joined=RESOURCE_SELECT))


def order_events(order: Order) -> QuerySet[OrderEvent]:
    return order.events.select_related("actor").order_by("created", "id")


def orders_due_for_reconcile(*, now: datetime.datetime, limit: int) -> list[tuple[int, int]]:
    """(id, attempt) of executing orders of automated offering types whose processing is due: no worker
    claimed or finished their current attempt in time. Most overdue first, at most `limit`."""
    due = Order.objects.filter(
        state=S.EXECUTING, processing_due_at__lte=now, offering__type__in=automated_type_names()
    ).order_by("processing_due_at", "id")
    return list(due.values_list("pk", "attempt")[:limit])


def orders_due_for_release() -> tuple[QuerySet[Order], QuerySet[Order]]:
    """Orders waiting for a project start or their own start date that has come."""
    today = timezone.localdate()
    pending_project = Order.objects.filter(state=S.PENDING_PROJECT).exclude(project__start_date__gt=today)
    pending_start = Order.objects.filter(state=S.PENDING_START_DATE, start_date__lte=today)
    return pending_project, pending_start


def orders_possibly_stuck(*, now: datetime.datetime, limit: int) -> list[int]:
    """Ids of executing orders not yet flagged whose time in executing passed their offering's stuck_after
    (the type's, or the offering's `stuck_after_minutes`), oldest first, at most `limit`."""
    overrides: dict[datetime.timedelta, list[int]] = {}
    overridden = Offering.objects.filter(plugin_options__has_key="stuck_after_minutes")
    for offering in overridden.only("pk", "type", "plugin_options"):
        spec = get_offering_type(offering.type)
        if spec is not None:
            overrides.setdefault(spec.stuck_after_for(offering), []).append(offering.pk)
    not_overridden = ~Q(offering_id__in=[pk for pks in overrides.values() for pk in pks]) if overrides else Q()
    due = Q()
    for name, spec in offering_types().items():
        due |= Q(offering__type=name, state_entered_at__lt=now - spec.stuck_after) & not_overridden
    for stuck_after, offering_ids in overrides.items():
        due |= Q(offering_id__in=offering_ids, state_entered_at__lt=now - stuck_after)
    if not due:
        return []
    candidates = Order.objects.filter(due, state=S.EXECUTING, stuck_since__isnull=True)
    return list(candidates.order_by("state_entered_at", "id").values_list("pk", flat=True)[:limit])


def offerings_orderable_by(user) -> QuerySet[Offering]:
    """Offerings a user may order from: shared ones, and private ones of the user's organisations (or of
    one of the user's projects). `orderable_offering` finds one of them by uuid with a compiled statement."""
    queryset = Offering.objects.select_related("customer", "category")
    projects_q = projects_visible_q(user)
    if projects_q is None:
        return queryset
    projects = Project.objects.filter(projects_q)
    return queryset.filter(Q(shared=True) | Q(customer_id__in=projects.values("customer_id")) | Q(project__in=projects))


def _orderable_offering(scoped: bool) -> Statement:
    def build() -> QuerySet[Offering]:
        queryset = Offering.objects.select_related("customer", "category").filter(uuid=Param("uuid", UUIDField()))
        if not scoped:
            return queryset
        projects = Project.objects.filter(projects_visible_condition())
        return queryset.filter(
            Q(shared=True) | Q(customer_id__in=projects.values("customer_id")) | Q(project__in=projects)
        )

    return Statement(build, prepared=True)


def _visible_project(scoped: bool) -> Statement:
    def build() -> QuerySet[Project]:
        queryset = Project.objects.select_related("customer").filter(is_removed=False, uuid=Param("uuid", UUIDField()))
        return queryset.filter(projects_visible_condition()) if scoped else queryset

    return Statement(build, prepared=True)


_ORDERABLE_OFFERING = {scoped: _orderable_offering(scoped) for scoped in (False, True)}
_VISIBLE_PROJECT = {scoped: _visible_project(scoped) for scoped in (False, True)}
_PLAN = Statement(
    lambda: Plan.objects.select_related("offering").filter(uuid=Param("uuid", UUIDField())), prepared=True
)


def orderable_offering(user, uuid) -> Offering | None:
    """The offering with `uuid` if `user` may order from it (`offerings_orderable_by`), in one statement
    compiled once per connection (core/statements.py)."""
    ids = projects_visible_ids(user)
    return _ORDERABLE_OFFERING[ids is not None].first(uuid=uuid, **(ids or {}))


def visible_project(user, uuid) -> Project | None:
    """The project with `uuid` if it is in `projects_visible_to(user)`, in one compiled statement."""
    ids = projects_visible_ids(user)
    return _VISIBLE_PROJECT[ids is not None].first(uuid=uuid, **(ids or {}))


def plan_by_uuid(uuid) -> Plan | None:
    """The plan with `uuid`, with its offering (whose plan it is is checked by the caller)."""
    return _PLAN.first(uuid=uuid)


def projects_visible_to(user) -> QuerySet[Project]:
    """Projects (not removed) the user has a role in, directly or through the organisation.
    `visible_project` finds one of them by uuid with a compiled statement."""
    projects_q = projects_visible_q(user)
    queryset = Project.objects.select_related("customer").filter(is_removed=False)
    return queryset if projects_q is None else queryset.filter(projects_q)
