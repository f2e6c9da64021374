"""Every request gets an id: the caller's X-Request-ID when it is sane (a proxy's or a client's), else a new
one. It is echoed in the response's X-Request-ID header and carried by every log record written while the
request is handled (core/logs.py), including Django's own "Not Found"/"Bad Request" lines, which it writes
after the middleware chain returned; the id is therefore cleared when the request has finished, not when
the middleware returns."""

from __future__ import annotations

import re
import uuid

from django.core.signals import request_finished
from django.http import HttpRequest, HttpResponse

from core.logs import bind

HEADER = "X-Request-ID"
_SANE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/+=-]{0,127}")  # no spaces, quotes or control characters


def request_id_for(request: HttpRequest) -> str:
    given = request.headers.get(HEADER, "")
    return given if _SANE.fullmatch(given) else uuid.uuid4().hex


class RequestIdMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.request_id = request_id_for(request)
        bind(request_id=request.request_id)
        response = self.get_response(request)
        response[HEADER] = request.request_id
        return response


def _forget_request_id(**_: object) -> None:
    bind(request_id="")


request_finished.connect(_forget_request_id, dispatch_uid="core.request_id.forget")
