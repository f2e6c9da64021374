"""The operators' dashboard: the health of fulfilment at a glance (issue 9).

`order_health` computes it over any set of orders (all of them for staff; the statistics API passes the
caller's visible orders); `admin_dashboard` adds the admin's links and the charts for the admin's landing
page (ops/templates/admin/ops/index.html). A constant number of aggregate queries, whatever the number of
orders.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone

from ops import selectors
from ops.charts import Point, Trend, bar_chart
from orders.models import Order, OrderEvent
from orders.states import OrderState as S

HOURS, DAYS = 24, 30
# The cards' order: what needs attention first (erred, stuck), then the lifecycle.
CARD_ORDER = (
    S.ERRED, "stuck", S.EXECUTING, S.PENDING_CONSUMER, S.PENDING_PROVIDER, S.PENDING_PROJECT, S.PENDING_START_DATE,
    S.DONE, S.CANCELED, S.REJECTED,
)  # fmt: skip
BADGE_LEVELS = (100, 75, 50)  # percent of the target (ServiceNow's SLA notifications)


def ops_settings() -> dict[str, Any]:
    return settings.OPS_DASHBOARD


def waiting_targets() -> dict[str, datetime.timedelta]:
    hours = ops_settings()["WAITING_TARGET_HOURS"]
    return {state: datetime.timedelta(hours=value) for state, value in hours.items()}


def badge_level(ratio: float | None) -> int:
    """100, 75 or 50 when the ratio reached that share of the target; 0 below half."""
    if ratio is None:
        return 0
    return next((level for level in BADGE_LEVELS if ratio * 100 >= level), 0)


@dataclass(frozen=True)
class Window:
    """The hourly and daily buckets the failure charts show, ending now, in the current time zone."""

    now: datetime.datetime
    tz: Any

    @property
    def hours(self) -> list[datetime.datetime]:
        """The last 24 hour-starts, oldest first (the current hour last)."""
        top = timezone.localtime(self.now, self.tz).replace(minute=0, second=0, microsecond=0)
        top = top.astimezone(datetime.UTC)  # step in real hours, not wall-clock ones (daylight saving)
        return [timezone.localtime(top - datetime.timedelta(hours=n), self.tz) for n in range(HOURS - 1, -1, -1)]

    @property
    def days(self) -> list[datetime.date]:
        """The last 30 dates, oldest first (today last)."""
        today = timezone.localtime(self.now, self.tz).date()
        return [today - datetime.timedelta(days=n) for n in range(DAYS - 1, -1, -1)]

    @property
    def hours_since(self) -> datetime.datetime:  # the previous 24 hours included, for the trend
        return self.hours[0] - datetime.timedelta(hours=HOURS)

    @property
    def days_since(self) -> datetime.datetime:
        first = self.days[0] - datetime.timedelta(days=DAYS)
        return timezone.make_aware(datetime.datetime.combine(first, datetime.time()), self.tz)


def _hour_key(hour: datetime.datetime) -> datetime.datetime:
    return hour.astimezone(datetime.UTC)


def failure_series(events: QuerySet[OrderEvent], window: Window) -> dict[str, Any]:
    """Failures per hour (last 24 h) and per day (last 30 days), each with its trend against the period
    before it. Two queries."""
    per_hour = {
        _hour_key(k): v for k, v in selectors.failures_per_hour(events, since=window.hours_since, tz=window.tz).items()
    }
    per_day = selectors.failures_per_day(events, since=window.days_since, tz=window.tz)
    hours = [(hour, per_hour.get(_hour_key(hour), 0)) for hour in window.hours]
    days = [(day, per_day.get(day, 0)) for day in window.days]
    previous_hours = sum(n for hour, n in per_hour.items() if hour < _hour_key(window.hours[0]))
    previous_days = sum(n for day, n in per_day.items() if day < window.days[0])
    return {
        "hours": hours,
        "days": days,
        "hours_trend": Trend(current=sum(n for _, n in hours), previous=previous_hours),
        "days_trend": Trend(current=sum(n for _, n in days), previous=previous_days),
    }


def order_health(
    *, orders: QuerySet[Order], events: QuerySet[OrderEvent], now: datetime.datetime | None = None
) -> dict:
    """Counts per state, failures over time, error groups and the oldest waiting orders of `orders`."""
    now = now or timezone.now()
    window = Window(now=now, tz=timezone.get_current_timezone())
    waiting = selectors.oldest_waiting(orders, now=now, targets=waiting_targets())
    return {
        "now": now,
        "counts": selectors.order_state_counts(orders),
        "failures": failure_series(events, window),
        "error_groups": selectors.error_groups(orders),
        "waiting": [{"row": row, "badge": badge_level(row.worst_ratio)} for row in waiting],
    }


# --- the admin's landing page -----------------------------------------------------------------------------


def _hour_points(hours: list[tuple[datetime.datetime, int]]) -> list[Point]:
    points = []
    for hour, n in hours:
        end = hour + datetime.timedelta(hours=1)
        label = f"{hour:%Y-%m-%d %H:%M}–{end:%H:%M}: {n} failure{'s' if n != 1 else ''}"
        points.append(Point(label=label, tick=f"{hour:%H}h" if hour.hour % 6 == 0 else "", value=n))
    return points


def _day_points(days: list[tuple[datetime.date, int]]) -> list[Point]:
    last = len(days) - 1
    return [
        Point(
            label=f"{day:%a %Y-%m-%d}: {n} failure{'s' if n != 1 else ''}",
            tick=f"{day:%d %b}" if (last - i) % 7 == 0 else "",
            value=n,
        )
        for i, (day, n) in enumerate(days)
    ]


def state_url(state: str) -> str:
    if state == S.ERRED:
        return reverse("admin:orders_failedorder_changelist")
    query = {"stuck": "yes"} if state == "stuck" else {"state__exact": state}
    return f"{reverse('admin:orders_order_changelist')}?{urlencode(query)}"


def error_group_url(group: selectors.ErrorGroup) -> str:
    """The Failed orders page filtered to one error group of one offering (ready for a dry-run resubmit)."""
    query = {"error_group": group.group, "offering__id__exact": group.offering_id}
    return f"{reverse('admin:orders_failedorder_changelist')}?{urlencode(query)}"


def _cards(counts: dict[str, int]) -> list[dict[str, Any]]:
    return [
        {
            "state": state,
            "label": "stuck (executing)" if state == "stuck" else state,
            "count": counts[state],
            "url": state_url(state),
            "alert": state in (S.ERRED, "stuck") and counts[state] > 0,
            "slug": state.replace("-", "_"),
        }
        for state in CARD_ORDER
    ]


def admin_dashboard(*, now: datetime.datetime | None = None) -> dict[str, Any]:
    """Everything the staff's landing page shows, with links into the admin."""
    now = now or timezone.now()
    options = ops_settings()
    health = order_health(orders=Order.objects.all(), events=OrderEvent.objects.all(), now=now)
    failures = health["failures"]
    stale_before = now - datetime.timedelta(minutes=options["AGENT_STALE_MINUTES"])
    agents = selectors.site_agents(limit=options.get("AGENTS_LISTED", 20))
    offerings, offering_totals = selectors.offering_health(limit=options.get("OFFERINGS_LISTED", 20))
    jobs = selectors.recent_jobs(limit=options["JOBS_LISTED"])
    groups = health["error_groups"]
    listed = options["ERROR_GROUPS_LISTED"]
    return {
        "now": now,
        "cards": _cards(health["counts"]),
        "total": sum(health["counts"][state] for state in selectors.STATES),
        "hourly": bar_chart(_hour_points(failures["hours"])),
        "daily": bar_chart(_day_points(failures["days"])),
        "hours_trend": failures["hours_trend"],
        "days_trend": failures["days_trend"],
        "error_groups": [{"group": g, "url": error_group_url(g)} for g in groups[:listed]],
        "error_groups_more": max(0, len(groups) - listed),
        "error_groups_orders": sum(g.count for g in groups),
        "waiting": [
            {
                **entry,
                "url": state_url(entry["row"].state),
                "percent": _percent(entry["row"].worst_ratio),
                "badge_text": _badge_text(entry["row"].worst_ratio),
            }
            for entry in health["waiting"]
        ],
        "agents": [
            {
                "agent": agent,
                "stale": agent.last_activity is None or agent.last_activity < stale_before,
                "url": reverse("admin:offerings_agentidentity_change", args=[agent.pk]),
            }
            for agent in agents
        ],
        "agent_stale_minutes": options["AGENT_STALE_MINUTES"],
        "offerings": [
            {"offering": o, "url": reverse("admin:offerings_offering_change", args=[o.pk])} for o in offerings
        ],
        "offering_totals": offering_totals,
        "jobs": [
            {
                "job": job,
                "percent": round(100 * job.progress, 1),
                "url": reverse("admin:core_job_change", args=[job.pk]),
            }
            for job in jobs
        ],
        "jobs_url": reverse("admin:core_job_changelist"),
    }


def _percent(ratio: float | None) -> int | None:
    return None if ratio is None else round(100 * ratio)


def _badge_text(ratio: float | None) -> str:
    """The share of the target: "83 %", and past twice the target "18× target"."""
    if ratio is None:
        return ""
    return f"{round(100 * ratio)} %" if ratio < 2 else f"{ratio:.0f}× target"
