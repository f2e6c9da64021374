"""Writes that change an order's or resource's details but not its state."""

from __future__ import annotations

import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from core.api.json_values import text_problem
from orders.actions import ACTIONS
from orders.exceptions import ActionNotPermitted
from orders.models import MAX_LIMIT, Order, Resource
from orders.services import validation as v
from orders.services.base import check_action, lock_order, record_event
from orders.services.resource_effects import lock_resource
from permissions import policies

_UNSET: Any = object()


def _edit(order: Order | int, *, action: str, actor: Any, edit, message: str = "") -> Order:
    with transaction.atomic():
        locked = lock_order(order)
        check_action(locked, ACTIONS[action], actor)
        payload = edit(locked) or {}
        locked.save()
        record_event(locked, kind=action, actor=actor, from_state=locked.state, message=message, payload=payload)
    return locked


def order_update(
    *,
    order: Order | int,
    actor: Any,
    limits: dict | None = _UNSET,
    attributes: dict | None = _UNSET,
    start_date: datetime.date | None = _UNSET,
) -> Order:
    """Change limits, attributes or start date of an order still pending the consumer."""

    def edit(o: Order) -> dict:
        changed = {}
        if limits is not _UNSET:
            o.limits = v.validate_limits(limits, o.offering)
            changed["limits"] = o.limits
        if attributes is not _UNSET:
            o.attributes = v.validate_attributes(attributes)
            changed["attributes"] = sorted(o.attributes)
        if start_date is not _UNSET:
            v.validate_start_date(start_date, o.project)
            o.start_date = start_date
            changed["start_date"] = start_date.isoformat() if start_date else None
        if o.type == "Create" and o.resource.state == "Creating":
            o.resource.limits, o.resource.attributes = o.limits, o.attributes
            o.resource.save(update_fields=["limits", "attributes", "modified"])
        return changed

    return _edit(order, action="update", actor=actor, edit=edit)


def order_set_attachment(*, order: Order | int, actor: Any, attachment: Any) -> Order:
    """Upload (or replace) the purchase order of a pending order."""

    def edit(o: Order) -> dict:
        if o.attachment:
            o.attachment.delete(save=False)
        o.attachment = attachment
        return {"attachment": getattr(attachment, "name", "")}

    return _edit(order, action="update_attachment", actor=actor, edit=edit)


def order_delete_attachment(*, order: Order | int, actor: Any) -> Order:
    def edit(o: Order) -> dict:
        if not o.attachment:
            v.fail("attachment", "The order has no attachment.")
        o.attachment.delete(save=False)
        o.attachment = None
        return {}

    return _edit(order, action="delete_attachment", actor=actor, edit=edit)


def order_set_consumer_info(*, order: Order | int, actor: Any, message: str = "", attachment: Any = None) -> Order:
    """The consumer answers the provider while the order is under review."""

    def edit(o: Order) -> dict:
        o.consumer_message = message or ""
        if attachment is not None:
            o.consumer_message_attachment = attachment
        o.consumer_message_updated_at = timezone.now()
        return {}

    return _edit(order, action="set_consumer_info", actor=actor, edit=edit, message=message or "")


def order_set_provider_info(
    *, order: Order | int, actor: Any, message: str = "", url: str = "", attachment: Any = None
) -> Order:
    """The provider asks or tells the consumer something while the order is under review."""

    def edit(o: Order) -> dict:
        o.provider_message, o.provider_message_url = message or "", url or ""
        if attachment is not None:
            o.provider_message_attachment = attachment
        o.provider_message_updated_at = timezone.now()
        return {}

    return _edit(order, action="set_provider_info", actor=actor, edit=edit, message=message or "")


def order_set_backend_id(*, order: Order | int, actor: Any, backend_id: str) -> bool:
    """Record the provider's id of the order; answers whether it changed."""
    changed = False

    def edit(o: Order) -> dict:
        nonlocal changed
        changed = o.backend_id != backend_id
        old, o.backend_id = o.backend_id, backend_id
        return {"old": old, "new": backend_id}

    _edit(order, action="set_backend_id", actor=actor, edit=edit)
    return changed


def resource_set_backend_id(*, resource: Resource, actor: Any, backend_id: str) -> bool:
    """The provider (or its site agent) records its id of the resource; answers whether it changed."""
    if not policies.can_set_resource_backend_id(actor, resource):
        raise ActionNotPermitted()
    with transaction.atomic():
        locked = lock_resource(resource)
        changed = locked.backend_id != backend_id
        locked.backend_id = backend_id
        locked.save(update_fields=["backend_id", "modified"])
    return changed


def resource_set_limits(*, resource: Resource, actor: Any, limits: dict) -> Resource:
    """The provider reports the limits it actually provisioned."""
    if not policies.can_set_resource_limits_as_provider(actor, resource):
        raise ActionNotPermitted()
    if not isinstance(limits, dict) or any(
        isinstance(a, bool) or not isinstance(a, int) or not 0 <= a <= MAX_LIMIT for a in limits.values()
    ):
        v.fail("limits", f"Limits must be an object of component type to an integer from 0 to {MAX_LIMIT}.")
    if any(text_problem(str(key)) for key in limits):
        v.fail("limits", "Component types must not contain null or surrogate characters.")
    with transaction.atomic():
        locked = lock_resource(resource)
        locked.limits = dict(limits)
        locked.save(update_fields=["limits", "modified"])
    return locked
