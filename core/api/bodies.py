"""Request bodies: validate with an input serializer and hand back plain data (400 with field messages)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers


def validated(serializer_class: type[serializers.Serializer], request: Any, **kwargs: Any) -> dict[str, Any]:
    """The validated body of `request` (an empty body counts as {}), or a 400 naming the bad fields."""
    body = serializer_class(data=request.data, **kwargs)
    body.is_valid(raise_exception=True)
    return dict(body.validated_data)
