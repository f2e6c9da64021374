"""Filters of /api/customers/, /api/projects/, /api/users/ and /api/roles/ (Waldur's names).

`name_exact` is what python-waldur-client (the Ansible modules) sends to resolve a name to one object;
on users it matches the username, the name people give there.
"""

from __future__ import annotations

import django_filters
from django.contrib.auth.models import User
from django.db.models import Q, QuerySet

from core.api.filters import LinkFilter, search_q
from core.api.lookups import parse_uuid
from permissions.models import Customer, Project, Role


class CustomerFilter(django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains")
    name_exact = django_filters.CharFilter(field_name="name")
    abbreviation = django_filters.CharFilter(lookup_expr="icontains")
    slug = django_filters.CharFilter()
    query = django_filters.CharFilter(method="filter_query")

    class Meta:
        model = Customer
        fields: list[str] = []

    def filter_query(self, queryset: QuerySet[Customer], name: str, value: str) -> QuerySet[Customer]:
        text = Q(name__icontains=value) | Q(abbreviation__icontains=value) | Q(slug__icontains=value)
        return queryset.filter(search_q(value, text))


class ProjectFilter(django_filters.FilterSet):
    customer_uuid = django_filters.UUIDFilter(field_name="customer__uuid")
    customer = LinkFilter(field_name="customer__uuid")
    customer_name = django_filters.CharFilter(field_name="customer__name", lookup_expr="icontains")
    name = django_filters.CharFilter(lookup_expr="icontains")
    name_exact = django_filters.CharFilter(field_name="name")
    slug = django_filters.CharFilter()
    query = django_filters.CharFilter(method="filter_query")

    class Meta:
        model = Project
        fields: list[str] = []

    def filter_query(self, queryset: QuerySet[Project], name: str, value: str) -> QuerySet[Project]:
        text = Q(name__icontains=value) | Q(slug__icontains=value) | Q(description__icontains=value)
        return queryset.filter(search_q(value, text))


class UserFilter(django_filters.FilterSet):
    username = django_filters.CharFilter()
    name_exact = django_filters.CharFilter(field_name="username", help_text="The exact username.")
    email = django_filters.CharFilter(lookup_expr="iexact")
    full_name = django_filters.CharFilter(method="filter_full_name")
    is_staff = django_filters.BooleanFilter()
    query = django_filters.CharFilter(method="filter_query")

    class Meta:
        model = User
        fields: list[str] = []

    def filter_full_name(self, queryset: QuerySet[User], name: str, value: str) -> QuerySet[User]:
        words = value.split()
        for word in words:
            queryset = queryset.filter(Q(first_name__icontains=word) | Q(last_name__icontains=word))
        return queryset

    def filter_query(self, queryset: QuerySet[User], name: str, value: str) -> QuerySet[User]:
        value = value.strip()
        text = (
            Q(username__icontains=value)
            | Q(first_name__icontains=value)
            | Q(last_name__icontains=value)
            | Q(email__icontains=value)
        )
        uuid = parse_uuid(value)
        exact = uuid is not None and len(value.replace("-", "")) == 32
        return queryset.filter(Q(marketplace_profile__uuid=uuid) if exact else text)


class RoleFilter(django_filters.FilterSet):
    name = django_filters.CharFilter()

    class Meta:
        model = Role
        fields: list[str] = []
