"""Serializer pieces shared by every representation."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from core.api.json_values import attributes_problem, text_problem


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


class AttributesField(serializers.DictField):
    """A free-form JSON object the database can store: no NUL or lone surrogates, finite numbers, and
    within the depth, size and key caps of settings.API_LIMITS (core/api/json_values.py)."""

    def to_internal_value(self, data: Any) -> dict:
        value = super().to_internal_value(data)
        if (problem := attributes_problem(value)) is not None:
            raise serializers.ValidationError(problem)
        return value


class CountsField(serializers.DictField):
    """A JSON object of name → integer from 0 to `max_value` (limits of components); names must be text
    the database can store."""

    def __init__(self, *, max_value: int, **kwargs: Any) -> None:
        kwargs.setdefault("child", serializers.IntegerField(min_value=0, max_value=max_value))
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> dict:
        if isinstance(data, dict):
            for key in data:
                if (problem := text_problem(str(key))) is not None:
                    raise serializers.ValidationError(f"Key {str(key)!r}: {problem}")
        return super().to_internal_value(data)
