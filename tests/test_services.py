"""Services: the events they write, the side effects they register after commit, the order of their checks
(403 before 405 before 409) and their refusal of bad input, which saves nothing."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from core.models import Delivery
from offerings.models import Offering
from orders import dispatch, services
from orders.exceptions import ActionNotPermitted, OfferingTypeNotSupported, OrderStateConflict, OrderValidationError
from orders.models import Order, OrderEvent, Resource
from orders.processing import process_order
from tests.factories import OfferingFactory, OrderFactory, PlanFactory, ResourceFactory

PROCESS = "tasks.processing.process_order"
CALLBACK = "tasks.callbacks.send_delivery"


@pytest.fixture
def sent(monkeypatch):
    """What dispatch hands to Celery: (task name, *args) per call."""
    calls: list[tuple] = []
    monkeypatch.setattr(dispatch, "_send", lambda name, *args: calls.append((name, *args)))
    return calls


def _counts() -> tuple[int, int, int]:
    return Order.objects.count(), Resource.objects.count(), OrderEvent.objects.count()


# --- events ------------------------------------------------------------------------------------------

TRANSITIONS = [
    # (service, order state before, offering, actor, expected state after)
    ("order_approve_by_consumer", "pending-consumer", "basic", "consumer_owner", "pending-provider"),
    ("order_reject_by_consumer", "pending-consumer", "basic", "consumer_owner", "rejected"),
    ("order_approve_by_provider", "pending-provider", "basic", "provider_owner", "executing"),
    ("order_reject_by_provider", "pending-provider", "slurm", "offering_manager", "rejected"),
    ("order_set_state_executing", "pending-provider", "slurm", "offering_manager", "executing"),
    ("order_set_state_done", "executing", "basic", "provider_owner", "done"),
    ("order_set_state_erred", "executing", "slurm", "offering_manager", "erred"),
    ("order_retry", "erred", "slurm", "offering_manager", "executing"),
    ("order_cancel", "pending-provider", "basic", "project_admin", "canceled"),
    ("order_release_project", "pending-project", "basic", None, "pending-provider"),
    ("order_release_start_date", "pending-start-date", "basic", None, "executing"),
]


@pytest.mark.parametrize(("service", "before", "kind", "who", "after"), TRANSITIONS)
def test_transition_writes_an_event_with_actor_and_states(world, sent, service, before, kind, who, after):
    order = OrderFactory(state=before, offering=world.offering(kind), project=world.project)
    actor = world.user(who) if who else None

    getattr(services, service)(order=order.pk, actor=actor)

    events = list(OrderEvent.objects.filter(order=order).order_by("id"))
    event = events[0]
    # these offerings' processing calls nothing: entering executing hands the attempt over in the same write
    assert [e.kind for e in events[1:]] == (["processing"] if after == "executing" else [])
    assert (event.kind, event.actor, event.from_state, event.to_state) == (
        service.removeprefix("order_"),
        actor,
        before,
        after,
    )


def test_create_writes_a_create_event(world, sent):
    owner = world.user("consumer_owner")
    order = services.order_create(actor=owner, project=world.project, offering=world.basic, plan=world.plans["basic"])

    event = OrderEvent.objects.get(order=order)
    assert (event.kind, event.actor, event.from_state, event.to_state) == ("create", owner, "", "pending-provider")


@pytest.mark.parametrize(
    ("service", "who", "kwargs"),
    [
        ("order_set_consumer_info", "consumer_owner", {"message": "see attachment"}),
        ("order_set_provider_info", "provider_owner", {"message": "which cluster?"}),
        ("order_set_backend_id", "provider_owner", {"backend_id": "job-1"}),
        ("order_update", "consumer_owner", {"limits": {"cpu": 4}}),
    ],
)
def test_detail_change_writes_an_event_without_a_state_change(world, service, who, kwargs):
    order = OrderFactory(state="pending-consumer", offering=world.basic, project=world.project)

    getattr(services, service)(order=order.pk, actor=world.user(who), **kwargs)

    event = OrderEvent.objects.get(order=order)
    assert (event.kind, event.actor, event.from_state, event.to_state) == (
        service.removeprefix("order_"),
        world.user(who),
        "pending-consumer",
        "pending-consumer",
    )


def test_erred_event_carries_the_error_message(world, sent):
    order = OrderFactory(state="executing", offering=world.slurm, project=world.project)

    services.order_set_state_erred(order=order.pk, actor=world.user("offering_manager"), error_message="no quota")

    assert OrderEvent.objects.get(order=order).message == "no quota"


# --- side effects after commit -----------------------------------------------------------------------


def test_provider_approval_enqueues_processing_only_after_commit(world, sent, django_capture_on_commit_callbacks):
    order = OrderFactory(state="pending-provider", offering=world.webhook, project=world.project)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.order_approve_by_provider(order=order.pk, actor=world.user("provider_owner"))
        assert sent == []

    assert len(callbacks) == 1
    assert sent == [(PROCESS, order.pk, 1)]


def test_retry_enqueues_processing_of_the_new_attempt(world, sent, django_capture_on_commit_callbacks):
    order = OrderFactory(state="erred", offering=world.webhook, project=world.project, attempt=3)

    with django_capture_on_commit_callbacks(execute=True):
        services.order_retry(order=order.pk, actor=world.user("provider_owner"))

    assert sent == [(PROCESS, order.pk, 4)]


@pytest.mark.parametrize(("kind", "action", "before", "who"), [
    ("basic", "order_approve_by_provider", "pending-provider", "provider_owner"),
    ("slurm", "order_set_state_executing", "pending-provider", "offering_manager"),
    ("basic", "order_retry", "erred", "provider_owner"),
    ("basic", "order_release_start_date", "pending-start-date", None),
])  # fmt: skip
def test_entering_executing_where_processing_calls_nothing_hands_the_attempt_over_in_the_same_write(
    world, sent, django_capture_on_commit_callbacks, kind, action, before, who
):
    order = OrderFactory(state=before, offering=world.offering(kind), project=world.project, attempt=2)

    with django_capture_on_commit_callbacks(execute=True):
        getattr(services, action)(order=order.pk, actor=world.user(who) if who else None)

    moved = Order.objects.get(pk=order.pk)
    attempt = moved.attempt
    assert moved.state == "executing"
    assert sent == []  # no task: nothing to call, nothing for the reconciler
    assert (moved.processing_attempt, moved.processing_due_at, moved.processing_lease_until) == (attempt, None, None)
    transition, processing = OrderEvent.objects.filter(order=order).order_by("id")
    assert transition.kind == action.removeprefix("order_")
    assert (processing.kind, processing.actor, processing.from_state, processing.to_state) == (
        "processing",
        None,
        "executing",
        "executing",
    )
    assert processing.message == "Waiting for the provider to report the result."
    assert processing.payload["attempt"] == attempt and processing.payload["outcome"] == "pending"
    # a task for the attempt that still arrives (sent before, or by hand) finds it handled and does nothing
    assert process_order(order_id=order.pk, attempt=attempt) == "skipped"
    assert OrderEvent.objects.filter(order=order).count() == 2


def test_entering_executing_on_an_offering_marked_down_goes_through_processing(
    world, sent, django_capture_on_commit_callbacks
):
    Offering.objects.filter(pk=world.basic.pk).update(backend_healthy=False)
    order = OrderFactory(state="pending-provider", offering=world.basic, project=world.project)

    with django_capture_on_commit_callbacks(execute=True):
        services.order_approve_by_provider(order=order.pk, actor=world.user("provider_owner"))

    moved = Order.objects.get(pk=order.pk)
    assert sent == [(PROCESS, order.pk, 1)]  # recovery decides: processing parks it or hands it over
    assert moved.processing_attempt is None and moved.processing_due_at is not None
    assert list(OrderEvent.objects.filter(order=order).values_list("kind", flat=True)) == ["approve_by_provider"]


def test_new_order_routed_to_executing_enqueues_processing(world, sent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        order = services.order_create(
            actor=world.user("consumer_owner"),
            project=world.project,
            offering=world.webhook,
            plan=world.plans["webhook"],
        )

    assert order.state == "executing"
    assert sent == [(PROCESS, order.pk, 1)]


@pytest.mark.parametrize(
    ("service", "before", "who"),
    [
        ("order_set_state_done", "executing", "provider_owner"),
        ("order_reject_by_provider", "pending-provider", "provider_owner"),
        ("order_approve_by_consumer", "pending-consumer", "consumer_owner"),
    ],
)
def test_transition_not_entering_executing_enqueues_nothing(
    world, sent, django_capture_on_commit_callbacks, service, before, who
):
    order = OrderFactory(state=before, offering=world.basic, project=world.project)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        getattr(services, service)(order=order.pk, actor=world.user(who))

    assert (callbacks, sent) == ([], [])


def test_order_with_callback_url_enqueues_a_callback_per_state_change(world, sent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        order = services.order_create(
            actor=world.user("consumer_owner"),
            project=world.project,
            offering=world.basic,
            plan=world.plans["basic"],
            callback_url="https://consumer.example.org/hook",
        )
    first = Delivery.objects.get(subject_uuid=order.uuid)
    assert first.payload["state"] == "pending-provider"
    assert sent == [(CALLBACK, first.pk)]
    sent.clear()

    with django_capture_on_commit_callbacks(execute=True):
        services.order_approve_by_provider(order=order.pk, actor=world.user("provider_owner"))

    second = Delivery.objects.filter(subject_uuid=order.uuid).exclude(pk=first.pk).get()
    assert second.payload["state"] == "executing"
    assert sent == [(CALLBACK, second.pk)]  # Basic: the attempt was handed over on entry, no task


def test_refused_request_registers_no_side_effect(world, sent, django_capture_on_commit_callbacks):
    order = OrderFactory(state="done", offering=world.basic, project=world.project, callback_url="https://x.org/h")

    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(OrderStateConflict):
        services.order_retry(order=order.pk, actor=world.user("provider_owner"))

    assert (callbacks, sent) == ([], [])
    assert not Delivery.objects.exists()


# --- which refusal wins ------------------------------------------------------------------------------

REFUSALS = [
    # cancel: slurm does not support it (405); only pending/executing orders can be canceled (409)
    ("order_cancel", "stranger", "slurm", "done", ActionNotPermitted),
    ("order_cancel", "support", "slurm", "done", ActionNotPermitted),
    ("order_cancel", "provider_owner", "slurm", "done", ActionNotPermitted),
    ("order_cancel", "consumer_owner", "slurm", "done", OfferingTypeNotSupported),
    ("order_cancel", "consumer_owner", "basic", "done", OrderStateConflict),
    # set_state_executing: basic does not support it (405); it starts from pending review or erred (409)
    ("order_set_state_executing", "consumer_owner", "basic", "done", ActionNotPermitted),
    ("order_set_state_executing", "provider_owner", "basic", "done", OfferingTypeNotSupported),
    ("order_set_state_executing", "provider_owner", "slurm", "done", OrderStateConflict),
    # retry: the service manager of the provider lacks ORDER.RETRY (seed 000)
    ("order_retry", "service_manager", "slurm", "done", ActionNotPermitted),
    ("order_retry", "offering_manager", "slurm", "done", OrderStateConflict),
    ("order_approve_by_provider", "consumer_owner", "slurm", "pending-consumer", ActionNotPermitted),
    ("order_approve_by_consumer", "provider_owner", "basic", "pending-provider", ActionNotPermitted),
    ("order_approve_by_consumer", "consumer_owner", "basic", "pending-provider", OrderStateConflict),
]


@pytest.mark.parametrize(("service", "who", "kind", "state", "error"), REFUSALS)
def test_first_failing_check_decides_the_error_and_nothing_changes(world, sent, service, who, kind, state, error):
    order = OrderFactory(state=state, offering=world.offering(kind), project=world.project)
    before = Order.objects.get(pk=order.pk)

    with pytest.raises(error):
        getattr(services, service)(order=order.pk, actor=world.user(who))

    after = Order.objects.get(pk=order.pk)
    assert (after.state, after.modified, after.attempt) == (before.state, before.modified, before.attempt)
    assert not OrderEvent.objects.filter(order=order).exists()


def test_stranger_cannot_place_an_order_and_nothing_is_saved(world, sent):
    counts = _counts()

    with pytest.raises(ActionNotPermitted):
        services.order_create(
            actor=world.user("stranger"), project=world.project, offering=world.basic, plan=world.plans["basic"]
        )

    assert _counts() == counts


# --- bad input ---------------------------------------------------------------------------------------


def _save(obj, **changes):
    for name, value in changes.items():
        setattr(obj, name, value)
    obj.save()
    return {}


def _yesterday() -> datetime.date:
    return timezone.localdate() - datetime.timedelta(days=1)


BAD_INPUT = [
    # (id, prepares the world and answers the create call's arguments, field named in the error)
    ("unknown component", lambda w: {"limits": {"gpu": 1}}, "limits"),
    ("negative limit", lambda w: {"limits": {"cpu": -1}}, "limits"),
    ("string limit", lambda w: {"limits": {"cpu": "1"}}, "limits"),
    ("float limit", lambda w: {"limits": {"cpu": 1.5}}, "limits"),
    ("boolean limit", lambda w: {"limits": {"cpu": True}}, "limits"),
    ("limits not an object", lambda w: {"limits": [1, 2]}, "limits"),
    ("plan of another offering", lambda w: {"plan": w.plans["slurm"]}, "plan"),
    ("archived plan", lambda w: {"plan": PlanFactory(offering=w.basic, archived=True)}, "plan"),
    ("shared offering without plan", lambda w: {"plan": None}, "plan"),
    ("paused offering", lambda w: _save(w.basic, state="Paused"), "offering"),
    ("archived offering", lambda w: _save(w.basic, state="Archived"), "offering"),
    ("blocked customer", lambda w: _save(w.customer, blocked=True), "project"),
    ("archived customer", lambda w: _save(w.customer, archived=True), "project"),
    ("removed project", lambda w: _save(w.project, is_removed=True), "project"),
    ("expired project", lambda w: _save(w.project, end_date=_yesterday()), "project"),
    ("start date in the past", lambda w: {"start_date": _yesterday()}, "start_date"),
    ("attributes not an object", lambda w: {"attributes": ["x"]}, "attributes"),
]


@pytest.mark.parametrize(("prepare", "field"), [pytest.param(c[1], c[2], id=c[0]) for c in BAD_INPUT])
def test_bad_input_is_refused_naming_the_field_and_nothing_is_saved(world, sent, prepare, field):
    kwargs = {"plan": world.plans["basic"], **prepare(world)}
    counts = _counts()

    with pytest.raises(OrderValidationError) as caught:
        services.order_create(actor=world.user("consumer_owner"), project=world.project, offering=world.basic, **kwargs)

    assert field in caught.value.field_errors
    assert _counts() == counts


def test_private_offering_of_another_organisation_cannot_be_ordered(world, sent):
    private = OfferingFactory(customer=world.provider, shared=False)
    counts = _counts()

    with pytest.raises(OrderValidationError) as caught:
        services.order_create(actor=world.user("consumer_owner"), project=world.project, offering=private)

    assert "offering" in caught.value.field_errors
    assert _counts() == counts


@pytest.fixture
def ok_resource(world):
    return ResourceFactory(
        project=world.project, offering=world.basic, plan=world.plans["basic"], state="OK", limits={"cpu": 1}
    )


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda w, r: services.resource_update_limits(actor=w.user("consumer_owner"), resource=r, limits={"cpu": -2}),
         "limits"),
        (lambda w, r: services.resource_update_limits(actor=w.user("consumer_owner"), resource=r, limits={"gpu": 2}),
         "limits"),
        (lambda w, r: services.resource_update_limits(actor=w.user("consumer_owner"), resource=r, limits={"cpu": 1}),
         "limits"),
        (lambda w, r: services.resource_switch_plan(actor=w.user("consumer_owner"), resource=r,
                                                    plan=PlanFactory(offering=w.basic, archived=True)), "plan"),
        (lambda w, r: services.resource_switch_plan(actor=w.user("consumer_owner"), resource=r,
                                                    plan=w.plans["slurm"]), "plan"),
    ],
    ids=["negative limit", "unknown component", "unchanged limits", "archived plan", "plan of another offering"],
)  # fmt: skip
def test_bad_resource_action_is_refused_and_the_resource_is_untouched(world, sent, ok_resource, call, field):
    counts = _counts()

    with pytest.raises(OrderValidationError) as caught:
        call(world, ok_resource)

    assert field in caught.value.field_errors
    assert _counts() == counts
    resource = Resource.objects.get(pk=ok_resource.pk)
    assert (resource.state, resource.limits, resource.plan) == ("OK", {"cpu": 1}, world.plans["basic"])
