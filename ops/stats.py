"""Order statistics for scripts and UIs, scoped to the orders the caller may see.

- `GET /api/marketplace-stats/order_stats/?start=&end=&customer_uuid=&provider_uuid=`: Waldur's endpoint of
  that name and shape (summary, by_state, by_type, daily with by_state/by_type), plus by_offering and
  by_provider: orders created in a window of dates (default the last 30 days), with a daily breakdown.
- `GET /api/marketplace-stats/order_health/?customer_uuid=&provider_uuid=`: the operators' dashboard
  (ops/dashboard.py) as JSON, for those who do not use the admin (provider owners, offering managers):
  counts per state now, failures per hour and per day with trends, error groups, oldest waiting orders.

Not authenticated: 401. Bad input or an unknown parameter: 400 naming it. An organisation the caller
cannot see: 404. Every number counts only orders the caller may see (orders.selectors.order_list_for).
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.fields import HexUUIDField
from core.api.schema import responses
from ops import selectors
from ops.dashboard import badge_level, order_health
from orders.models import Order, OrderEvent
from orders.selectors import order_list_for
from orders.states import PENDING_STATES, OrderType
from permissions.models import Customer
from permissions.scoping import visible_customers_q

DEFAULT_DAYS = 30
MAX_DAYS = 731  # the daily breakdown has one entry per day
SUMMARY_STATES = ("executing", "done", "erred", "canceled", "rejected")
REVENUE_TYPES = (OrderType.CREATE, OrderType.UPDATE)


# --- input ----------------------------------------------------------------------------------------------------


class ScopeParams(serializers.Serializer):
    customer_uuid = serializers.UUIDField(required=False, help_text="Only orders of this consumer organisation.")
    provider_uuid = serializers.UUIDField(required=False, help_text="Only orders of this provider's offerings.")


class WindowParams(ScopeParams):
    start = serializers.DateField(
        required=False, help_text=f"First day (YYYY-MM-DD); default {DEFAULT_DAYS - 1} days before end."
    )
    end = serializers.DateField(required=False, help_text="Last day, included (YYYY-MM-DD); default today.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        end = attrs.get("end") or timezone.localdate()
        start = attrs.get("start") or end - datetime.timedelta(days=DEFAULT_DAYS - 1)
        if start > end:
            raise ValidationError({"start": ["Must not be after end."]})
        if (end - start).days + 1 > MAX_DAYS:
            raise ValidationError({"start": [f"The window may span at most {MAX_DAYS} days."]})
        return {**attrs, "start": start, "end": end}


def _params(serializer_class: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    """The validated query parameters; an unknown one is a 400 naming it (a typo never widens the scope)."""
    known = set(serializer_class().fields) | {"format"}
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        raise ValidationError({name: ["Unknown parameter."] for name in unknown})
    params = serializer_class(data={k: request.query_params.get(k) for k in request.query_params})
    params.is_valid(raise_exception=True)
    return dict(params.validated_data)


def scoped_orders(user, params: dict[str, Any]) -> QuerySet[Order]:
    """The orders the user may see, narrowed to the organisations named (404 if the caller cannot see one)."""
    orders = order_list_for(user, joins=())
    if "customer_uuid" in params:
        customers = Customer.objects.filter(uuid=params["customer_uuid"])
        visible = visible_customers_q(user)
        customer = (customers if visible is None else customers.filter(visible)).values_list("pk", flat=True).first()
        if customer is None:
            raise NotFound("No such organisation (or it is not visible to you).")
        orders = orders.filter(project__customer_id=customer)
    if "provider_uuid" in params:
        provider = Customer.objects.filter(uuid=params["provider_uuid"]).values_list("pk", flat=True).first()
        if provider is None:
            raise NotFound("No such provider organisation.")
        orders = orders.filter(offering__customer_id=provider)
    return orders


# --- order_stats ----------------------------------------------------------------------------------------------


def _cost(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


def _zeros(keys: list[str]) -> dict[str, int]:
    return dict.fromkeys(keys, 0)


def _add(total: Decimal | None, value: Decimal | None) -> Decimal | None:
    return total if value is None else (total or Decimal(0)) + value


def _tally() -> dict[str, Any]:
    return {
        "total": 0,
        "cost": None,
        "revenue": None,
        "by_state": _zeros(selectors.STATES),
        "by_type": _zeros(selectors.TYPES),
    }


def order_stats(orders: QuerySet[Order], *, start: datetime.date, end: datetime.date) -> dict[str, Any]:
    """Orders created from `start` to `end` (dates in the current time zone, both included): two queries.
    Revenue, as Waldur defines it, is the cost of the Create and Update orders."""
    tz = timezone.get_current_timezone()
    since = timezone.make_aware(datetime.datetime.combine(start, datetime.time()), tz)
    until = timezone.make_aware(datetime.datetime.combine(end + datetime.timedelta(days=1), datetime.time()), tz)
    window = orders.filter(created__gte=since, created__lt=until)
    daily = {start + datetime.timedelta(days=n): _tally() for n in range((end - start).days + 1)}
    overall = _tally()
    for row in selectors.order_window_counts(window, tz=tz):
        for tally in (daily[row["day"]], overall):
            tally["total"] += row["n"]
            tally["by_state"][row["state"]] = tally["by_state"].get(row["state"], 0) + row["n"]
            tally["by_type"][row["type"]] = tally["by_type"].get(row["type"], 0) + row["n"]
            tally["cost"] = _add(tally["cost"], row["cost"])
            if row["type"] in REVENUE_TYPES:
                tally["revenue"] = _add(tally["revenue"], row["cost"])
    offerings: dict[str, dict[str, Any]] = {}
    providers: dict[str, dict[str, Any]] = {}
    for row in selectors.order_offering_counts(window):
        offering = offerings.setdefault(row["offering__uuid"].hex, {
            "offering_uuid": row["offering__uuid"].hex, "offering_name": row["offering__name"],
            "offering_type": row["offering__type"], "provider_uuid": row["offering__customer__uuid"].hex,
            "provider_name": row["offering__customer__name"], "total": 0, "by_state": _zeros(selectors.STATES),
        })  # fmt: skip
        provider = providers.setdefault(row["offering__customer__uuid"].hex, {
            "provider_uuid": row["offering__customer__uuid"].hex, "provider_name": row["offering__customer__name"],
            "total": 0, "by_state": _zeros(selectors.STATES),
        })  # fmt: skip
        for entry in (offering, provider):
            entry["total"] += row["n"]
            entry["by_state"][row["state"]] += row["n"]
    by_state = overall["by_state"]
    return {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "summary": {
            "total": overall["total"],
            "total_cost": _cost(overall["cost"]),
            "total_revenue": _cost(overall["revenue"]),
            "pending": sum(by_state[state] for state in PENDING_STATES),
            **{state: by_state[state] for state in SUMMARY_STATES},
        },
        "by_state": by_state,
        "by_type": overall["by_type"],
        "by_offering": sorted(offerings.values(), key=lambda e: (-e["total"], e["offering_name"], e["offering_uuid"])),
        "by_provider": sorted(providers.values(), key=lambda e: (-e["total"], e["provider_name"], e["provider_uuid"])),
        "daily": [
            {
                "date": day.isoformat(),
                "total": tally["total"],
                "total_cost": _cost(tally["cost"]),
                "revenue": _cost(tally["revenue"]),
                "by_state": tally["by_state"],
                "by_type": tally["by_type"],
            }
            for day, tally in daily.items()
        ],
    }


# --- output (for the schema) ------------------------------------------------------------------------------------


def _counts(help_text: str) -> serializers.DictField:
    return serializers.DictField(child=serializers.IntegerField(), help_text=help_text)


class OrderStatsSummarySerializer(serializers.Serializer):
    total = serializers.IntegerField()
    total_cost = serializers.CharField(allow_null=True, help_text="Sum of the orders' cost; null when none has one.")
    total_revenue = serializers.CharField(allow_null=True, help_text="Sum of the cost of Create and Update orders.")
    pending = serializers.IntegerField(help_text="In any of the four pending states.")
    executing = serializers.IntegerField()
    done = serializers.IntegerField()
    erred = serializers.IntegerField()
    canceled = serializers.IntegerField()
    rejected = serializers.IntegerField()


class DailyOrderStatsSerializer(serializers.Serializer):
    date = serializers.DateField()
    total = serializers.IntegerField()
    total_cost = serializers.CharField(allow_null=True)
    revenue = serializers.CharField(allow_null=True, help_text="Cost of that day's Create and Update orders.")
    by_state = _counts("Orders created that day, by their state now.")
    by_type = _counts("Orders created that day, by type.")


class OfferingOrderStatsSerializer(serializers.Serializer):
    offering_uuid = HexUUIDField()
    offering_name = serializers.CharField()
    offering_type = serializers.CharField()
    provider_uuid = HexUUIDField()
    provider_name = serializers.CharField()
    total = serializers.IntegerField()
    by_state = _counts("By state now.")


class ProviderOrderStatsSerializer(serializers.Serializer):
    provider_uuid = HexUUIDField()
    provider_name = serializers.CharField()
    total = serializers.IntegerField()
    by_state = _counts("By state now.")


class OrderStatsResponseSerializer(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()
    summary = OrderStatsSummarySerializer()
    by_state = _counts("Every state, zeros included.")
    by_type = _counts("Every order type, zeros included.")
    by_offering = OfferingOrderStatsSerializer(many=True)
    by_provider = ProviderOrderStatsSerializer(many=True)
    daily = DailyOrderStatsSerializer(many=True, help_text="One entry per day of the window, empty days included.")


class OrderStatsView(APIView):
    """Waldur's `marketplace-stats/order_stats`: orders created in a window, with a daily breakdown."""

    @extend_schema(
        operation_id="marketplace_stats_order_stats_retrieve",
        tags=["marketplace-stats"],
        parameters=[WindowParams],
        responses=responses({200: OrderStatsResponseSerializer}, 400, 404),
        description="Orders you may see, created from start to end (dates, both included; default the last "
        "30 days): counts by state, type, offering and provider, and per day.",
    )
    def get(self, request: Request) -> Response:
        params = _params(WindowParams, request)
        orders = scoped_orders(request.user, params)
        return Response(order_stats(orders, start=params["start"], end=params["end"]))


# --- order_health ---------------------------------------------------------------------------------------------


class ErrorGroupSerializer(serializers.Serializer):
    error_group = serializers.CharField(help_text="The error message with its variable parts replaced.")
    offering_uuid = HexUUIDField()
    offering_name = serializers.CharField()
    provider_name = serializers.CharField()
    count = serializers.IntegerField()
    first_seen = serializers.DateTimeField(allow_null=True)
    last_seen = serializers.DateTimeField(allow_null=True)


class WaitingSerializer(serializers.Serializer):
    state = serializers.CharField()
    count = serializers.IntegerField()
    oldest_age_seconds = serializers.IntegerField(allow_null=True)
    target_seconds = serializers.IntegerField(help_text="The target of the most overdue order's offering type.")
    percent_of_target = serializers.IntegerField(allow_null=True, help_text="Of the most overdue order.")
    badge = serializers.IntegerField(help_text="0, 50, 75 or 100: the share of the target reached.")


class TrendSerializer(serializers.Serializer):
    current = serializers.IntegerField()
    previous = serializers.IntegerField(help_text="The period of the same length before.")


class HourCountSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    count = serializers.IntegerField()


class DayCountSerializer(serializers.Serializer):
    date = serializers.DateField()
    count = serializers.IntegerField()


class OrderHealthSerializer(serializers.Serializer):
    counts = _counts("Orders per state now (all nine) and `stuck` (executing past their type's stuck_after).")
    failures_per_hour = HourCountSerializer(many=True, help_text="The last 24 hours, oldest first.")
    failures_per_day = DayCountSerializer(many=True, help_text="The last 30 days, oldest first.")
    failures_last_24_hours = TrendSerializer()
    failures_last_30_days = TrendSerializer()
    error_groups = ErrorGroupSerializer(many=True)
    waiting = WaitingSerializer(many=True)


def order_health_representation(health: dict[str, Any]) -> dict[str, Any]:
    failures = health["failures"]
    return {
        "counts": health["counts"],
        "failures_per_hour": [{"start": hour.isoformat(), "count": n} for hour, n in failures["hours"]],
        "failures_per_day": [{"date": day.isoformat(), "count": n} for day, n in failures["days"]],
        "failures_last_24_hours": {
            "current": failures["hours_trend"].current,
            "previous": failures["hours_trend"].previous,
        },
        "failures_last_30_days": {
            "current": failures["days_trend"].current,
            "previous": failures["days_trend"].previous,
        },
        "error_groups": [
            {
                "error_group": g.group,
                "offering_uuid": g.offering_uuid,
                "offering_name": g.offering_name,
                "provider_name": g.provider_name,
                "count": g.count,
                "first_seen": g.first_seen.isoformat() if g.first_seen else None,
                "last_seen": g.last_seen.isoformat() if g.last_seen else None,
            }  # fmt: skip
            for g in health["error_groups"]
        ],
        "waiting": [
            {
                "state": w.state,
                "count": w.count,
                "oldest_age_seconds": None if w.oldest_age is None else int(w.oldest_age.total_seconds()),
                "target_seconds": int(w.worst_target.total_seconds()),
                "percent_of_target": None if w.worst_ratio is None else round(100 * w.worst_ratio),
                "badge": badge_level(w.worst_ratio),
            }
            for w in (entry["row"] for entry in health["waiting"])
        ],
    }


class OrderHealthView(APIView):
    """The operators' dashboard as JSON, scoped to the caller (the admin is for staff only)."""

    @extend_schema(
        operation_id="marketplace_stats_order_health_retrieve",
        tags=["marketplace-stats"],
        parameters=[ScopeParams],
        responses=responses({200: OrderHealthSerializer}, 400, 404),
        description="The health of fulfilment for the orders you may see: counts per state now, failures per "
        "hour (24 h) and per day (30 days) with the previous period, error groups of erred orders, and the oldest "
        "waiting order per state against its target.",
    )
    def get(self, request: Request) -> Response:
        orders = scoped_orders(request.user, _params(ScopeParams, request))
        events = OrderEvent.objects.filter(order__in=orders.values("pk"))
        return Response(order_health_representation(order_health(orders=orders, events=events)))


__all__ = ["OrderHealthView", "OrderStatsView", "order_stats"]
