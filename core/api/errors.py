"""JSON answers for requests that never reach a view or fail outside one (Django's handler404/400/403/500).

Under /api/ the clients and the schema expect JSON; elsewhere (the admin) Django's pages stay.
"""

from django.http import JsonResponse
from django.views import defaults

from core.api.middleware import is_api


def not_found(request, exception=None):
    """404 as JSON under /api/ (e.g. a path that matches no route); Django's page elsewhere."""
    if is_api(request):
        return JsonResponse({"detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)


def bad_request(request, exception=None):
    """400 for what Django refuses before a view runs (a bad Host header, a suspicious operation)."""
    if is_api(request):
        return JsonResponse({"detail": "Bad request."}, status=400)
    return defaults.bad_request(request, exception)


def permission_denied(request, exception=None):
    if is_api(request):
        return JsonResponse({"detail": "You do not have permission to perform this action."}, status=403)
    return defaults.permission_denied(request, exception)


def server_error(request):
    """500 without details (the exception is logged by Django); JSON under /api/."""
    if is_api(request):
        return JsonResponse({"detail": "Server error."}, status=500)
    return defaults.server_error(request)
