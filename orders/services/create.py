"""Placing orders: a Create order with its new resource, and Update/Terminate orders on resources."""

from __future__ import annotations

import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from core.writes import insert
from offerings.registry import get_offering_type
from orders.approval import OrderDraft, route_new_order
from orders.costs import estimate_cost
from orders.exceptions import ActionNotPermitted
from orders.models import Order, Resource
from orders.services import validation as v
from orders.services.base import after_state_change, mark_state_entered, record_event
from orders.services.resource_effects import lock_resource, move_resource, processing_method
from orders.states import OrderState as S
from orders.states import OrderType
from permissions import policies

_RELATIONS = [f.name for f in Order._meta.concrete_fields if f.is_relation]


def _slug(*parts: str) -> str:
    return slugify("-".join(p for p in parts if p))[:140] or "order"


def place_order(
    *,
    actor: Any,
    order_type: str,
    project: Any,
    offering: Any,
    resource: Resource,
    plan: Any = None,
    old_plan: Any = None,
    limits: dict | None = None,
    attributes: dict | None = None,
    callback_url: str | None = None,
    request_comment: str = "",
    start_date: datetime.date | None = None,
    slug: str = "",
) -> Order:
    """Save a routed order, its event and side effects (call inside a transaction, after validation).

    The offering type's validate hook sees the unsaved order last; its refusal (400) undoes the transaction."""
    cost = estimate_cost(plan=plan, limits=limits or {}, order_type=order_type)
    v.validate_cost(cost)
    draft = OrderDraft(offering=offering, project=project, start_date=start_date)
    route = route_new_order(order=draft, author=actor, today=timezone.localdate())
    author = actor if getattr(actor, "pk", None) else None
    reviewed = route != S.PENDING_CONSUMER and author is not None
    order = Order(
        type=order_type,
        state=route,
        project=project,
        offering=offering,
        resource=resource,
        plan=plan,
        old_plan=old_plan,
        limits=limits or {},
        attributes=attributes or {},
        callback_url=callback_url or None,
        request_comment=request_comment or "",
        start_date=start_date,
        created_by=author,
        consumer_reviewed_by=author if reviewed else None,
        consumer_reviewed_at=timezone.now() if reviewed else None,
        cost=cost,
        slug=slug or _slug(project.customer.slug, offering.slug, timezone.localdate().isoformat()),
    )
    # the related rows were read by the caller (no existence query per key); the one unique column is the
    # fresh uuid4, which the database's unique index guards anyway
    order.full_clean(exclude=["state", "attachment", *_RELATIONS], validate_unique=False)
    offering_type = get_offering_type(offering.type)
    if offering_type is not None:  # an unknown type is taken and errs in processing, with its reason
        offering_type.validate(order)  # the type's own checks (400); raising rolls the resource back too
    mark_state_entered(order, from_state="")
    insert(order)
    record_event(order, kind="create", actor=actor, payload={"type": order_type})
    after_state_change(order, from_state="")
    return order


def order_create(
    *,
    actor: Any,
    project: Any,
    offering: Any,
    plan: Any = None,
    limits: dict | None = None,
    attributes: dict | None = None,
    callback_url: str | None = None,
    request_comment: str = "",
    start_date: datetime.date | None = None,
    slug: str = "",
) -> Order:
    """Order a new resource; the resource is created in Creating in the same transaction."""
    if not policies.can_create_order(actor, project):
        raise ActionNotPermitted("You do not have permission to create orders in this project.")
    v.validate_consumer(project)
    v.validate_offering_for(actor, offering, project)
    v.validate_plan(plan, offering, required=offering.shared)
    limits = v.validate_limits(limits, offering)
    attributes = v.validate_attributes(attributes)
    v.validate_start_date(start_date, project)
    with transaction.atomic():
        name = str(attributes.get("name") or "")
        resource = Resource(
            name=name,
            slug=_slug(name or offering.slug, timezone.now().strftime("%H%M%S")),
            project=project,
            offering=offering,
            plan=plan,
            limits=limits,
            attributes=attributes,
        )
        insert(resource)
        return place_order(
            actor=actor, order_type=OrderType.CREATE, project=project, offering=offering, resource=resource,
            plan=plan, limits=limits, attributes=attributes, callback_url=callback_url,
            request_comment=request_comment, start_date=start_date, slug=slug,
        )  # fmt: skip


def _order_on_resource(
    *, actor: Any, resource: Resource, order_type: str, allowed: tuple[str, ...], **fields: Any
) -> Order:
    with transaction.atomic():
        locked = lock_resource(resource)
        v.validate_consumer(locked.project, terminating=order_type == OrderType.TERMINATE)
        if locked.state not in allowed:
            raise v.ResourceStateConflict(
                f"Resource in state {locked.state} cannot take a {order_type} order. "
                f"Valid states for operation: {', '.join(allowed)}."
            )
        v.validate_no_active_order(locked)
        move_resource(locked, processing_method(order_type))
        locked.save()
        return place_order(
            actor=actor, order_type=order_type, project=locked.project, offering=locked.offering,
            resource=locked, **fields,
        )  # fmt: skip


def resource_terminate(*, actor: Any, resource: Resource, attributes: dict | None = None) -> Order:
    """Place a Terminate order for the resource."""
    if not policies.can_terminate_resource(actor, resource):
        raise ActionNotPermitted()
    return _order_on_resource(
        actor=actor, resource=resource, order_type=OrderType.TERMINATE, allowed=("OK", "Erred"),
        attributes=v.validate_attributes(attributes), plan=resource.plan,
    )  # fmt: skip


def resource_update_limits(*, actor: Any, resource: Resource, limits: dict) -> Order:
    """Place an Update order that changes the resource's limits."""
    if not policies.can_update_resource_limits(actor, resource):
        raise ActionNotPermitted()
    limits = v.validate_limits(limits, resource.offering)
    if not limits:
        v.fail("limits", "This field is required.")
    if limits == {k: resource.limits.get(k) for k in limits}:
        v.fail("limits", "Limits are not changed.")
    return _order_on_resource(
        actor=actor, resource=resource, order_type=OrderType.UPDATE, allowed=("OK",),
        limits=limits, plan=resource.plan, attributes={"old_limits": resource.limits},
    )  # fmt: skip


def resource_switch_plan(*, actor: Any, resource: Resource, plan: Any) -> Order:
    """Place an Update order that moves the resource to another plan of its offering."""
    if not policies.can_switch_resource_plan(actor, resource):
        raise ActionNotPermitted()
    v.validate_plan(plan, resource.offering, required=True)
    if plan.pk == resource.plan_id:
        v.fail("plan", "The resource already uses this plan.")
    return _order_on_resource(
        actor=actor, resource=resource, order_type=OrderType.UPDATE, allowed=("OK",),
        plan=plan, old_plan=resource.plan, limits=resource.limits,
    )  # fmt: skip
