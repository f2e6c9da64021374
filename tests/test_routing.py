"""Routing (DESIGN §5): who must look at an order next. The pure functions, and order_create's result."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from orders import services
from orders.approval import (
    OrderDraft,
    consumer_review_required,
    provider_review_required,
    route_after_consumer,
    route_after_provider,
    route_new_order,
)
from tests.factories import OfferingFactory, PlanFactory

TODAY = datetime.date(2030, 6, 15)
TOMORROW = TODAY + datetime.timedelta(days=1)


@pytest.fixture(autouse=True)
def no_tasks(monkeypatch):
    monkeypatch.setattr("orders.dispatch._send", lambda name, *args: None)


def _private_offering(world, **options):
    """A private Basic offering of the provider, bound to the consumer project (so it may be ordered)."""
    return OfferingFactory(
        customer=world.provider, type="Marketplace.Basic", shared=False, project=world.project, plugin_options=options
    )


def _in_house_offering(world, **options):
    """A Basic offering provided by the consumer organisation itself."""
    offering = OfferingFactory(customer=world.customer, type="Marketplace.Basic", plugin_options=options)
    PlanFactory(offering=offering)
    return offering


def _offering(world, kind: str, options: dict | None = None):
    if kind == "private":
        return _private_offering(world, **(options or {}))
    if kind == "in_house":
        return _in_house_offering(world, **(options or {}))
    offering = world.offering(kind)
    if options is not None:
        offering.plugin_options = {**offering.plugin_options, **options}
        offering.save()
    return offering


# --- consumer review --------------------------------------------------------------------------------

CONSUMER_REVIEW = [
    # (author, offering, plugin options, consumer review required)
    ("staff", "basic", None, False),
    ("consumer_owner", "basic", None, False),
    ("project_admin", "basic", None, True),
    ("project_manager", "basic", None, True),
    ("project_member", "basic", None, True),
    ("project_admin", "private", {}, False),
    ("project_manager", "private", {}, False),
    ("project_member", "private", {}, True),
    ("project_member", "in_house", {"auto_approve_in_service_provider_projects": True}, False),
    ("project_member", "in_house", {}, True),
    ("project_member", "basic", {"auto_approve_in_service_provider_projects": True}, True),
    ("consumer_owner", "basic", {"disable_autoapprove": True}, True),
    ("project_admin", "private", {"disable_autoapprove": True}, True),
    (
        "project_member",
        "in_house",
        {"auto_approve_in_service_provider_projects": True, "disable_autoapprove": True},
        True,
    ),
    ("staff", "basic", {"disable_autoapprove": True}, False),
]


@pytest.mark.parametrize(("author", "kind", "options", "required"), CONSUMER_REVIEW)
def test_consumer_review_is_required_per_author_and_offering(world, author, kind, options, required):
    draft = OrderDraft(offering=_offering(world, kind, options), project=world.project)

    assert consumer_review_required(order=draft, author=world.user(author)) is required


# --- provider review and dates -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "options", "required"),
    [
        ("basic", {}, True),
        ("slurm", {}, True),
        ("webhook", {}, False),
        ("webhook", {"require_provider_review": False}, False),
        ("webhook", {"require_provider_review": True}, True),
    ],
)
def test_provider_review_depends_on_the_offering_type(world, kind, options, required):
    draft = OrderDraft(offering=_offering(world, kind, options), project=world.project)

    assert provider_review_required(order=draft) is required


def test_unknown_offering_type_needs_a_provider_to_look(world):
    offering = OfferingFactory(customer=world.provider, type="Marketplace.Unknown")

    assert provider_review_required(order=OrderDraft(offering=offering, project=world.project)) is True


@pytest.mark.parametrize(
    ("kind", "project_start", "order_start", "expected"),
    [
        ("basic", TOMORROW, None, "pending-project"),
        ("webhook", TOMORROW, None, "pending-project"),
        ("basic", TODAY, None, "pending-provider"),
        ("basic", None, TOMORROW, "pending-provider"),
        ("slurm", None, None, "pending-provider"),
        ("webhook", None, TOMORROW, "pending-start-date"),
        ("webhook", None, TODAY, "executing"),
        ("webhook", None, None, "executing"),
    ],
)
def test_route_after_consumer_clearance(world, kind, project_start, order_start, expected):
    world.project.start_date = project_start
    draft = OrderDraft(offering=_offering(world, kind), project=world.project, start_date=order_start)

    assert route_after_consumer(order=draft, today=TODAY) == expected


@pytest.mark.parametrize(
    ("order_start", "expected"),
    [(TOMORROW, "pending-start-date"), (TODAY, "executing"), (TODAY - datetime.timedelta(days=1), "executing")],
)
def test_route_after_provider_approval_waits_only_for_a_future_start_date(world, order_start, expected):
    draft = OrderDraft(offering=world.basic, project=world.project, start_date=order_start)

    assert route_after_provider(order=draft, today=TODAY) == expected


def test_route_after_provider_approval_without_a_start_date_executes(world):
    assert route_after_provider(order=OrderDraft(offering=world.basic, project=world.project), today=TODAY) == (
        "executing"
    )


@pytest.mark.parametrize(
    ("author", "kind", "expected"),
    [
        ("project_member", "basic", "pending-consumer"),
        ("project_member", "webhook", "pending-consumer"),
        ("consumer_owner", "basic", "pending-provider"),
        ("consumer_owner", "webhook", "executing"),
        ("staff", "slurm", "pending-provider"),
    ],
)
def test_route_of_a_new_order(world, author, kind, expected):
    draft = OrderDraft(offering=world.offering(kind), project=world.project)

    assert route_new_order(order=draft, author=world.user(author), today=TODAY) == expected


# --- order_create ------------------------------------------------------------------------------------


CREATE_CASES = [
    # (author, offering, plugin options, project starts in days, order starts in days, expected state)
    ("staff", "basic", None, None, None, "pending-provider"),
    ("consumer_owner", "basic", None, None, None, "pending-provider"),
    ("consumer_owner", "slurm", None, None, None, "pending-provider"),
    ("consumer_owner", "webhook", None, None, None, "executing"),
    ("consumer_owner", "webhook", {"require_provider_review": True}, None, None, "pending-provider"),
    ("project_member", "basic", None, None, None, "pending-consumer"),
    ("project_admin", "basic", None, None, None, "pending-consumer"),
    ("project_admin", "private", {}, None, None, "pending-provider"),
    ("project_member", "in_house", {"auto_approve_in_service_provider_projects": True}, None, None, "pending-provider"),
    ("consumer_owner", "basic", {"disable_autoapprove": True}, None, None, "pending-consumer"),
    ("staff", "basic", {"disable_autoapprove": True}, None, None, "pending-provider"),
    ("consumer_owner", "basic", None, 3, None, "pending-project"),
    ("consumer_owner", "basic", None, None, 2, "pending-provider"),
    ("consumer_owner", "webhook", None, None, 2, "pending-start-date"),
    ("consumer_owner", "webhook", None, None, 0, "executing"),
]


@pytest.mark.parametrize(("author", "kind", "options", "project_days", "order_days", "expected"), CREATE_CASES)
def test_new_order_starts_in_the_routed_state(world, author, kind, options, project_days, order_days, expected):
    today = timezone.localdate()
    if project_days is not None:
        world.project.start_date = today + datetime.timedelta(days=project_days)
        world.project.save()
    offering = _offering(world, kind, options)
    start_date = None if order_days is None else today + datetime.timedelta(days=order_days)

    order = services.order_create(
        actor=world.user(author),
        project=world.project,
        offering=offering,
        plan=offering.plans.first(),  # none for the private offering
        start_date=start_date,
    )

    assert order.state == expected
    assert (order.consumer_reviewed_by is None) == (expected == "pending-consumer")


def test_order_cleared_for_its_author_records_the_author_as_consumer_reviewer(world):
    order = services.order_create(
        actor=world.user("consumer_owner"), project=world.project, offering=world.basic, plan=world.plans["basic"]
    )

    assert order.consumer_reviewed_by == world.user("consumer_owner")
    assert order.consumer_reviewed_at is not None


def test_webhook_order_with_a_future_start_waits_after_provider_approval(world):
    world.webhook.plugin_options = {**world.webhook.plugin_options, "require_provider_review": True}
    world.webhook.save()
    start = timezone.localdate() + datetime.timedelta(days=5)
    order = services.order_create(
        actor=world.user("consumer_owner"),
        project=world.project,
        offering=world.webhook,
        plan=world.plans["webhook"],
        start_date=start,
    )
    assert order.state == "pending-provider"

    approved = services.order_approve_by_provider(order=order.pk, actor=world.user("provider_owner"))

    assert approved.state == "pending-start-date"


def test_member_order_approved_by_the_owner_then_waits_for_the_provider(world):
    order = services.order_create(
        actor=world.user("project_member"), project=world.project, offering=world.slurm, plan=world.plans["slurm"]
    )
    assert order.state == "pending-consumer"

    approved = services.order_approve_by_consumer(order=order.pk, actor=world.user("consumer_owner"))

    assert approved.state == "pending-provider"
    assert approved.consumer_reviewed_by == world.user("consumer_owner")
