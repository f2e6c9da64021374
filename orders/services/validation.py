"""Checks shared by every path that places an order (create, terminate, update limits, switch plan).

Each raises OrderValidationError with field-level messages (400) and changes nothing."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.db.models import IntegerField
from django.utils import timezone

from core.api.json_values import attributes_problem, text_problem
from core.statements import Param, Statement
from offerings.models import Offering, OfferingComponent
from orders.exceptions import OrderValidationError, ResourceStateConflict
from orders.models import MAX_LIMIT, Order
from orders.states import ACTIVE_STATES, ResourceState
from permissions import policies

ORDERABLE_BILLING_TYPES = ("limit", "one", "few")
NAME_MAX_LENGTH = 150
MAX_COST = Decimal(10**12)  # Order.cost: 22 digits, 10 of them decimals


def fail(field: str, message: str) -> None:
    raise OrderValidationError(message, field_errors={field: [message]})


def validate_consumer(project: Any, *, terminating: bool = False) -> None:
    customer = project.customer
    if customer.blocked:
        fail("project", "Blocked organization is not available.")
    if customer.archived:
        fail("project", "Archived organization is not available.")
    if project.is_removed:
        fail("project", "Cannot create orders for terminated projects.")
    if not terminating and project.end_date and project.end_date < timezone.localdate():
        fail("project", f"Project '{project.name}' is expired.")


def validate_offering_for(user: Any, offering: Any, project: Any) -> None:
    if offering.state != Offering.States.ACTIVE:
        fail("offering", "Offering is not available.")
    foreign = offering.customer_id != project.customer_id and offering.project_id != project.pk
    if offering.is_private and foreign and not policies.is_staff(user):
        fail("offering", "This private offering is not available for the selected project.")


def validate_plan(plan: Any, offering: Any, *, required: bool) -> None:
    if plan is None:
        if required:
            fail("plan", "Plan is required when creating resources.")
        return
    if plan.offering_id != offering.pk:
        fail("plan", "This plan is not available for selected offering.")
    if plan.archived:
        fail("plan", "This plan is archived.")
    if plan.max_amount is not None:
        used = plan.resources.exclude(state=ResourceState.TERMINATED).count()
        if used >= plan.max_amount:
            fail("plan", "Plan is not available because limit has been reached.")


_COMPONENTS = Statement(
    lambda: OfferingComponent.objects.filter(offering_id=Param("offering", IntegerField())), prepared=True
)


def validate_limits(limits: Any, offering: Any) -> dict[str, int]:
    if limits in (None, ""):
        return {}
    if not isinstance(limits, dict):
        fail("limits", "Limits must be an object of component type to integer.")
    components = {c.type: c for c in _COMPONENTS.objects(offering=offering.pk)}
    errors: list[str] = []
    for key, amount in limits.items():
        component = components.get(key)
        if (problem := text_problem(str(key))) is not None:
            errors.append(f"Component type {key!r}: {problem}")
        elif component is None:
            errors.append(f"{key!r} is not a component of this offering.")
        elif component.billing_type not in ORDERABLE_BILLING_TYPES:
            errors.append(f"Component {key!r} is billed by {component.billing_type}; it takes no limit.")
        elif isinstance(amount, bool) or not isinstance(amount, int):
            errors.append(f"Limit of {key!r} must be an integer.")
        elif amount < 0:
            errors.append(f"Limit of {key!r} must not be negative.")
        elif amount > MAX_LIMIT:
            errors.append(f"Limit of {key!r} must be at most {MAX_LIMIT}.")
        elif component.min_value is not None and amount < component.min_value:
            errors.append(f"Limit of {key!r} must be at least {component.min_value}.")
        elif component.max_value is not None and amount > component.max_value:
            errors.append(f"Limit of {key!r} must be at most {component.max_value}.")
    if errors:
        raise OrderValidationError(errors[0], field_errors={"limits": errors})
    return dict(limits)


def validate_attributes(attributes: Any) -> dict:
    if attributes in (None, ""):
        return {}
    if not isinstance(attributes, dict):
        fail("attributes", "Attributes must be a JSON object.")
    if (problem := attributes_problem(attributes)) is not None:
        fail("attributes", problem)
    name = attributes.get("name")
    if name is not None and (not isinstance(name, str) or len(name) > NAME_MAX_LENGTH):
        fail("attributes", f"Resource name must be a string of at most {NAME_MAX_LENGTH} characters.")
    return dict(attributes)


def validate_cost(cost: Decimal | None) -> None:
    """The estimated cost must fit the order's cost column; limits that price beyond it are refused."""
    if cost is not None and cost >= MAX_COST:
        fail("limits", f"These limits make the order cost {cost:.2f}, more than an order can cost.")


def validate_start_date(start_date: datetime.date | None, project: Any) -> None:
    if start_date is None:
        return
    if start_date < timezone.localdate():
        fail("start_date", "Start date must not be in the past.")
    if project.start_date and start_date < project.start_date:
        fail("start_date", "Start date must not be before the project starts.")
    if project.end_date and start_date > project.end_date:
        fail("start_date", "Start date must not be after the project ends.")


def validate_no_active_order(resource: Any) -> None:
    if Order.objects.filter(resource=resource, state__in=ACTIVE_STATES).exists():
        raise ResourceStateConflict("Pending order for resource already exists.")
