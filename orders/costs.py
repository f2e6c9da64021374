"""Cost estimates of orders from plan prices."""

from __future__ import annotations

from decimal import Decimal, localcontext
from typing import Any

from django.db.models import IntegerField

from core.statements import Param, Statement
from offerings.models import PlanComponent
from orders.states import OrderType

# a plan's prices with their components, one query (compiled once per connection: core/statements.py)
_PRICES = Statement(
    lambda: PlanComponent.objects.select_related("component").filter(plan_id=Param("plan", IntegerField())),
    prepared=True,
)


def estimate_cost(*, plan: Any, limits: dict[str, int], order_type: str) -> Decimal | None:
    """Plan price plus per-component prices × limits (÷ unit factor), plus the one-off fee of the type."""
    if plan is None:
        return None
    with localcontext(prec=100):  # prices of 22 digits × limits up to 2^53 never lose digits or raise
        return _estimate(plan, limits, order_type)


def _estimate(plan: Any, limits: dict[str, int], order_type: str) -> Decimal:
    total = Decimal(plan.unit_price)
    for plan_component in _PRICES.objects(plan=plan.pk):
        component = plan_component.component
        if component.billing_type in ("limit", "one", "few") and component.type in limits:
            total += Decimal(plan_component.price) * Decimal(limits[component.type]) / (component.unit_factor or 1)
        elif component.billing_type == "fixed":
            total += Decimal(plan_component.price) * plan_component.amount
    if order_type == OrderType.CREATE:
        total += Decimal(plan.init_price)
    elif order_type == OrderType.UPDATE:
        total += Decimal(plan.switch_price)
    return total.quantize(Decimal("0.0000000001"))
