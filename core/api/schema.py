"""OpenAPI helpers: declare every status code an endpoint can answer (schemathesis checks them)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers

ERROR = inline_serializer(
    name="ErrorResponse",
    fields={"detail": serializers.CharField(required=False)},
)

FIELD_PARAM = OpenApiParameter("field", str, many=True, description="Return only these keys (repeatable).")

_DESCRIPTIONS = {
    400: "Invalid input: field → messages.",
    401: "Authentication credentials were not provided or are invalid.",
    403: "You may see the object but not do this.",
    404: "Not found (or not visible to you).",
    405: "The offering type does not support this action.",
    409: "The order's state does not allow this action; the message names the valid states.",
}


def errors(*codes: int) -> dict[int, OpenApiResponse]:
    return {code: OpenApiResponse(ERROR, description=_DESCRIPTIONS[code]) for code in codes}


def responses(ok: dict[int, Any], *codes: int) -> dict[int, Any]:
    """Success responses plus the error codes, always with 401 (token auth)."""
    return {**ok, **errors(401, *codes)}


def list_and_retrieve(serializer, *, params: bool = True) -> dict[str, Any]:
    """extend_schema_view kwargs for list (400 bad filter, 404 page beyond the last) and retrieve (404)."""
    parameters = [FIELD_PARAM] if params else []
    return {
        "list": extend_schema(parameters=parameters, responses=responses({200: serializer(many=True)}, 400, 404)),
        "retrieve": extend_schema(parameters=parameters, responses=responses({200: serializer}, 404)),
    }
