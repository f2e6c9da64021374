"""The stuck-order sweep (DESIGN §7, issue 7 item 4): executing orders past their offering's stuck_after are
flagged once with an event; those of offerings that err stuck orders (automated types by default) are moved
to erred, transient, so they can be retried; staff find them with the admin's "stuck" filter."""

from __future__ import annotations

import datetime

import pytest
from django.conf import settings
from django.utils import timezone

from orders import selectors, services
from orders.models import Order, OrderEvent, Resource
from orders.services.stuck import order_mark_stuck, orders_sweep_stuck
from tasks.periodic import sweep_stuck_orders
from tests.api import make_order

NOW = timezone.now()


def executing(world, kind: str, waited: datetime.timedelta, **kwargs) -> Order:
    """An order of `world.<kind>` that entered executing `waited` ago."""
    return make_order(world, "executing", kind, state_entered_at=NOW - waited, **kwargs)


def stuck_events(order: Order) -> list[OrderEvent]:
    return list(OrderEvent.objects.filter(order=order, kind="stuck"))


def test_the_sweep_flags_only_orders_past_their_types_cutoff_and_only_once(world):
    basic_old = executing(world, "basic", datetime.timedelta(days=3, hours=2))
    basic_young = executing(world, "basic", datetime.timedelta(days=2))
    slurm_old = executing(world, "slurm", datetime.timedelta(hours=25))
    slurm_young = executing(world, "slurm", datetime.timedelta(hours=23))
    pending = make_order(world, "pending-provider", "basic", state_entered_at=NOW - datetime.timedelta(days=30))

    first = orders_sweep_stuck(now=NOW)
    again = orders_sweep_stuck(now=NOW + datetime.timedelta(minutes=5))

    assert first.as_dict() == {"flagged": 2, "erred": 0, "skipped": 0}
    assert again.as_dict() == {"flagged": 0, "erred": 0, "skipped": 0}
    for order in (basic_old, slurm_old):
        order.refresh_from_db()
        assert (order.state, order.stuck_since) == ("executing", NOW)
        assert len(stuck_events(order)) == 1
    for order in (basic_young, slurm_young, pending):
        order.refresh_from_db()
        assert order.stuck_since is None and stuck_events(order) == []


def test_a_manual_order_is_left_executing_with_an_event_saying_how_long_and_for_whom(world):
    order = executing(world, "basic", datetime.timedelta(days=3, hours=4))

    orders_sweep_stuck(now=NOW)

    (event,) = stuck_events(order)
    assert event.message == (
        "Executing for 3 d 4 h with no result from the provider (stuck after 3 d); left executing."
    )
    assert (event.actor, event.from_state, event.to_state) == (None, "executing", "executing")
    assert event.payload == {"attempt": 1, "waited_seconds": 3 * 86400 + 4 * 3600, "stuck_after_seconds": 3 * 86400,
                             "erred": False}  # fmt: skip
    assert Order.objects.get(pk=order.pk).state == "executing"


def test_an_automated_order_is_erred_as_transient_with_a_clear_message_and_can_be_retried(world):
    order = executing(world, "webhook", datetime.timedelta(hours=1, minutes=5))

    assert orders_sweep_stuck(now=NOW).as_dict() == {"flagged": 0, "erred": 1, "skipped": 0}

    erred = Order.objects.get(pk=order.pk)
    assert erred.state == "erred"
    assert erred.error_is_transient is True
    assert erred.error_message == (
        "No result from the fulfilment backend after 1 h 5 min; retry or resubmit the order."
    )
    assert Resource.objects.get(pk=order.resource_id).state == "Erred"
    kinds = list(OrderEvent.objects.filter(order=order).order_by("id").values_list("kind", flat=True))
    assert kinds[-2:] == ["stuck", "set_state_erred"]
    assert "moved to erred so it can be retried" in stuck_events(order)[0].message

    retried = services.order_retry(order=order.pk, actor=world.user("staff"))
    assert (retried.state, retried.attempt, retried.stuck_since) == ("executing", 2, None)


def test_a_young_automated_order_is_left_alone(world):
    order = executing(world, "webhook", datetime.timedelta(minutes=59))

    assert orders_sweep_stuck(now=NOW).as_dict() == {"flagged": 0, "erred": 0, "skipped": 0}
    assert Order.objects.get(pk=order.pk).state == "executing"


@pytest.mark.parametrize(
    ("kind", "options", "waited", "state"),
    [
        ("basic", {"stuck_after_minutes": 30}, datetime.timedelta(minutes=45), "executing"),  # shorter cutoff
        ("basic", {"stuck_after_minutes": 30, "err_stuck_orders": True}, datetime.timedelta(minutes=45), "erred"),
        ("webhook", {"err_stuck_orders": False}, datetime.timedelta(hours=2), "executing"),  # flagged, not erred
        ("webhook", {"stuck_after_minutes": 240}, datetime.timedelta(hours=2), None),  # longer cutoff: not yet
    ],
)
def test_per_offering_options_override_the_types_cutoff_and_erring(world, kind, options, waited, state):
    offering = world.offering(kind)
    offering.plugin_options = {**offering.plugin_options, **options}
    offering.save()
    order = executing(world, kind, waited)

    orders_sweep_stuck(now=NOW)

    order.refresh_from_db()
    assert len(stuck_events(order)) == (0 if state is None else 1)
    assert order.state == (state or "executing")
    assert order.error_is_transient is (state == "erred")


def test_an_order_that_finished_after_it_was_selected_is_left_alone(world):
    order = executing(world, "webhook", datetime.timedelta(hours=3))
    assert selectors.orders_possibly_stuck(now=NOW, limit=10) == [order.pk]
    services.order_set_state_done(order=order.pk, actor=None)

    assert order_mark_stuck(order=order.pk, now=NOW) == "skipped"

    order.refresh_from_db()
    assert (order.state, order.stuck_since, stuck_events(order)) == ("done", None, [])


def test_an_order_a_worker_is_processing_right_now_is_left_for_the_next_sweep(world):
    order = executing(world, "webhook", datetime.timedelta(hours=3))
    Order.objects.filter(pk=order.pk).update(
        processing_attempt=1, processing_lease_until=NOW + datetime.timedelta(seconds=30)
    )

    assert order_mark_stuck(order=order.pk, now=NOW) == "skipped"
    assert order_mark_stuck(order=order.pk, now=NOW + datetime.timedelta(minutes=1)) == "erred"


def test_the_sweep_is_bounded_per_run_oldest_first(world):
    oldest = executing(world, "slurm", datetime.timedelta(days=3))
    executing(world, "slurm", datetime.timedelta(days=2))

    assert orders_sweep_stuck(now=NOW, limit=1).flagged == 1

    assert [o.pk for o in Order.objects.filter(stuck_since__isnull=False)] == [oldest.pk]


def test_the_admin_stuck_filter_lists_the_flagged_orders(world, client):
    stuck = executing(world, "basic", datetime.timedelta(days=4))
    fresh = executing(world, "basic", datetime.timedelta(hours=1))
    orders_sweep_stuck(now=NOW)
    client.force_login(world.user("staff"))

    flagged = client.get("/admin/orders/order/?stuck=yes").content.decode()
    others = client.get("/admin/orders/order/?stuck=no").content.decode()

    assert stuck.uuid.hex in flagged and fresh.uuid.hex not in flagged
    assert fresh.uuid.hex in others and stuck.uuid.hex not in others


def test_the_periodic_task_runs_the_sweep_every_five_minutes(world):
    order = executing(world, "webhook", datetime.timedelta(hours=2))

    assert settings.CELERY_BEAT_SCHEDULE["sweep-stuck-orders"] == {
        "task": "tasks.periodic.sweep_stuck_orders", "schedule": 300.0,
    }  # fmt: skip
    assert sweep_stuck_orders.name == "tasks.periodic.sweep_stuck_orders"
    assert sweep_stuck_orders() == {"flagged": 0, "erred": 1, "skipped": 0}
    assert Order.objects.get(pk=order.pk).state == "erred"
