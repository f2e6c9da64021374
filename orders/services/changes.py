"""Writing what a transition changed: the columns that differ from a snapshot taken before it, not the
whole row (an order's 40 columns, a resource's 16)."""

from __future__ import annotations

import copy
from typing import Any

from django.db import models
from django.db.models.fields.files import FieldFile

from core.writes import update_columns


def snapshot(instance: models.Model) -> dict[str, Any]:
    """The instance's column values, to tell afterwards which ones a transition changed."""
    return {f.attname: _comparable(getattr(instance, f.attname)) for f in instance._meta.concrete_fields}


def _comparable(value: Any) -> Any:
    if isinstance(value, FieldFile):
        return value.name
    if isinstance(value, (dict, list)):
        return copy.deepcopy(value)  # a JSON value changed in place still compares as changed
    return value


def save_changes(instance: models.Model, before: dict[str, Any]) -> None:
    """Save the columns that differ from `before` (and `modified`): an UPDATE of what the write changed,
    not of every column. The row is locked, so nothing else changed it meanwhile."""
    changed = [
        f.name for f in instance._meta.concrete_fields if before[f.attname] != _comparable(getattr(instance, f.attname))
    ]
    if "modified" not in changed and any(f.name == "modified" for f in instance._meta.concrete_fields):
        changed.append("modified")  # auto_now: stamped by save() when listed
    update_columns(instance, changed)
