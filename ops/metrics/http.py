"""The HTTP request latency histogram, observed by the web process that served the request.

Under gunicorn with several workers each worker process counts its own requests; set
PROMETHEUS_MULTIPROC_DIR (an empty directory, emptied on every start) so that prometheus_client keeps the
counts in shared files and /metrics, served by any worker, sums them (ops/metrics/__init__.py).
"""

from __future__ import annotations

import time

from django.http import HttpRequest, HttpResponse
from prometheus_client import Histogram

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

REQUEST_LATENCY = Histogram(
    "marketplace_http_request_duration_seconds",
    "Time to answer an HTTP request, by method, route name and status class.",
    labelnames=("method", "route", "status"),
    buckets=BUCKETS,
    registry=None,  # registered by the /metrics view (single-process) or read from files (multiprocess)
)


def route_name(request: HttpRequest) -> str:
    """The matched route's view name (few distinct values), "unmatched" when no route matched."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "unmatched"
    return match.view_name or match.route or "unnamed"


class RequestLatencyMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        method = request.method if request.method in METHODS else "other"
        status = f"{response.status_code // 100}xx"
        REQUEST_LATENCY.labels(method, route_name(request), status).observe(time.perf_counter() - started)
        return response
