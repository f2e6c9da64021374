"""Waldur-style pagination: a bare JSON array, the total in X-Result-Count, navigation in Link."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.db.models.query import ModelIterable
from django.utils.functional import cached_property
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from core.api.rows import RowPlan, page_rows


def _loads_in_two_phases(object_list: Any) -> bool:
    """Model querysets whose rows are fetched with joins: those are worth a separate keys query."""
    return (
        isinstance(object_list, QuerySet)
        and object_list._iterable_class is ModelIterable
        and not object_list.query.combinator
        and not object_list.query.distinct_fields
        and not object_list.query.is_sliced
        and bool(object_list.query.select_related)
    )


class TwoPhasePaginator(Paginator):
    """Pages that do not make the database join the rows before the page.

    With `values` (a compiled row plan, core/api/rows.py) a page is one statement that selects
    the page's keys in a subquery and joins only those rows. Model querysets with select_related take the
    page's primary keys first (same filters, ordering and slice, without the joins), then load those rows
    with their joins and prefetches in key order: one more query, whatever the page size or number.
    `count` (a callable) replaces COUNT(*) when the caller knows a cheaper exact way.
    """

    def __init__(self, *args: Any, values: RowPlan | None = None, count: Callable[[], int] | None = None, **kw):
        super().__init__(*args, **kw)
        self.values, self._count = values, count

    @cached_property
    def count(self) -> int:
        return self._count() if self._count is not None else super().count

    def page(self, number):
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if top + self.orphans >= self.count:
            top = self.count
        return self._get_page(self._rows(bottom, top), number, self)

    def _rows(self, bottom: int, top: int) -> Any:
        queryset = self.object_list
        if self.values is not None:
            return page_rows(queryset, self.values, bottom, top) if top > bottom else []
        if not _loads_in_two_phases(queryset):
            return queryset[bottom:top]
        keys = list(queryset.prefetch_related(None).values_list("pk", flat=True)[bottom:top])
        rows = {row.pk: row for row in queryset.filter(pk__in=keys).order_by()}
        return [rows[key] for key in keys if key in rows]


class LinkHeaderPagination(PageNumberPagination):
    page_size = 10
    page_size_query_param = "page_size"
    max_page_size = 300
    _values: RowPlan | None = None
    _count: Callable[[], int] | None = None

    def django_paginator_class(self, object_list: Any, per_page: int) -> TwoPhasePaginator:
        return TwoPhasePaginator(object_list, per_page, values=self._values, count=self._count)

    def paginate_rows(self, queryset: QuerySet, request, view, *, values: RowPlan, count=None) -> list | None:
        """A page of `queryset` as rows of the plan `values` (one statement); `count`: see TwoPhasePaginator."""
        self._values, self._count = values, count
        try:
            return self.paginate_queryset(queryset, request, view=view)
        finally:
            self._values = self._count = None

    def _link(self, number: int) -> str:
        url = self.request.build_absolute_uri()
        # urlencode escapes commas as %2C, so the clients' split on "," stays safe
        return replace_query_param(url, self.page_query_param, number)

    def link_header(self) -> str:
        page = self.page
        links = [(self._link(1), "first")]
        if page.has_previous():
            links.append((self._link(page.previous_page_number()), "prev"))
        if page.has_next():
            links.append((self._link(page.next_page_number()), "next"))
        links.append((self._link(page.paginator.num_pages or 1), "last"))
        return ", ".join(f'<{url}>; rel="{rel}"' for url, rel in links)

    def get_paginated_response(self, data) -> Response:
        return Response(data, headers={"X-Result-Count": str(self.page.paginator.count), "Link": self.link_header()})

    def get_paginated_response_schema(self, schema: dict) -> dict:
        return schema  # a bare array; totals and links travel in headers
