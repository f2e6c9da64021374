"""The front door: a small landing page at / and the API root at /api/ listing the collections."""

from __future__ import annotations

from functools import cache

from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils.html import format_html, format_html_join
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from marketplace.version import project_version

API_PREFIX = "api/"
LIST_SUFFIX = "-list"


@cache
def collections() -> dict[str, str]:
    """Collection name (its path under /api/) → URL name, for every router list route under /api/."""
    found: dict[str, str] = {}

    def walk(patterns, prefix: str) -> None:
        for pattern in patterns:
            route = prefix + str(pattern.pattern).lstrip("^").rstrip("$")
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, route)
            elif _is_collection(pattern, route):
                found[route[len(API_PREFIX) :].strip("/")] = pattern.name

    walk(get_resolver().url_patterns, "")
    return dict(sorted(found.items()))


def _is_collection(pattern, route: str) -> bool:
    """A router's list route under /api/ (no path parameters)."""
    named_list = isinstance(pattern, URLPattern) and (pattern.name or "").endswith(LIST_SUFFIX)
    return named_list and route.startswith(API_PREFIX) and "(?P" not in route and "<" not in route


class ApiRootView(APIView):
    """GET /api/: every collection and where the documentation is (anonymous callers welcome)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        auth=[],
        summary="The API root",
        description="Every collection of the API with its URL, and links to the schema and its documentation.",
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="Collection name → URL.")},
    )
    def get(self, request: Request) -> Response:
        links = {name: request.build_absolute_uri(reverse(url_name)) for name, url_name in collections().items()}
        for name, url_name in (("version", "version"), ("schema", "schema"), ("docs", "swagger-ui")):
            links[name] = request.build_absolute_uri(reverse(url_name))
        return Response(links)


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Marketplace orders</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;color:#222}}
a{{color:#0b5394}}li{{margin:.3rem 0}}code{{background:#f3f3f3;padding:0 .2rem}}</style></head>
<body><h1>Marketplace orders</h1>
<p>Orders of marketplace resources, wire-compatible with the Waldur marketplace API. Version {version}.</p>
<ul>{links}</ul>
<p>API calls take <code>Authorization: Token &lt;key&gt;</code>.</p>
</body></html>
"""
LINKS = (
    ("api/docs/", "API documentation (Swagger UI)"),
    ("api/redoc/", "API documentation (ReDoc)"),
    ("api/schema/", "OpenAPI schema"),
    ("api/", "API root: every collection"),
    ("admin/", "Admin (staff)"),
    ("api/version/", "Version"),
)


def landing(request: HttpRequest) -> HttpResponse:
    links = format_html_join("", '<li><a href="/{}">{}</a></li>', LINKS)
    return HttpResponse(format_html(PAGE, version=project_version(), links=links))
