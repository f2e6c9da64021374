"""Writable references to other objects given as a Waldur hyperlink or a bare uuid (hex or dashed)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api.lookups import parse_uuid

LINK_OR_UUID_SCHEMA = {
    "type": "string",
    "description": "A hyperlink to the object (`https://host/api/<collection>/<uuid>/`, as the API returns it) "
    "or its bare uuid (32 hex digits or dashed).",
}


@extend_schema_field(LINK_OR_UUID_SCHEMA)
class LinkOrUUIDField(serializers.Field):
    """Resolves `http://host/api/things/<uuid>/` or `<uuid>` to the object `lookup(request, uuid)` finds.

    The lookup answers None for objects the caller may not see as for missing ones, so the field never
    tells a caller about objects it may not see.
    """

    default_error_messages = {
        "invalid": "Expected a hyperlink or a uuid.",
        "does_not_exist": "Invalid hyperlink - Object does not exist.",
    }

    def __init__(self, lookup: Callable[[Any, uuid.UUID], Any], **kwargs: Any) -> None:
        self.lookup = lookup
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> Any:
        value = parse_uuid(data) if isinstance(data, str) else None
        if value is None:
            self.fail("invalid")
        obj = self.lookup(self.context.get("request"), value)
        if obj is None:
            self.fail("does_not_exist")
        return obj

    def to_representation(self, value: Any) -> str:
        return value.uuid.hex
