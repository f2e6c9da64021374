"""Serializer pieces shared by every representation."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers


class HexUUIDField(serializers.UUIDField):
    """Renders 32-char lowercase hex (Waldur style); parses hex or dashed."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("format", "hex")
        super().__init__(**kwargs)


class NullSafeMixin:
    """Fields whose source may be a missing relation (e.g. plan) render as null instead of failing."""

    def get_attribute(self, instance: Any) -> Any:
        try:
            return super().get_attribute(instance)
        except (AttributeError, KeyError):
            return None


class SafeCharField(NullSafeMixin, serializers.CharField):
    pass


class SafeUUIDField(NullSafeMixin, HexUUIDField):
    pass


class SafeDateTimeField(NullSafeMixin, serializers.DateTimeField):
    pass
