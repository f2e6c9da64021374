"""Guards in front of every /api/ view: what Django would answer with an HTML page is JSON here.

- A body larger than the limit, announced by Content-Length: 413 before anything reads it. JSON and form
  bodies may be DATA_UPLOAD_MAX_MEMORY_SIZE bytes, multipart bodies (attachments) API_MAX_MULTIPART_BYTES.
- Django's own refusals while a view reads the body (too big, too many fields): 413/400 as JSON.
Paths outside /api/ (the admin, static files) are left alone.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import HttpRequest, HttpResponse, JsonResponse

API_PREFIX = "/api/"
DEFAULT_MULTIPART_BYTES = 12 * 1024 * 1024  # a 10 MB attachment, the other fields and the multipart framing


def is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


def too_large_body(limit: int | None) -> dict[str, str]:
    size = f" of {limit} bytes" if limit else ""
    return {"detail": f"Request body exceeds the limit{size}.", "code": "too_large"}


def too_large(limit: int | None) -> JsonResponse:
    return JsonResponse(too_large_body(limit), status=413)


def body_limit(request: HttpRequest) -> int | None:
    """The largest body accepted for this request's content type (None: no limit)."""
    if request.content_type == "multipart/form-data":
        return getattr(settings, "API_MAX_MULTIPART_BYTES", DEFAULT_MULTIPART_BYTES)
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE


def refused_body(exc: Exception) -> tuple[int, dict[str, str]] | None:
    """(status, JSON body) answering Django's refusal of a request body, or None for any other exception."""
    if isinstance(exc, RequestDataTooBig):
        return 413, too_large_body(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
    if isinstance(exc, TooManyFieldsSent | TooManyFilesSent):
        return 400, {"detail": str(exc) or "Too many fields or files.", "code": "too_many_fields"}
    return None


class ApiGuardMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if is_api(request):
            refused = self.refuse_size(request)
            if refused is not None:
                return refused
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        refused = refused_body(exception) if is_api(request) else None
        return JsonResponse(refused[1], status=refused[0]) if refused else None

    @staticmethod
    def refuse_size(request: HttpRequest) -> JsonResponse | None:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return JsonResponse({"detail": "Invalid Content-Length header."}, status=400)
        limit = body_limit(request)
        return too_large(limit) if limit is not None and length > limit else None
