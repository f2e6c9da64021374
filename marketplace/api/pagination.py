"""Waldur-style pagination: a bare JSON array, the total in X-Result-Count, navigation in Link."""

from __future__ import annotations

from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param


class LinkHeaderPagination(PageNumberPagination):
    page_size = 10
    page_size_query_param = "page_size"
    max_page_size = 300

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
