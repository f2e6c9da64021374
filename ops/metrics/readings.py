"""What /metrics reports about the fulfilment state, read from the database at scrape time: a constant
number of aggregate queries, whatever the number of orders (see ops/metrics/__init__.py for why the
database and not in-process counters)."""

from __future__ import annotations

import datetime
from collections import Counter
from dataclasses import dataclass, field

from django.db.models import Count, DurationField, ExpressionWrapper, F, Min, OuterRef, Q, Subquery, Sum
from django.utils import timezone

from core.models import Delivery, Job
from offerings.registry import offering_types
from orders.error_groups import error_group
from orders.models import Order, OrderEvent
from orders.states import OrderState as S

# processing durations (entering executing → done or erred), seconds: a second to a week
DURATION_BUCKETS = (1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 4 * 3600.0, 86400.0, 7 * 86400.0)
MAX_ERROR_GROUPS = 50  # the most frequent groups are labelled; the rest are summed as "(other)"
OTHER_GROUP = "(other)"
MAX_JOBS = 100  # progress of at most this many unfinished jobs, newest first


def order_counts() -> dict[tuple[str, str], int]:
    """(state, offering type) → orders; every state × every registered type is present (0 if none)."""
    counts = {(state.value, type_name): 0 for state in S for type_name in offering_types()}
    rows = Order.objects.values_list("state", "offering__type").annotate(n=Count("id")).order_by()
    for state, type_name, n in rows:
        counts[(state, type_name)] = n
    return counts


def transition_counts() -> dict[tuple[str, str], int]:
    """(action, offering type) → state changes recorded in the orders' history (OrderEvent rows whose
    to_state differs from from_state; "create" counts the order entering its first state)."""
    rows = (
        OrderEvent.objects.exclude(to_state=F("from_state"))
        .values_list("kind", "order__offering__type")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {(kind, type_name): n for kind, type_name, n in rows}


@dataclass
class DurationHistogram:
    buckets: list[int] = field(default_factory=lambda: [0] * len(DURATION_BUCKETS))  # cumulative, ≤ bound
    count: int = 0
    total_seconds: float = 0.0


def processing_durations() -> dict[str, DurationHistogram]:
    """offering type → histogram of the time from entering executing to leaving it for done or erred, one
    observation per such exit recorded in the orders' history (all time: a cumulative histogram)."""
    entered = (
        OrderEvent.objects.filter(order=OuterRef("order"), to_state=S.EXECUTING, created__lte=OuterRef("created"))
        .exclude(from_state=S.EXECUTING)
        .order_by("-created", "-id")
        .values("created")[:1]
    )
    finished = (
        OrderEvent.objects.filter(from_state=S.EXECUTING, to_state__in=(S.DONE, S.ERRED))
        .annotate(started=Subquery(entered))
        .filter(started__isnull=False)
        .annotate(duration=ExpressionWrapper(F("created") - F("started"), output_field=DurationField()))
    )
    bucket_counts = {
        f"le_{i}": Count("id", filter=Q(duration__lte=datetime.timedelta(seconds=bound)))
        for i, bound in enumerate(DURATION_BUCKETS)
    }
    rows = (
        finished.values("order__offering__type")
        .annotate(n=Count("id"), total=Sum("duration"), **bucket_counts)
        .order_by()
    )
    histograms = {}
    for row in rows:
        total = row["total"]
        histograms[row["order__offering__type"]] = DurationHistogram(
            buckets=[row[f"le_{i}"] for i in range(len(DURATION_BUCKETS))],
            count=row["n"],
            total_seconds=total.total_seconds() if isinstance(total, datetime.timedelta) else (total or 0) / 1e6,
        )
    return histograms


def failure_counts() -> dict[tuple[str, bool], int]:
    """(error group, transient) → erred orders now; the MAX_ERROR_GROUPS most frequent groups by name."""
    rows = (
        Order.objects.filter(state=S.ERRED)
        .values_list("error_message", "error_is_transient")
        .annotate(n=Count("id"))
        .order_by()
    )
    counts: Counter[tuple[str, bool]] = Counter()
    for message, transient, n in rows:
        counts[(error_group(message), bool(transient))] += n
    by_group: Counter[str] = Counter()
    for (group, _), n in counts.items():
        by_group[group] += n
    named = {group for group, _ in sorted(by_group.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_ERROR_GROUPS]}
    folded: Counter[tuple[str, bool]] = Counter()
    for (group, transient), n in counts.items():
        folded[(group if group in named else OTHER_GROUP, transient)] += n
    return dict(folded)


@dataclass
class Unclaimed:
    count: int
    oldest_age_seconds: float


def unclaimed_executing(*, now: datetime.datetime | None = None) -> Unclaimed:
    """Executing orders whose current attempt no worker has claimed yet (processing is due, DESIGN §7), and
    how long the oldest of them has been executing. Parked orders (their backend is down) wait on purpose
    and are not counted; nor are attempts a worker handled and left pending on a person or an agent."""
    now = now or timezone.now()
    found = (
        Order.objects.filter(state=S.EXECUTING, processing_due_at__isnull=False)
        .filter(Q(processing_attempt__isnull=True) | ~Q(processing_attempt=F("attempt")))
        .aggregate(n=Count("id"), oldest=Min("state_entered_at"))
    )
    oldest = found["oldest"]
    return Unclaimed(count=found["n"], oldest_age_seconds=max(0.0, (now - oldest).total_seconds()) if oldest else 0.0)


def delivery_counts() -> dict[str, int]:
    """Callback deliveries by state (pending, delivered, failed = gave up)."""
    counts = {state.value: 0 for state in Delivery.States}
    counts.update(Delivery.objects.values_list("state").annotate(n=Count("id")).order_by())
    return counts


def job_counts() -> dict[tuple[str, str], int]:
    """(kind, state) → jobs."""
    return {
        (kind, state): n
        for kind, state, n in Job.objects.values_list("kind", "state").annotate(n=Count("id")).order_by()
    }


def unfinished_jobs() -> list[tuple[str, str, str, int, int]]:
    """(uuid hex, kind, state, processed, total) of queued, running and paused jobs, newest first."""
    rows = (
        Job.objects.exclude(state__in=Job.FINAL_STATES)
        .order_by("-created", "-id")
        .values_list("uuid", "kind", "state", "processed", "total")[:MAX_JOBS]
    )
    return [(uuid.hex, kind, state, processed, total) for uuid, kind, state, processed, total in rows]
