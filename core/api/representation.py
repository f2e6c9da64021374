"""Representation rules shared by read serializers.

- `?field=a&field=b` returns only those keys (unknown names are ignored, none given → all).
- Keys listed in Meta.omit_when_empty (uuids, datetimes, enums, dicts the clients parse) are left out
  rather than sent as null or "": the published clients crash on those.
- joins_for() tells a selector which related-object paths the requested fields need (the selector joins
  or prefetches them), so a sparse request does not pay for rows nobody asked for.
"""

from __future__ import annotations

from collections.abc import Iterable
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


def joins_for(serializer_class: type[serializers.Serializer], names: Iterable[str]) -> set[str]:
    """Related-object paths (`a__b`) read by the fields `names` (all fields if empty) of a serializer."""
    fields = serializer_class().get_fields()
    extra: dict[str, Iterable[str]] = getattr(serializer_class.Meta, "extra_joins", {})
    chosen = [n for n in names if n in fields] or list(fields)
    joins: set[str] = set()
    for name in chosen:
        if name in extra:
            joins.update(extra[name])
            continue
        source = fields[name].source or name
        if source == "*":
            continue
        path = source.split(".")[:-1]
        if path:
            joins.add("__".join(path))
    return joins
