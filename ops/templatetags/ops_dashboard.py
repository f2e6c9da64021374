"""{% operators_dashboard as dashboard %}: the dashboard's data for the admin's landing page (staff only)."""

from __future__ import annotations

import datetime
from typing import Any

from django import template

from core.admin_base import is_staff
from ops.dashboard import admin_dashboard

register = template.Library()


@register.simple_tag(takes_context=True)
def operators_dashboard(context: dict[str, Any]) -> dict[str, Any] | None:
    request = context.get("request")
    return admin_dashboard() if request is not None and is_staff(request.user) else None


@register.filter
def age(delta: datetime.timedelta | None) -> str:
    """A duration in its two largest units: "3 d 4 h", "5 h 12 min", "40 s"."""
    if delta is None:
        return "–"
    seconds = max(0, int(delta.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "min"), (seconds, "s")]
    first = next((i for i, (n, _) in enumerate(parts) if n), len(parts) - 1)
    shown = [f"{n} {unit}" for n, unit in parts[first : first + 2] if n]
    return " ".join(shown) or "0 s"
