"""Cancelling, deleting and unlinking orders, and releasing orders that wait for a date."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.utils import timezone

from orders.actions import ACTIONS
from orders.approval import route_after_consumer
from orders.exceptions import OrderStateConflict
from orders.models import Order
from orders.services.base import check_action, lock_order, run_transition
from orders.services.resource_effects import move_resource
from orders.states import OrderState as S
from orders.states import OrderType
from orders.states import ResourceState as R

logger = logging.getLogger(__name__)


def order_cancel(*, order: Order | int, actor: Any, comment: str = "") -> Order:
    """The consumer withdraws an order that has not finished (offering types that allow it)."""
    return run_transition(
        order, action="cancel", actor=actor, fire=lambda o: o.cancel(comment=comment), message=comment
    )


def order_release_project(*, order: Order | int, actor: Any = None) -> Order:
    """The project has started: route the order on as after consumer approval."""

    def fire(o: Order) -> None:
        route = route_after_consumer(order=o, today=timezone.localdate())
        if route == S.PENDING_PROJECT:
            raise OrderStateConflict("release_project", o.state, [], reason=f"project starts on {o.project.start_date}")
        o.release_project(route=route)

    return run_transition(order, action="release_project", actor=actor, fire=fire)


def order_release_start_date(*, order: Order | int, actor: Any = None) -> Order:
    """The order's start date has come: start processing."""
    return run_transition(order, action="release_start_date", actor=actor, fire=lambda o: o.release_start_date())


def order_delete(*, order: Order | int, actor: Any) -> None:
    """Delete a pending order; a Create order's never-provisioned resource goes with it."""
    with transaction.atomic():
        locked = lock_order(order)
        check_action(locked, ACTIONS["destroy"], actor)
        resource = locked.resource
        logger.info(
            "order %s deleted by %s in state %s",
            locked.uuid.hex,
            actor,
            locked.state,
            extra={"order_uuid": locked.uuid.hex},
        )
        locked.delete()
        if locked.type == OrderType.CREATE and not resource.backend_id and not resource.orders.exists():
            resource.delete()
        elif resource.state in (R.UPDATING, R.TERMINATING):
            move_resource(resource, "set_ok")
            resource.save()


def order_unlink(*, order: Order | int, actor: Any) -> None:
    """Staff remove an order row whatever its state; the backend is not touched."""
    with transaction.atomic():
        locked = lock_order(order)
        check_action(locked, ACTIONS["unlink"], actor)
        logger.warning(
            "order %s unlinked by %s in state %s",
            locked.uuid.hex,
            actor,
            locked.state,
            extra={"order_uuid": locked.uuid.hex},
        )
        locked.delete()
