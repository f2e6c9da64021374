"""One place that turns errors into HTTP answers (STYLE.md 6).

Domain errors (core.errors.DomainError and its subclasses in every app) carry their status and code;
Django validation errors are 400 with field messages. Anything else is DRF's default; unexpected
exceptions stay 500 and are logged, never shown.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from core.api.middleware import refused_body
from core.errors import DomainError


def handle_exception(exc, context):
    if isinstance(exc, DomainError):
        return Response(exc.body(), status=exc.status_code)
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "message_dict"):
            return Response(exc.message_dict, status=status.HTTP_400_BAD_REQUEST)
        return Response({"detail": exc.messages}, status=status.HTTP_400_BAD_REQUEST)
    if (refused := refused_body(exc)) is not None:  # a body too big or with too many fields
        return Response(refused[1], status=refused[0])
    return exception_handler(exc, context)
