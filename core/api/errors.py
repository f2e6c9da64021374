"""JSON answers for requests that never reach a view (e.g. a path that matches no route)."""

from django.http import JsonResponse
from django.views.defaults import page_not_found


def not_found(request, exception=None):
    """404 as JSON under /api/ (the clients and the schema expect JSON); Django's page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return page_not_found(request, exception)
