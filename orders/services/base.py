"""The shape every order write shares: lock the row, check right (403), offering type (405) and state
(409), fire the FSM transition, save, write an OrderEvent, move the resource along, and register side
effects to run after commit.

An API action reads its order once: `order_locked_for_write` opens the transaction and locks the row
(with the offering and project the policies read) where the view would have read it, and the service
then writes that row as it is instead of reading it again. Saves write the columns that changed."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.db import transaction
from django.db.models import UUIDField
from django.utils import timezone

from core.statements import Param, Statement
from core.writes import insert
from offerings.registry import get_offering_type
from orders import callbacks, dispatch
from orders.actions import ACTIONS, OrderAction, type_allows
from orders.exceptions import (
    ActionNotPermitted,
    OfferingTypeNotSupported,
    OrderNotFound,
    OrderStateConflict,
)
from orders.models import Order, OrderEvent
from orders.services.changes import save_changes, snapshot
from orders.services.resource_effects import follow_order
from orders.states import OrderState as S
from permissions.scoping import visible_condition, visible_ids


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


# The order locked by the enclosing `order_locked_for_write` block, if any (the instance itself).
_LOCKED_FOR_WRITE: ContextVar[Order | None] = ContextVar("order_locked_for_write", default=None)


def _locked_statement(visible: bool) -> Statement:
    def build():
        queryset = Order.objects.select_for_update(of=("self",)).select_related("offering", "project")
        queryset = queryset.filter(uuid=Param("uuid", UUIDField()))
        return queryset.filter(visible_condition()) if visible else queryset

    return Statement(build, prepared=True)


_LOCKED = {False: _locked_statement(visible=False), True: _locked_statement(visible=True)}


@contextmanager
def order_locked_for_write(*, uuid: Any, viewer: Any = None) -> Iterator[Order | None]:
    """One transaction around an action on one order, which starts by locking it: the order with `uuid`,
    if `viewer` may see it (None: no viewer to check), with its offering and project, in one statement
    compiled once per connection (core/statements.py); None when there is none. A service given this
    instance inside the block writes it as it is: it was read under the lock it still holds."""
    ids = None if viewer is None else visible_ids(viewer)
    with transaction.atomic():
        order = _LOCKED[ids is not None].first(uuid=uuid, **(ids or {}))
        token = _LOCKED_FOR_WRITE.set(order)
        try:
            yield order
        finally:
            _LOCKED_FOR_WRITE.reset(token)


def _held(order: Order | int) -> bool:
    """Whether `order` is the instance locked by the enclosing `order_locked_for_write` block."""
    return isinstance(order, Order) and order is _LOCKED_FOR_WRITE.get()


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
    event = OrderEvent(
        order=order,
        kind=kind,
        actor=actor if getattr(actor, "pk", None) else None,
        from_state=from_state,
        to_state=order.state,
        message=message,
        payload=payload or {},
    )
    return insert(event)


def mark_state_entered(order: Order, from_state: str) -> None:
    """Stamp the time the order entered its state and reset the hand-off bookkeeping (before saving).

    Entering executing makes the order due for the reconciler after RECONCILE_AFTER_SECONDS, unless a
    worker claims it first (DESIGN §7). An order whose processing calls nothing is handed over right here
    instead: its attempt is marked handled in the same row write, nothing is sent and nothing becomes due.
    """
    if order.state == from_state:
        return
    now = timezone.now()
    order.state_entered_at, order.stuck_since = now, None
    order.processing_attempt = order.processing_lease_until = None
    order.processing_retries = 0
    order.processing_due_at = None
    if order.state == S.EXECUTING:
        if handed_over_on_entry(order):
            order.processing_attempt = order.attempt
        else:
            order.processing_due_at = now + dispatch.reconcile_after()


def handed_over_on_entry(order: Order) -> bool:
    """Entering executing needs no worker: the offering type's processing calls nothing (a person or a
    site agent provisions) and the offering's backend is not marked down (recovery decides about those:
    orders/processing.py parks or hands them over). Processing it would only write what this transition
    writes anyway, one commit and a task later."""
    spec = get_offering_type(order.offering.type)
    return spec is not None and spec.calls_nothing and order.offering.backend_healthy


def record_processing(order: Order, *, attempt: int, result: Any, processor: type) -> OrderEvent:
    """The history line of one processing of an attempt: what `processor` said it did (its ProcessResult)."""
    return record_event(
        order, kind="processing", actor=None, from_state=order.state, message=result.message,
        payload={"attempt": attempt, "outcome": str(result.outcome), "processor": processor.__name__},
    )  # fmt: skip


def after_state_change(order: Order, from_state: str) -> None:
    """Side effects of entering a state: rows written now, work handed over after commit."""
    if order.state == S.EXECUTING and from_state != S.EXECUTING:
        if order.processing_attempt == order.attempt:  # handed over on entry (mark_state_entered)
            _process_on_entry(order)
        else:
            dispatch.enqueue_processing(order_id=order.pk, attempt=order.attempt)
    if order.callback_url and order.state != from_state:
        callbacks.record_state_change_callback(order)  # a row in this transaction, sent after commit


def _process_on_entry(order: Order) -> None:
    """What processing the attempt would record, recorded in the transition's own transaction."""
    processor = get_offering_type(order.offering.type).processor
    record_processing(order, attempt=order.attempt, result=processor().process(order), processor=processor)


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
    held = _held(order)
    with transaction.atomic(savepoint=not held):  # held: already in the transaction that locked it
        locked = order if held else lock_order(order)
        check_action(locked, ACTIONS[action], actor)
        from_state = locked.state
        before = snapshot(locked)
        fire(locked)
        mark_state_entered(locked, from_state)
        save_changes(locked, before)
        record_event(locked, kind=action, actor=actor, from_state=from_state, message=message, payload=payload)
        follow_order(locked, from_state)
        after_state_change(locked, from_state)
    return locked
