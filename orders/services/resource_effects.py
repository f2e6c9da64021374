"""How a resource follows its order (DESIGN §4): one table of order type × new order state."""

from __future__ import annotations

from django.db.models import IntegerField
from django_fsm import can_proceed

from core.statements import Param, Statement
from orders.exceptions import ResourceNotFound, ResourceStateConflict
from orders.models import Order, Resource
from orders.services.changes import save_changes, snapshot
from orders.states import RESOURCE_STATE_WHILE_PROCESSING, OrderType
from orders.states import OrderState as S
from orders.states import ResourceState as R

_T = OrderType
# (order type, order state reached) → resource transition method
ON_STATE: dict[tuple[str, str], str] = {
    (_T.CREATE, S.DONE): "set_ok",
    (_T.RESTORE, S.DONE): "set_ok",
    (_T.UPDATE, S.DONE): "set_ok",
    (_T.TERMINATE, S.DONE): "set_terminated",
    (_T.CREATE, S.ERRED): "set_erred",
    (_T.RESTORE, S.ERRED): "set_erred",
    (_T.UPDATE, S.ERRED): "set_erred",
    (_T.TERMINATE, S.ERRED): "set_ok",
    (_T.CREATE, S.REJECTED): "set_terminated",
    (_T.RESTORE, S.REJECTED): "set_terminated",
    (_T.UPDATE, S.REJECTED): "set_ok",
    (_T.TERMINATE, S.REJECTED): "set_ok",
    (_T.CREATE, S.CANCELED): "set_terminated",
    (_T.RESTORE, S.CANCELED): "set_terminated",
    (_T.UPDATE, S.CANCELED): "set_ok",
    (_T.TERMINATE, S.CANCELED): "set_ok",
}

PROCESSING_METHOD = {R.CREATING: "set_creating", R.UPDATING: "set_updating", R.TERMINATING: "set_terminating"}


def move_resource(resource: Resource, method: str, **kwargs) -> None:
    transition = getattr(resource, method)
    if not can_proceed(transition):
        raise ResourceStateConflict(
            f"Resource {resource.uuid.hex} in state {resource.state} cannot move on ({method})."
        )
    transition(**kwargs)


def processing_method(order_type: str) -> str:
    return PROCESSING_METHOD[RESOURCE_STATE_WHILE_PROCESSING[order_type]]


_LOCKED_RESOURCE = Statement(
    lambda: (
        Resource.objects.select_for_update(of=("self",))
        .select_related("project__customer", "offering__customer")  # what the resource's own actions check
        .filter(pk=Param("pk", IntegerField()))
        .order_by()
    ),
    prepared=True,
)


def lock_resource(resource: Resource | int) -> Resource:
    """Re-read the resource under a row lock (call inside a transaction), in one statement compiled once
    per connection; gone meanwhile (deleted with the Create order that placed it, by a request that won
    the race) → 404."""
    locked = _LOCKED_RESOURCE.first(pk=resource if isinstance(resource, int) else resource.pk)
    if locked is None:
        raise ResourceNotFound()
    return locked


def follow_order(order: Order, from_state: str) -> None:
    """Move the order's resource after the order moved from `from_state` to its current state; the
    resource is locked and read only when it moves."""
    retrying = order.state == S.EXECUTING and from_state == S.ERRED
    method = None if retrying else ON_STATE.get((order.type, order.state))
    if not retrying and method is None:
        return
    resource = lock_resource(order.resource_id)
    before = snapshot(resource)
    if retrying:
        move_resource(resource, processing_method(order.type))  # retry: back to an active state
    else:
        if order.state == S.DONE and order.type == _T.UPDATE:
            apply_update(order, resource)
        if method == "set_erred":
            move_resource(resource, method, message=order.error_message, traceback=order.error_traceback)
        elif resource.state != R.OK or method != "set_ok":
            move_resource(resource, method)
    save_changes(resource, before)
    order.resource = resource


def apply_update(order: Order, resource: Resource) -> None:
    """A finished Update order applies its new limits and plan to the resource."""
    if order.limits:
        resource.limits = {**resource.limits, **order.limits}
    if order.plan_id:
        resource.plan_id = order.plan_id
