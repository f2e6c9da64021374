"""Lookups by public uuid: 32-char hex or 36-char dashed, any case, in paths and filters."""

from __future__ import annotations

import re
import uuid

from django.http import Http404

UUID_PATTERN = r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"
_UUID_RE = re.compile(UUID_PATTERN)


def parse_uuid(value: object) -> uuid.UUID | None:
    """A UUID from hex, dashed or a URL whose last uuid-looking segment is it; None if there is none."""
    if isinstance(value, uuid.UUID):
        return value
    if not isinstance(value, str):
        return None
    matches = _UUID_RE.findall(value)
    if not matches:
        return None
    try:
        return uuid.UUID(matches[-1])
    except ValueError:
        return None


class UUIDLookupMixin:
    """For viewsets: `/{uuid}/` routes accept hex or dashed; anything else is a plain 404."""

    lookup_field = "uuid"
    lookup_value_regex = UUID_PATTERN

    def get_object(self):
        self.kwargs[self.lookup_url_kwarg or self.lookup_field] = self.lookup_uuid()
        return super().get_object()

    def lookup_uuid(self) -> uuid.UUID:
        """The uuid in the path; a plain 404 when it is not one."""
        raw = self.kwargs.get(self.lookup_url_kwarg or self.lookup_field)
        value = parse_uuid(raw)
        if value is None or str(raw).replace("-", "").lower() != value.hex:
            raise Http404
        return value
