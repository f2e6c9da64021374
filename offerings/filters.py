"""Filters of the catalogue lists (Waldur names; uuids hex or dashed, links or bare uuids)."""

from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet

from core.api.filters import LinkFilter, RepeatedCharFilter, StableOrderingMixin, search_q
from offerings.models import Category, Offering, Plan, ServiceProvider
from permissions.models import Project
from permissions.scoping import projects_visible_q


class CategoryFilter(django_filters.FilterSet):
    title = django_filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = Category
        fields: list[str] = []


class OfferingFilter(StableOrderingMixin, django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains")
    name_exact = django_filters.CharFilter(field_name="name")
    slug = django_filters.CharFilter()
    customer_uuid = django_filters.UUIDFilter(field_name="customer__uuid")
    customer = LinkFilter(field_name="customer__uuid")
    category_uuid = django_filters.UUIDFilter(field_name="category__uuid")
    project_uuid = django_filters.UUIDFilter(
        method="filter_orderable_in", help_text="Offerings orderable in this project (shared ones included)."
    )
    type = RepeatedCharFilter(field_name="type")
    state = django_filters.MultipleChoiceFilter(choices=Offering.States.choices)
    shared = django_filters.BooleanFilter()
    billable = django_filters.BooleanFilter()
    query = django_filters.CharFilter(method="filter_query")
    o = django_filters.OrderingFilter(fields=("name", "created", "type", "state"))

    class Meta:
        model = Offering
        fields: list[str] = []

    def filter_query(self, queryset: QuerySet[Offering], name: str, value: str) -> QuerySet[Offering]:
        text = Q(name__icontains=value) | Q(slug__icontains=value) | Q(description__icontains=value)
        return queryset.filter(search_q(value, text))

    def filter_orderable_in(self, queryset: QuerySet[Offering], name: str, value) -> QuerySet[Offering]:
        """Waldur's meaning: what one may order in the project (shared offerings, private ones of its
        organisation, those bound to it), not "offerings bound to the project". A project the caller
        does not see matches nothing."""
        projects = Project.objects.filter(uuid=value, is_removed=False)
        visible = projects_visible_q(getattr(self.request, "user", None))
        project = (projects if visible is None else projects.filter(visible)).first()
        if project is None:
            return queryset.none()
        return queryset.filter(Q(shared=True) | Q(customer_id=project.customer_id) | Q(project_id=project.pk))


class PlanFilter(StableOrderingMixin, django_filters.FilterSet):
    offering_uuid = django_filters.UUIDFilter(field_name="offering__uuid")
    offering = LinkFilter(field_name="offering__uuid")
    name = django_filters.CharFilter(lookup_expr="icontains")
    archived = django_filters.BooleanFilter()
    o = django_filters.OrderingFilter(fields=("name", "created", "unit_price"))

    class Meta:
        model = Plan
        fields: list[str] = []


class ServiceProviderFilter(django_filters.FilterSet):
    customer_uuid = django_filters.UUIDFilter(field_name="customer__uuid")
    customer = LinkFilter(field_name="customer__uuid")
    name = django_filters.CharFilter(field_name="customer__name", lookup_expr="icontains")

    class Meta:
        model = ServiceProvider
        fields: list[str] = []
