"""Reads: querysets of orders and resources for a user, with the joins the representations need."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.utils import timezone

from offerings.models import Offering
from orders.models import Order, OrderEvent, Resource
from orders.states import OrderState as S
from permissions.models import Project
from permissions.scoping import filter_visible, projects_visible_q

ORDER_JOINS = (
    "offering",
    "offering__customer",
    "offering__category",
    "project",
    "project__customer",
    "plan",
    "old_plan",
    "resource",
    "created_by",
    "consumer_reviewed_by",
    "provider_reviewed_by",
)


def order_list_for(user, *, joins: tuple[str, ...] = ORDER_JOINS) -> QuerySet[Order]:
    """Orders the user may see, joined for the representation."""
    queryset = Order.objects.select_related(*joins) if joins else Order.objects.all()  # () would join every FK
    return filter_visible(user, queryset)


def resource_list_for(user) -> QuerySet[Resource]:
    return filter_visible(
        user,
        Resource.objects.select_related("offering", "offering__customer", "offering__category", "project",
                                        "project__customer", "plan"),
    )  # fmt: skip


def order_events(order: Order) -> QuerySet[OrderEvent]:
    return order.events.select_related("actor").order_by("created", "id")


def orders_due_for_release() -> tuple[QuerySet[Order], QuerySet[Order]]:
    """Orders waiting for a project start or their own start date that has come."""
    today = timezone.localdate()
    pending_project = Order.objects.filter(state=S.PENDING_PROJECT).exclude(project__start_date__gt=today)
    pending_start = Order.objects.filter(state=S.PENDING_START_DATE, start_date__lte=today)
    return pending_project, pending_start


def offerings_orderable_by(user) -> QuerySet[Offering]:
    """Offerings a user may order from: shared ones, and private ones of the user's organisations."""
    queryset = Offering.objects.select_related("customer", "category")
    projects_q = projects_visible_q(user)
    if projects_q is None:
        return queryset
    projects = Project.objects.filter(projects_q)
    return queryset.filter(Q(shared=True) | Q(customer_id__in=projects.values("customer_id")) | Q(project__in=projects))


def projects_visible_to(user) -> QuerySet[Project]:
    """Projects (not removed) the user has a role in, directly or through the organisation."""
    projects_q = projects_visible_q(user)
    queryset = Project.objects.select_related("customer").filter(is_removed=False)
    return queryset if projects_q is None else queryset.filter(projects_q)
