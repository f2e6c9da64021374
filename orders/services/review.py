"""Consumer and provider review of orders."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from orders.approval import route_after_consumer, route_after_provider
from orders.models import Order
from orders.services import validation as v
from orders.services.base import run_transition


def order_approve_by_consumer(*, order: Order | int, actor: Any) -> Order:
    """Consumer approval; the order moves on to whoever must look next (DESIGN §5)."""

    def fire(o: Order) -> None:
        o.approve_by_consumer(user=actor, route=route_after_consumer(order=o, today=timezone.localdate()))

    return run_transition(order, action="approve_by_consumer", actor=actor, fire=fire)


def order_reject_by_consumer(*, order: Order | int, actor: Any, comment: str = "") -> Order:
    """Consumer rejection: the order ends rejected and a never-provisioned resource is terminated."""
    return run_transition(
        order,
        action="reject_by_consumer",
        actor=actor,
        fire=lambda o: o.reject_by_consumer(user=actor, comment=comment),
        message=comment,
    )


def order_approve_by_provider(*, order: Order | int, actor: Any, attributes: dict | None = None) -> Order:
    """Provider approval: executing (or waiting for the start date) before the caller gets the answer."""

    def fire(o: Order) -> None:
        if attributes:
            o.attributes = v.validate_attributes({**o.attributes, **attributes})  # the merge obeys the caps
        o.approve_by_provider(user=actor, route=route_after_provider(order=o, today=timezone.localdate()))

    return run_transition(order, action="approve_by_provider", actor=actor, fire=fire)


def order_reject_by_provider(*, order: Order | int, actor: Any, comment: str = "") -> Order:
    """Provider rejection."""
    return run_transition(
        order,
        action="reject_by_provider",
        actor=actor,
        fire=lambda o: o.reject_by_provider(user=actor, comment=comment),
        message=comment,
    )
