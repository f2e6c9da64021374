"""Representation rules shared by read serializers.

- `?field=a&field=b` returns only those keys (unknown names are ignored, none given → all).
- Keys listed in Meta.omit_when_empty (uuids, datetimes, enums, dicts the clients parse) are left out
  rather than sent as null or "": the published clients crash on those.
- Orders are read as compiled rows (core/api/rows.py), which select only the columns of the requested keys,
  so a sparse request does not pay for rows nobody asked for.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers


def requested_fields(request: Any) -> list[str]:
    if request is None or request.method not in ("GET", "HEAD"):
        return []
    return [name for value in request.query_params.getlist("field") for name in value.split(",") if name]


class RepresentationMixin:
    """Mixin for read serializers: sparse fields and omission of empty strict keys."""

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        wanted = set(requested_fields(self.context.get("request"))) & set(fields)
        if wanted and not getattr(self, "_full_representation", False):
            fields = {name: field for name, field in fields.items() if name in wanted}
        return fields

    def to_representation(self, instance: Any) -> dict[str, Any]:
        data = super().to_representation(instance)
        for key in getattr(self.Meta, "omit_when_empty", ()):
            if key in data and data[key] in (None, ""):
                del data[key]
        return data
