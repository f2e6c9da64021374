"""ComputedField: a read-only key whose value is a function of a few stored values.

The function is the one definition of the key. The serializer calls it with values read from model
instances; the row compiler (core/api/rows.py) calls it with the same values read from a `values()` row,
so the two paths cannot drift apart. `output` is the key's schema (a field instance or an OpenApiTypes).

    fixed_price = ComputedField(
        lambda plan_id, order_type, unit_price: ..., needs=("plan_id", "type", "plan.unit_price"),
        output=OpenApiTypes.DOUBLE,
    )

`needs` are dotted paths from the object; a path through a missing relation gives None, a file its stored
name and a uuid its 32 hex digits, as the row compiler reads them. With `context=True` the function gets
the serializer context first (the request's user, memos shared by the rows of one response).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.db.models.fields.files import FieldFile
from rest_framework import serializers


def resolve(obj: Any, path: str) -> Any:
    """The value at a dotted path of a model instance, as the row compiler reads it."""
    for name in path.split("."):
        if obj is None:
            return None
        try:
            obj = getattr(obj, name)
        except ObjectDoesNotExist:  # a missing reverse one-to-one (e.g. a user without a profile)
            return None
    if isinstance(obj, uuid.UUID):
        return obj.hex
    return obj.name if isinstance(obj, FieldFile) else obj


class ComputedField(serializers.Field):
    def __init__(
        self, fn: Callable[..., Any], *, needs: Iterable[str] = (), output: Any, context: bool = False, **kwargs: Any
    ) -> None:
        self.fn, self.needs, self.takes_context = fn, tuple(needs), context
        kwargs["read_only"] = True
        kwargs["source"] = "*"
        super().__init__(**kwargs)
        # drf-spectacular reads this (what @extend_schema_field sets on a class or method)
        self._spectacular_annotation = {"field": output}

    def get_attribute(self, instance: Any) -> tuple:
        return tuple(resolve(instance, path) for path in self.needs)

    def to_representation(self, values: tuple) -> Any:
        return self.fn(self.context, *values) if self.takes_context else self.fn(*values)


def constant(value: Any, output: Any) -> ComputedField:
    """A key with the same value for every object (a feature the compatible API has and this system does not)."""
    field = ComputedField(lambda: value, output=output)
    field.constant = value  # the row compiler writes the value itself
    return field
