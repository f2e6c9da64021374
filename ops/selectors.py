"""Reads for the operators' dashboard and the order statistics: aggregate queries only, so the number of
queries does not grow with the number of orders (each function is one or two queries)."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Max, Min, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, TruncDate, TruncHour

from core.models import Job
from offerings.agent_models import AgentIdentity
from offerings.models import Offering
from offerings.registry import get_offering_type
from orders.error_groups import error_group
from orders.models import Order, OrderEvent
from orders.states import NON_TERMINAL_STATES, OrderState, OrderType

S = OrderState
STATES = [state.value for state in OrderState]
TYPES = [order_type.value for order_type in OrderType]
DEFAULT_EXECUTING_TARGET = datetime.timedelta(days=1)  # an unknown offering type
AGENTS_RANKED = 500  # agents are a few per offering


def _alias(state: str) -> str:
    return state.replace("-", "_")


def order_state_counts(orders: QuerySet[Order]) -> dict[str, int]:
    """Orders per state (all nine, zeros included) and "stuck" (executing, flagged by the stuck sweep)."""
    aggregates = {_alias(state): Count("pk", filter=Q(state=state)) for state in STATES}
    aggregates["stuck"] = Count("pk", filter=Q(state=S.EXECUTING, stuck_since__isnull=False))
    row = orders.order_by().aggregate(**aggregates)
    return {**{state: row[_alias(state)] for state in STATES}, "stuck": row["stuck"]}


def failure_events(events: QuerySet[OrderEvent]) -> QuerySet[OrderEvent]:
    """Events of an order entering erred (a failure); a message update of an erred order is not one."""
    return events.filter(to_state=S.ERRED).exclude(from_state=S.ERRED)


def failures_per_hour(
    events: QuerySet[OrderEvent], *, since: datetime.datetime, tz: Any
) -> dict[datetime.datetime, int]:
    """Failures since `since`, by the hour they started in (aware datetimes in `tz`)."""
    rows = (
        failure_events(events)
        .filter(created__gte=since)
        .annotate(hour=TruncHour("created", tzinfo=tz))
        .order_by()
        .values("hour")
        .annotate(n=Count("pk"))
    )
    return {row["hour"]: row["n"] for row in rows}


def failures_per_day(events: QuerySet[OrderEvent], *, since: datetime.datetime, tz: Any) -> dict[datetime.date, int]:
    """Failures since `since`, by their date in `tz`."""
    rows = (
        failure_events(events)
        .filter(created__gte=since)
        .annotate(day=TruncDate("created", tzinfo=tz))
        .order_by()
        .values("day")
        .annotate(n=Count("pk"))
    )
    return {row["day"]: row["n"] for row in rows}


@dataclass(frozen=True)
class ErrorGroup:
    group: str
    offering_id: int
    offering_uuid: str
    offering_name: str
    provider_name: str
    count: int
    first_seen: datetime.datetime | None
    last_seen: datetime.datetime | None


def error_groups(orders: QuerySet[Order]) -> list[ErrorGroup]:
    """Erred orders by error group × offering, most frequent first: one query grouped by the raw message,
    merged here by its normalised form (orders.error_groups)."""
    rows = (
        orders.filter(state=S.ERRED)
        .order_by()
        .values("error_message", "offering_id", "offering__uuid", "offering__name", "offering__customer__name")
        .annotate(n=Count("pk"), first=Min("error_updated_at"), last=Max("error_updated_at"))
    )
    merged: dict[tuple[str, int], dict[str, Any]] = {}
    for row in rows:
        key = (error_group(row["error_message"]), row["offering_id"])
        entry = merged.setdefault(key, {"row": row, "count": 0, "first": None, "last": None})
        entry["count"] += row["n"]
        entry["first"] = min(filter(None, (entry["first"], row["first"])), default=None)
        entry["last"] = max(filter(None, (entry["last"], row["last"])), default=None)
    groups = [
        ErrorGroup(
            group=group,
            offering_id=offering_id,
            offering_uuid=entry["row"]["offering__uuid"].hex,
            offering_name=entry["row"]["offering__name"],
            provider_name=entry["row"]["offering__customer__name"],
            count=entry["count"],
            first_seen=entry["first"],
            last_seen=entry["last"],
        )
        for (group, offering_id), entry in merged.items()
    ]
    epoch = datetime.datetime.min.replace(tzinfo=datetime.UTC)
    return sorted(groups, key=lambda g: (-g.count, -(g.last_seen or epoch).timestamp(), g.group, g.offering_id))


@dataclass(frozen=True)
class Waiting:
    """The orders waiting in one non-terminal state: how many, the oldest age, and the worst share of its
    target (an offering type's stuck_after for executing, a setting for the pending states)."""

    state: str
    count: int
    oldest_age: datetime.timedelta | None
    worst_ratio: float | None
    worst_age: datetime.timedelta | None
    worst_target: datetime.timedelta | None
    worst_type: str


def _target(state: str, offering: Offering | None, targets: Mapping[str, datetime.timedelta]) -> datetime.timedelta:
    if state != S.EXECUTING:
        return targets[state]
    spec = get_offering_type(offering.type) if offering is not None else None
    return spec.stuck_after_for(offering) if spec is not None else DEFAULT_EXECUTING_TARGET


def oldest_waiting(
    orders: QuerySet[Order], *, now: datetime.datetime, targets: Mapping[str, datetime.timedelta]
) -> list[Waiting]:
    """Per non-terminal state: count, oldest age and the worst age/target ratio (two queries)."""
    rows = list(
        orders.filter(state__in=NON_TERMINAL_STATES)
        .order_by()
        .values("state", "offering_id")
        .annotate(n=Count("pk"), oldest=Min(Coalesce("state_entered_at", "created")))
    )
    offerings = Offering.objects.only("pk", "type", "plugin_options").in_bulk({r["offering_id"] for r in rows})
    result = []
    for state in NON_TERMINAL_STATES:
        mine = [r for r in rows if r["state"] == state]
        count = sum(r["n"] for r in mine)
        oldest = max((now - r["oldest"] for r in mine), default=None)
        worst: tuple[float, datetime.timedelta, datetime.timedelta, str] | None = None
        for r in mine:
            offering = offerings.get(r["offering_id"])
            target = _target(state, offering, targets)
            age = now - r["oldest"]
            ratio = age / target if target else 0.0
            if worst is None or ratio > worst[0]:
                worst = (ratio, age, target, offering.type if offering is not None else "")
        result.append(
            Waiting(
                state=state.value,
                count=count,
                oldest_age=oldest,
                worst_ratio=worst[0] if worst else None,
                worst_age=worst[1] if worst else None,
                worst_target=worst[2] if worst else _target(state, None, targets),
                worst_type=worst[3] if worst else "",
            )
        )
    return result


def site_agents(*, limit: int) -> list[AgentIdentity]:
    """Site agents with their last activity (`last_activity`: the latest of the identity's own update, a
    service's update and a processor's run), least recently active first."""
    queryset = (
        AgentIdentity.objects.select_related("offering", "offering__customer")
        .annotate(last_run=Max("services__processors__last_run"), service_seen=Max("services__modified"))
        .order_by("-modified", "-id")
    )
    agents = list(queryset[:AGENTS_RANKED])  # ranked here: the latest of three columns, some of them empty
    for agent in agents:
        seen = [t for t in (agent.modified, agent.last_run, agent.service_seen) if t is not None]
        agent.last_activity = max(seen) if seen else None
    agents.sort(key=lambda a: (a.last_activity is not None, a.last_activity or a.created, a.pk))
    return agents[:limit]


def offering_health(*, limit: int) -> tuple[list[Offering], dict[str, int]]:
    """Offerings, unhealthy backends first, with their executing and erred order counts; and totals."""
    queryset = (
        Offering.objects.select_related("customer")
        .exclude(state=Offering.States.ARCHIVED)
        .annotate(
            executing=Count("orders", filter=Q(orders__state=S.EXECUTING)),
            erred=Count("orders", filter=Q(orders__state=S.ERRED)),
        )
        .order_by("backend_healthy", "-erred", "name", "id")
    )
    totals = Offering.objects.exclude(state=Offering.States.ARCHIVED).aggregate(
        total=Count("pk"), unhealthy=Count("pk", filter=Q(backend_healthy=False))
    )
    return list(queryset[:limit]), totals


def recent_jobs(*, limit: int) -> list[Job]:
    return list(Job.objects.select_related("created_by").order_by("-created", "-id")[:limit])


def order_window_counts(orders: QuerySet[Order], *, tz: Any) -> list[dict[str, Any]]:
    """Orders grouped by (creation date in `tz`, state, type) with their cost: one query."""
    return list(
        orders.annotate(day=TruncDate("created", tzinfo=tz))
        .order_by()
        .values("day", "state", "type")
        .annotate(n=Count("pk"), cost=Sum("cost"))
    )


def order_offering_counts(orders: QuerySet[Order]) -> list[dict[str, Any]]:
    """Orders grouped by (offering, state) with the offering's and its provider's names: one query."""
    return list(
        orders.order_by()
        .values(
            "state",
            "offering__uuid",
            "offering__name",
            "offering__type",
            "offering__customer__uuid",
            "offering__customer__name",
        )
        .annotate(n=Count("pk"))
    )
