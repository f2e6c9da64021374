"""Waldur-style pagination: a bare JSON array, the total in X-Result-Count, navigation in Link."""

from __future__ import annotations

from typing import Any

from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.db.models.query import ModelIterable
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param


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
    """Takes the page's primary keys first (same filters, ordering and slice, without the joins of
    select_related), then loads those rows with their joins and prefetches and returns them in key order.

    OFFSET over the joined rows makes the database build and discard every row before the page (2 s at
    page 1000 of 100k orders); over the keys alone it walks an index. One more query, whatever the page
    size or number.
    """

    def page(self, number):
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if top + self.orphans >= self.count:
            top = self.count
        return self._get_page(self._rows(bottom, top), number, self)

    def _rows(self, bottom: int, top: int) -> Any:
        queryset = self.object_list
        if not _loads_in_two_phases(queryset):
            return queryset[bottom:top]
        keys = list(queryset.prefetch_related(None).values_list("pk", flat=True)[bottom:top])
        rows = {row.pk: row for row in queryset.filter(pk__in=keys).order_by()}
        return [rows[key] for key in keys if key in rows]


class LinkHeaderPagination(PageNumberPagination):
    page_size = 10
    page_size_query_param = "page_size"
    max_page_size = 300
    django_paginator_class = TwoPhasePaginator

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
