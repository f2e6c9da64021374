"""Routing: who must look at an order next. Pure functions, called from every path (create, consumer
approval, provider approval, project release) so the rules exist once (DESIGN §5)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from offerings.registry import requires_provider_review
from orders.states import OrderState as S
from permissions import policies
from permissions.constants import Permission as P
from permissions.roles import grants_of


@dataclass(frozen=True)
class OrderDraft:
    """What routing needs of an order that does not exist yet."""

    offering: Any
    project: Any
    start_date: datetime.date | None = None


def consumer_review_required(*, order: Any, author: Any) -> bool:
    """Whether the consumer side must approve an order placed by `author` (DESIGN §5)."""
    offering = order.offering
    options = offering.plugin_options or {}
    if policies.is_staff(author):
        return False
    if options.get("disable_autoapprove"):
        return True
    grants = grants_of(author)
    chain = policies.project_chain(order.project)
    if grants.has(P.ORDER_APPROVE, chain):
        return False
    if offering.is_private and grants.has(P.ORDER_APPROVE_PRIVATE, chain):
        return False
    same_organisation = offering.customer_id == order.project.customer_id
    return not (options.get("auto_approve_in_service_provider_projects") and same_organisation)


def provider_review_required(*, order: Any) -> bool:
    return requires_provider_review(order.offering)


def _in_future(day: datetime.date | None, today: datetime.date) -> bool:
    return day is not None and day > today


def route_after_provider(*, order: Any, today: datetime.date) -> str:
    """After provider clearance: wait for the order's start date, else execute."""
    return S.PENDING_START_DATE if _in_future(order.start_date, today) else S.EXECUTING


def route_after_consumer(*, order: Any, today: datetime.date) -> str:
    """After consumer clearance: project start, then provider review, then the order's start date."""
    if _in_future(order.project.start_date, today):
        return S.PENDING_PROJECT
    if provider_review_required(order=order):
        return S.PENDING_PROVIDER
    return route_after_provider(order=order, today=today)


def route_new_order(*, order: Any, author: Any, today: datetime.date) -> str:
    """The state a new order starts in."""
    if consumer_review_required(order=order, author=author):
        return S.PENDING_CONSUMER
    return route_after_consumer(order=order, today=today)
