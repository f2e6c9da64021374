"""The order state machine, table-driven: every state × every action (DESIGN §4).

The expected table is written here by hand from DESIGN §4, not derived from the code.
"""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from orders import services
from orders.exceptions import OrderError, OrderStateConflict
from orders.models import Order, OrderEvent
from orders.states import OrderState as S
from tests.factories import OrderFactory

ALL_STATES = [
    "pending-consumer",
    "pending-provider",
    "pending-project",
    "pending-start-date",
    "executing",
    "done",
    "erred",
    "canceled",
    "rejected",
]

REMOVED = "<removed>"

# action → {source state: target state}. The order is on a provider-reviewed offering in a project that
# has started and has no start date of its own, so routed targets are deterministic: after the consumer
# comes the provider (pending-provider), after the provider comes execution.
EXPECTED: dict[str, dict[str, str]] = {
    "approve_by_consumer": {"pending-consumer": "pending-provider"},
    "reject_by_consumer": {"pending-consumer": "rejected"},
    "approve_by_provider": {"pending-provider": "executing"},
    "reject_by_provider": {"pending-provider": "rejected"},
    "release_project": {"pending-project": "pending-provider"},
    "release_start_date": {"pending-start-date": "executing"},
    "set_state_executing": {
        "pending-consumer": "executing",
        "pending-provider": "executing",
        "erred": "executing",
    },
    "set_state_done": {"executing": "done"},
    "set_state_erred": {
        "pending-consumer": "erred",
        "pending-provider": "erred",
        "pending-project": "erred",
        "pending-start-date": "erred",
        "executing": "erred",
        "erred": "erred",
    },
    "retry": {"erred": "executing"},
    "cancel": {
        "pending-consumer": "canceled",
        "pending-provider": "canceled",
        "pending-start-date": "canceled",
        "executing": "canceled",
    },
    "destroy": {"pending-consumer": REMOVED, "pending-provider": REMOVED},
    "unlink": {state: REMOVED for state in ALL_STATES},
}

SERVICES = {
    "approve_by_consumer": services.order_approve_by_consumer,
    "reject_by_consumer": services.order_reject_by_consumer,
    "approve_by_provider": services.order_approve_by_provider,
    "reject_by_provider": services.order_reject_by_provider,
    "release_project": services.order_release_project,
    "release_start_date": services.order_release_start_date,
    "set_state_executing": services.order_set_state_executing,
    "set_state_done": services.order_set_state_done,
    "set_state_erred": services.order_set_state_erred,
    "retry": services.order_retry,
    "cancel": services.order_cancel,
    "destroy": services.order_delete,
    "unlink": services.order_unlink,
}


def _cases() -> list:
    cases = []
    for action in EXPECTED:
        for state in ALL_STATES:
            for who in ("system", "staff"):
                cases.append(pytest.param(state, action, who, id=f"{who}-{action}-{state}"))
    return cases


@pytest.fixture(autouse=True)
def no_tasks(monkeypatch):
    """Entering executing enqueues processing after commit; keep the tests free of Celery."""
    monkeypatch.setattr("orders.dispatch._send", lambda name, *args: None)


def test_the_table_covers_every_order_state_and_every_transition_of_the_model():
    assert sorted(ALL_STATES) == sorted(s.value for s in S)
    transitions = {t.name for t in Order._meta.get_field("state").get_all_transitions(Order)}
    assert transitions == set(EXPECTED) - {"destroy", "unlink"}


def _offering_for(world, action: str):
    # Basic is the type that supports cancel; SLURM supports every agent action (set_state_executing).
    return world.basic if action == "cancel" else world.slurm


def _order_in(world, state: str, action: str) -> Order:
    return OrderFactory(state=state, offering=_offering_for(world, action), project=world.project)


def _actor(world, who: str):
    return None if who == "system" else world.user(who)


@pytest.mark.parametrize(("state", "action", "who"), _cases())
def test_action_moves_the_order_to_the_documented_state_or_conflicts(world, who, state, action):
    order = _order_in(world, state, action)
    events_before = OrderEvent.objects.filter(order=order).count()
    target = EXPECTED[action].get(state)
    call = SERVICES[action]

    if target is None:
        with pytest.raises(OrderStateConflict) as caught:
            call(order=order.pk, actor=_actor(world, who))
        valid = sorted(EXPECTED[action])
        assert caught.value.valid_states == valid
        for valid_state in valid:
            assert valid_state in caught.value.message
        unchanged = Order.objects.get(pk=order.pk)
        assert unchanged.state == state
        assert unchanged.modified == order.modified
        assert OrderEvent.objects.filter(order=order).count() == events_before
    elif target == REMOVED:
        call(order=order.pk, actor=_actor(world, who))
        assert not Order.objects.filter(pk=order.pk).exists()
    else:
        call(order=order.pk, actor=_actor(world, who))
        moved = Order.objects.get(pk=order.pk)
        assert moved.state == target
        written = list(OrderEvent.objects.filter(order=order).order_by("id")[events_before:])
        event = written[0]
        assert (event.kind, event.from_state, event.to_state) == (action, state, target)
        if target == S.EXECUTING:  # these offerings' processing calls nothing: handed over in the same write
            assert [e.kind for e in written[1:]] == ["processing"]
            assert (moved.processing_attempt, moved.processing_due_at) == (moved.attempt, None)
        else:
            assert len(written) == 1


@pytest.mark.parametrize(
    ("offering_kind", "plugin_options", "expected"),
    [
        ("basic", {}, "pending-provider"),
        ("slurm", {}, "pending-provider"),
        ("webhook", {"require_provider_review": True}, "pending-provider"),
        ("webhook", {"webhook_url": "http://127.0.0.1:9/refused"}, "executing"),
    ],
)
def test_consumer_approval_routes_to_the_provider_when_the_offering_type_reviews(
    world, offering_kind, plugin_options, expected
):
    offering = world.offering(offering_kind)
    offering.plugin_options = plugin_options
    offering.save()
    order = OrderFactory(state="pending-consumer", offering=offering, project=world.project)

    services.order_approve_by_consumer(order=order.pk, actor=world.user("consumer_owner"))

    assert Order.objects.get(pk=order.pk).state == expected


def test_consumer_approval_waits_for_a_project_that_has_not_started(world):
    world.project.start_date = timezone.localdate() + datetime.timedelta(days=3)
    world.project.save()
    order = OrderFactory(state="pending-consumer", offering=world.basic, project=world.project)

    services.order_approve_by_consumer(order=order.pk, actor=world.user("consumer_owner"))

    assert Order.objects.get(pk=order.pk).state == "pending-project"


def test_provider_approval_waits_for_the_order_start_date(world):
    start = timezone.localdate() + datetime.timedelta(days=2)
    order = OrderFactory(state="pending-provider", offering=world.basic, project=world.project, start_date=start)

    services.order_approve_by_provider(order=order.pk, actor=world.user("provider_owner"))

    assert Order.objects.get(pk=order.pk).state == "pending-start-date"


def test_releasing_an_order_before_its_project_starts_is_a_domain_error_and_changes_nothing(world):
    world.project.start_date = timezone.localdate() + datetime.timedelta(days=3)
    world.project.save()
    order = OrderFactory(state="pending-project", offering=world.basic, project=world.project)

    with pytest.raises(OrderError):
        services.order_release_project(order=order.pk, actor=None)

    assert Order.objects.get(pk=order.pk).state == "pending-project"
