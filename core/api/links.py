"""Waldur-style absolute hyperlinks: <root>/api/<collection>/<hex>/."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers


def api_root(context: dict[str, Any]) -> str:
    """The absolute `<root>/api/` of the current request, computed once per serializer context."""
    root = context.get("_api_root")
    if root is None:
        request = context.get("request")
        root = request.build_absolute_uri("/api/") if request is not None else "/api/"
        context["_api_root"] = root
    return root


def api_link(context: dict[str, Any], collection: str, *uuids: Any) -> str:
    """E.g. api_link(ctx, "marketplace-public-offerings", offering_uuid, "plans", plan_uuid)."""
    parts = [collection]
    for part in uuids:
        parts.append(part.hex if hasattr(part, "hex") else str(part))
    return api_root(context) + "/".join(parts) + "/"


@extend_schema_field(OpenApiTypes.URI)
class LinkField(serializers.Field):
    """Read-only hyperlink to `<collection>/<uuid>/` from a uuid found at `source`; null if absent."""

    def __init__(self, collection: str, **kwargs: Any) -> None:
        self.collection = collection
        kwargs["read_only"] = True
        kwargs.setdefault("allow_null", True)  # an absent target answers null (DRF would drop the key)
        super().__init__(**kwargs)

    def get_attribute(self, instance: Any) -> Any:
        try:
            return super().get_attribute(instance)
        except (AttributeError, KeyError):
            return None

    def to_representation(self, value: Any) -> str | None:
        return api_link(self.context, self.collection, value) if value else None
