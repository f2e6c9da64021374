"""Filters of the order list (seed 002, clients.md §A.3)."""

from __future__ import annotations

import django_filters
from django.contrib.contenttypes.models import ContentType
from django.db.models import Q, QuerySet, Subquery

from core.api.filters import (
    IsoDateTimeFilter,
    LinkFilter,
    RepeatedCharFilter,
    RepeatedOrderingFilter,
    StableOrderingMixin,
    StrictBooleanFilter,
    search_q,
)
from core.api.lookups import parse_uuid
from offerings.models import Offering
from orders.models import Order, Resource
from orders.states import OrderState, OrderType, ResourceState
from permissions.constants import Permission as P
from permissions.models import UserRole
from permissions.policies import is_staff
from permissions.scoping import consumer_q, provider_q


class OrderFilter(StableOrderingMixin, django_filters.FilterSet):
    # columns of the order row itself (or forward FKs): no duplicates, so no DISTINCT
    state = django_filters.MultipleChoiceFilter(choices=OrderState.choices, distinct=False)
    type = django_filters.MultipleChoiceFilter(choices=OrderType.choices, distinct=False)
    offering_type = RepeatedCharFilter(field_name="offering__type")
    offering_slug = RepeatedCharFilter(field_name="offering__slug")
    offering_uuid = django_filters.UUIDFilter(method="filter_offering_uuid")
    offering = LinkFilter(field_name="offering__uuid")
    project_uuid = django_filters.UUIDFilter(field_name="project__uuid")
    customer_uuid = django_filters.UUIDFilter(field_name="project__customer__uuid")
    provider_uuid = django_filters.UUIDFilter(field_name="offering__customer__uuid")
    category_uuid = django_filters.UUIDFilter(field_name="offering__category__uuid")
    resource_uuid = django_filters.UUIDFilter(field_name="resource__uuid")
    resource = LinkFilter(field_name="resource__uuid")
    resource_name = django_filters.CharFilter(field_name="resource__name")
    parent_offering_uuid = django_filters.UUIDFilter(method="filter_parent_offering")
    service_manager_uuid = django_filters.UUIDFilter(method="filter_service_manager")
    slug = django_filters.CharFilter()
    query = django_filters.CharFilter(method="filter_query")
    created = IsoDateTimeFilter(field_name="created", lookup_expr="gte")
    created_before = IsoDateTimeFilter(field_name="created", lookup_expr="lte")
    modified = IsoDateTimeFilter(field_name="modified", lookup_expr="gte")
    modified_before = IsoDateTimeFilter(field_name="modified", lookup_expr="lte")
    can_approve_as_consumer = StrictBooleanFilter(method="filter_can_approve_as_consumer")
    can_approve_as_provider = StrictBooleanFilter(method="filter_can_approve_as_provider")
    was_auto_approved = StrictBooleanFilter(method="filter_was_auto_approved")
    # failures (seed 003): when the order last erred, what the error says, whether it was an outage
    failed_after = IsoDateTimeFilter(
        field_name="error_updated_at", lookup_expr="gte", help_text="Last erred at or after (date or date-time)."
    )
    failed_before = IsoDateTimeFilter(
        field_name="error_updated_at", lookup_expr="lte", help_text="Last erred at or before (date or date-time)."
    )
    error_contains = django_filters.CharFilter(
        field_name="error_message", lookup_expr="icontains", help_text="Substring of the error message."
    )
    error_is_transient = StrictBooleanFilter(help_text="The last failure was transient (an outage).")
    o = RepeatedOrderingFilter(
        fields=("created", "cost", "state", "consumer_reviewed_at", "error_updated_at"),
        help_text="Ordering; repeatable, prefix with - for descending.",
    )

    class Meta:
        model = Order
        fields: list[str] = []

    def filter_query(self, queryset: QuerySet[Order], name: str, value: str) -> QuerySet[Order]:
        """A uuid finds that order; any other text searches project name, resource name and slug."""
        value = value.strip()
        parsed = parse_uuid(value)
        if parsed is not None and len(value.replace("-", "")) == 32:
            by_uuid = queryset.filter(uuid=parsed)
            if by_uuid.exists():
                return by_uuid
        return queryset.filter(
            Q(project__name__icontains=value) | Q(resource__name__icontains=value) | Q(slug__icontains=value)
        )

    def filter_offering_uuid(self, queryset: QuerySet[Order], name: str, value) -> QuerySet[Order]:
        """The offering's id as a scalar subquery, not a join on its uuid: the planner then knows the rows'
        offering and walks that offering's orders in order (the site agent's poll: orders.Order.Meta's
        index orders_order_offering_walk) instead of every order by date."""
        return queryset.filter(offering_id=Subquery(Offering.objects.filter(uuid=value).values("id")[:1]))

    def filter_parent_offering(self, queryset: QuerySet[Order], name: str, value) -> QuerySet[Order]:
        return queryset.none()  # offerings here have no parents

    def filter_service_manager(self, queryset: QuerySet[Order], name: str, value) -> QuerySet[Order]:
        """Orders of shared offerings on which the given user holds an offering-level role."""
        offering_ids = UserRole.objects.filter(
            user__marketplace_profile__uuid=value,
            is_active=True,
            content_type=ContentType.objects.get_for_model(Offering),
        ).values("object_id")
        return queryset.filter(offering__shared=True, offering_id__in=offering_ids)

    def _can_approve(self, queryset: QuerySet[Order], value: bool | None, state: str, side_q) -> QuerySet[Order]:
        queryset = queryset.filter(state=state)
        user = self.request.user if self.request is not None else None
        if value and not is_staff(user):
            queryset = queryset.filter(side_q(user, P.ORDER_APPROVE, model=queryset.model))
        return queryset

    def filter_can_approve_as_consumer(self, queryset, name, value):
        return self._can_approve(queryset, value, OrderState.PENDING_CONSUMER, consumer_q)

    def filter_can_approve_as_provider(self, queryset, name, value):
        return self._can_approve(queryset, value, OrderState.PENDING_PROVIDER, provider_q)

    def filter_was_auto_approved(self, queryset, name, value):
        return queryset.none() if value else queryset  # no auto-approval rules exist here yet


class ResourceFilter(StableOrderingMixin, django_filters.FilterSet):
    state = django_filters.MultipleChoiceFilter(choices=ResourceState.choices, distinct=False)
    offering_uuid = django_filters.UUIDFilter(field_name="offering__uuid")
    offering_type = RepeatedCharFilter(field_name="offering__type")
    project_uuid = django_filters.UUIDFilter(field_name="project__uuid")
    customer_uuid = django_filters.UUIDFilter(field_name="project__customer__uuid")
    provider_uuid = django_filters.UUIDFilter(field_name="offering__customer__uuid")
    backend_id = django_filters.CharFilter()
    name = django_filters.CharFilter(lookup_expr="icontains")
    query = django_filters.CharFilter(method="filter_query")
    o = RepeatedOrderingFilter(fields=("created", "name", "state"))

    class Meta:
        model = Resource
        fields: list[str] = []

    def filter_query(self, queryset, name, value):
        return queryset.filter(
            search_q(value, Q(name__icontains=value) | Q(backend_id=value) | Q(slug__icontains=value))
        )
