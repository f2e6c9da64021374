"""The shape every order write shares: lock the row, check right (403), offering type (405) and state
(409), fire the FSM transition, save, write an OrderEvent, move the resource along, and register side
effects to run after commit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.utils import timezone

from orders import callbacks, dispatch
from orders.actions import ACTIONS, OrderAction, type_allows
from orders.exceptions import (
    ActionNotPermitted,
    OfferingTypeNotSupported,
    OrderNotFound,
    OrderStateConflict,
    ResourceNotFound,
)
from orders.models import Order, OrderEvent, Resource
from orders.services.resource_effects import follow_order
from orders.states import OrderState as S


def lock_order(order: Order | int) -> Order:
    """Re-read the order under a row lock (call inside a transaction); gone meanwhile → 404."""
    pk = order if isinstance(order, int) else order.pk
    locked = (
        Order.objects.select_for_update(of=("self",))
        .select_related("offering", "offering__customer", "project", "project__customer", "resource", "plan")
        .filter(pk=pk)
        .first()
    )
    if locked is None:  # deleted or unlinked by a request that won the race for the lock
        raise OrderNotFound()
    return locked


def lock_resource(resource: Resource | int) -> Resource:
    """Re-read the resource under a row lock (call inside a transaction); gone meanwhile → 404."""
    pk = resource if isinstance(resource, int) else resource.pk
    locked = (
        Resource.objects.select_for_update(of=("self",))
        .select_related("project__customer", "offering__customer")
        .filter(pk=pk)
        .first()
    )
    if locked is None:  # deleted with the Create order that placed it, by a request that won the race
        raise ResourceNotFound()
    return locked


def check_action(order: Order, action: OrderAction, actor: Any) -> None:
    """Raise the domain error for the first check that fails, in the documented order.

    `actor=None` is the system (periodic tasks, the processing pipeline): it holds every right and is
    not bound by the agent-action flags of the offering type.
    """
    if actor is not None:
        if not action.policy(actor, order):
            raise ActionNotPermitted()
        if not type_allows(action, order):
            raise OfferingTypeNotSupported(order.offering.type, action.name)
    if not action.state_allows(order):
        raise OrderStateConflict(action.name, order.state, action.valid_states())


def record_event(
    order: Order,
    *,
    kind: str,
    actor: Any,
    from_state: str = "",
    message: str = "",
    payload: dict | None = None,
) -> OrderEvent:
    return OrderEvent.objects.create(
        order=order,
        kind=kind,
        actor=actor if getattr(actor, "pk", None) else None,
        from_state=from_state,
        to_state=order.state,
        message=message,
        payload=payload or {},
    )


def mark_state_entered(order: Order, from_state: str) -> None:
    """Stamp the time the order entered its state and reset the hand-off bookkeeping (before saving).

    Entering executing makes the order due for the reconciler after RECONCILE_AFTER_SECONDS, unless a
    worker claims it first (DESIGN §7).
    """
    if order.state == from_state:
        return
    now = timezone.now()
    order.state_entered_at, order.stuck_since = now, None
    order.processing_attempt = order.processing_lease_until = None
    order.processing_retries = 0
    order.processing_due_at = None
    if order.state == S.EXECUTING:
        order.processing_due_at = now + dispatch.reconcile_after()


def after_state_change(order: Order, from_state: str) -> None:
    """Side effects of entering a state: rows written now, work handed over after commit."""
    if order.state == S.EXECUTING and from_state != S.EXECUTING:
        dispatch.enqueue_processing(order_id=order.pk, attempt=order.attempt)
    if order.callback_url and order.state != from_state:
        callbacks.record_state_change_callback(order)  # a row in this transaction, sent after commit


def run_transition(
    order: Order | int,
    *,
    action: str,
    actor: Any,
    fire: Callable[[Order], Any],
    message: str = "",
    payload: dict | None = None,
) -> Order:
    """Apply one action to one order in its own transaction; see the module docstring."""
    with transaction.atomic():
        locked = lock_order(order)
        check_action(locked, ACTIONS[action], actor)
        from_state = locked.state
        fire(locked)
        mark_state_entered(locked, from_state)
        locked.save()
        record_event(locked, kind=action, actor=actor, from_state=from_state, message=message, payload=payload)
        follow_order(locked, from_state)
        after_state_change(locked, from_state)
    return locked
