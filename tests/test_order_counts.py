"""The order list's exact count from the counts table (orders/counts.py): equal to COUNT(*) over the same
visible, filtered orders after every kind of write, and never a lock shared by concurrent writers."""

from __future__ import annotations

import os
import threading

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.db.models import Count, Sum
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from orders import dispatch, selectors, services
from orders.counts import DIMENSION_FILTERS, compact_order_counts, fast_order_count
from orders.filters import OrderFilter
from orders.models import Order, OrderCount
from permissions.models import UserProfile
from tasks import periodic
from tests.factories import OrderFactory

USERS = ("staff", "stranger", "consumer_owner", "project_member", "provider_owner", "offering_manager", "other_owner")
ON_POSTGRES = os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))
requires_postgres = pytest.mark.skipif(not ON_POSTGRES, reason="the counts' triggers are PostgreSQL's")


@pytest.fixture(autouse=True)
def no_tasks(monkeypatch):
    monkeypatch.setattr(dispatch, "_send", lambda name, *args: None)


def _request(user, query: str) -> Request:
    request = Request(APIRequestFactory().get(f"/api/marketplace-orders/?{query}"))
    request.user = user
    return request


def listed_count(user, query: str) -> int:
    """What the order list counts today: COUNT(*) over the visible orders, through the same filters."""
    request = _request(user, query)
    filterset = OrderFilter(data=request.query_params, queryset=selectors.order_list_for(user), request=request)
    assert filterset.is_valid(), filterset.errors
    return filterset.qs.count()


def queries(world) -> list[str]:
    profile, _ = UserProfile.objects.get_or_create(user=world.user("offering_manager"))
    slurm, basic, project = world.slurm.uuid.hex, world.basic.uuid.hex, world.project.uuid.hex
    return [
        "",
        "state=executing",
        "state=pending-provider&state=executing",
        "state=pending-provider&state=done&state=pending-consumer",
        f"offering_uuid={slurm}",
        f"offering_uuid={slurm}&state=pending-provider&state=executing",
        f"offering=http://testserver/api/marketplace-public-offerings/{basic}/",
        f"project_uuid={project}",
        f"project_uuid={project}&offering_uuid={basic}&state=done",
        f"customer_uuid={world.customer.uuid.hex}",
        f"customer_uuid={world.other_customer.uuid.hex}&state=executing",
        f"provider_uuid={world.provider.uuid.hex}",
        f"provider_uuid={world.provider.uuid.hex}&customer_uuid={world.customer.uuid.hex}&state=erred",
        "offering_type=Marketplace.Slurm&offering_type=Marketplace.Basic",
        "offering_slug=webhook,basic",
        f"category_uuid={world.slurm.category.uuid.hex}",
        f"service_manager_uuid={profile.uuid.hex}",
        "can_approve_as_provider=true",
        "can_approve_as_provider=false",
        "can_approve_as_consumer=true",
        "was_auto_approved=false",
        "was_auto_approved=true",
        f"parent_offering_uuid={slurm}",
        "page=2&page_size=5&o=-created&field=uuid&field=state",
    ]


def assert_counts_match(world) -> None:
    matrix = queries(world)
    for key in USERS:
        user = world.user(key)
        for query in matrix:
            fast = fast_order_count(_request(user, query), user)
            assert fast == listed_count(user, query), (key, query)


def make_orders(world) -> list[Order]:
    """Orders in several groups: each offering, both organisations' projects, every kind of state."""
    made = []
    for kind, project, state in (
        ("basic", world.project, "pending-consumer"),
        ("basic", world.project, "pending-provider"),
        ("basic", world.project, "executing"),
        ("basic", world.project, "executing"),
        ("slurm", world.project, "pending-provider"),
        ("slurm", world.project, "erred"),
        ("slurm", world.other_project, "pending-provider"),
        ("slurm", world.other_project, "done"),
        ("webhook", world.other_project, "pending-consumer"),
        ("webhook", world.project, "done"),
    ):
        made.append(OrderFactory(offering=world.offering(kind), project=project, state=state))
    return made


def test_every_fast_filter_is_a_filter_of_the_order_list():
    assert set(DIMENSION_FILTERS) <= set(OrderFilter.base_filters)


@pytest.mark.skipif(ON_POSTGRES, reason="the fallback of databases without the counts' triggers")
def test_without_postgresql_the_caller_counts_the_orders(world):
    make_orders(world)
    assert fast_order_count(_request(world.user("staff"), ""), world.user("staff")) is None
    assert compact_order_counts() == 0


@pytest.mark.parametrize(
    "query",
    [
        "type=Create",
        "created=2020-01-01T00:00:00Z",
        "resource_uuid=5c4a0b3e8f2d4c1a9b7e6d5f4a3b2c1d",
        "query=alpha",
        "state=done&error_is_transient=true",
        "unknown=1",
        "state=cancelled",  # the list's own filtering answers 400
    ],
)
@requires_postgres
@pytest.mark.postgres
def test_other_filters_fall_back_to_counting_orders(world, query):
    assert fast_order_count(_request(world.user("staff"), query), world.user("staff")) is None


@requires_postgres
@pytest.mark.postgres
def test_counts_follow_every_kind_of_write(world):
    orders = make_orders(world)
    assert_counts_match(world)

    owner, provider = world.user("consumer_owner"), world.user("provider_owner")
    created = services.order_create(actor=owner, project=world.project, offering=world.basic, plan=world.plans["basic"])
    assert created.state == "pending-provider"  # the consumer's owner approves by ordering
    services.order_approve_by_provider(order=created.pk, actor=provider)
    services.order_set_state_done(order=created.pk, actor=provider)
    services.order_reject_by_consumer(order=orders[0].pk, actor=owner)
    services.order_set_state_erred(order=orders[2].pk, actor=provider, error_message="down")
    services.order_retry(order=orders[2].pk, actor=provider)
    assert_counts_match(world)

    pending = services.order_create(actor=owner, project=world.project, offering=world.slurm, plan=world.plans["slurm"])
    services.order_delete(order=pending.pk, actor=owner)
    Order.objects.filter(pk=orders[1].pk).delete()

    # statements that touch many rows at once, or move orders between groups
    Order.objects.filter(offering=world.slurm, state="pending-provider").update(state="executing")
    Order.objects.filter(pk=orders[3].pk).update(project=world.other_project)
    Order.objects.filter(pk=orders[4].pk).update(offering=world.webhook, state="done")
    rows = OrderCount.objects.count()
    Order.objects.filter(offering=world.webhook).update(modified=orders[4].modified)
    assert OrderCount.objects.count() == rows  # an update that moves no order between groups writes nothing
    template = orders[5]
    Order.objects.bulk_create(
        [Order(offering=world.slurm, project=world.other_project, resource=template.resource, state=s) for s in (
            "pending-provider", "pending-provider", "erred")]
    )  # fmt: skip
    assert_counts_match(world)

    compact_order_counts()
    assert_counts_match(world)
    groups = OrderCount.objects.values("offering", "project", "state").annotate(rows=Count("id"), total=Sum("n"))
    assert {g["rows"] for g in groups} == {1}  # one row per group, and none for an emptied group
    assert all(g["total"] > 0 for g in groups)
    assert compact_order_counts() == 0  # nothing new: the second run folds and writes nothing

    Order.objects.filter(project=world.other_project).delete()
    periodic.compact_order_counts()  # the beat task
    assert_counts_match(world)


@requires_postgres
@pytest.mark.postgres
def test_truncating_the_orders_empties_the_counts(world):
    make_orders(world)
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # TRUNCATE refuses pending foreign-key checks
        cursor.execute("TRUNCATE orders_order, orders_resource RESTART IDENTITY CASCADE")
    assert not OrderCount.objects.exists()
    make_orders(world)
    assert_counts_match(world)


@requires_postgres
@pytest.mark.postgres
def test_the_count_equals_the_orders_in_a_transaction_that_has_not_committed(world):
    orders = make_orders(world)
    staff = world.user("staff")
    with transaction.atomic():
        Order.objects.filter(pk=orders[0].pk).update(state="canceled")
        assert fast_order_count(_request(staff, "state=canceled"), staff) == 1
        transaction.set_rollback(True)
    assert fast_order_count(_request(staff, "state=canceled"), staff) == 0


@requires_postgres
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_migration_counts_the_orders_that_exist(world):
    make_orders(world)
    try:
        call_command("migrate", "orders", "0007", verbosity=0)
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'orders_order_count%%'")
            assert cursor.fetchone() == (0,)
    finally:
        call_command("migrate", "orders", verbosity=0)
    assert_counts_match(world)


def _in_thread(work, results: dict, key: str) -> threading.Thread:
    def run():
        try:
            results[key] = work()
        except Exception as exc:  # the outcome under test
            results[key] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@requires_postgres
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("holder", ["transition", "compaction"])
def test_a_writer_never_waits_for_another_transaction_of_the_same_group(world, holder):
    """One transaction writes to a group (or compacts the counts) and stays open; another transition in
    the same group commits meanwhile under a short lock_timeout, then the first commits too."""
    provider = world.user("provider_owner")
    first, second = (OrderFactory(offering=world.basic, project=world.project, state="executing") for _ in "ab")
    compact_order_counts()
    holding, released = threading.Event(), threading.Event()
    results: dict[str, object] = {}

    def hold():
        with transaction.atomic():
            if holder == "transition":
                services.order_set_state_done(order=first.pk, actor=provider)
            else:
                Order.objects.filter(pk=first.pk).update(state="done")  # a delta row to compact
                compact_order_counts()
            holding.set()
            assert released.wait(timeout=30)
        return "committed"

    def write():
        assert holding.wait(timeout=30)
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL lock_timeout = '500ms'")
                services.order_set_state_done(order=second.pk, actor=provider)
            return "committed"
        finally:
            released.set()

    threads = [_in_thread(hold, results, "hold"), _in_thread(write, results, "write")]
    for thread in threads:
        thread.join(timeout=60)
        assert not thread.is_alive()
    assert results == {"hold": "committed", "write": "committed"}
    staff = world.user("staff")
    assert fast_order_count(_request(staff, "state=done"), staff) == 2
    assert fast_order_count(_request(staff, "state=executing"), staff) == 0
    compact_order_counts()
    assert_counts_match(world)
