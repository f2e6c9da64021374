"""GET /metrics: the Prometheus text exposition of the database collector and the HTTP latency histogram."""

from __future__ import annotations

import os

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_http_methods
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess

from ops.metrics.access import ALLOWED, UNAUTHENTICATED, metrics_access
from ops.metrics.collector import DatabaseCollector
from ops.metrics.http import REQUEST_LATENCY

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def registry(*, database: bool = True) -> CollectorRegistry:
    """A registry for one scrape: HTTP latency from this process, or from every process's files in
    multiprocess mode, and (unless told otherwise) the database readings."""
    found = CollectorRegistry(auto_describe=False)
    if os.environ.get(MULTIPROC_ENV):
        multiprocess.MultiProcessCollector(found)
    else:
        found.register(REQUEST_LATENCY)
    if database:
        found.register(DatabaseCollector())
    return found


@require_http_methods(["GET", "HEAD"])
def metrics(request: HttpRequest) -> HttpResponse:
    access = metrics_access(request)
    if access != ALLOWED:
        response = JsonResponse(
            {"detail": "Authentication credentials were not provided." if access == UNAUTHENTICATED else
             "You do not have permission to read the metrics."},
            status=access,
        )  # fmt: skip
        if access == UNAUTHENTICATED:
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    response = HttpResponse(generate_latest(registry()), content_type=CONTENT_TYPE_LATEST)
    response["Cache-Control"] = "no-store"
    return response
