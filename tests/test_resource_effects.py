"""How a resource follows its order (DESIGN §4), and the resource actions that place orders."""

from __future__ import annotations

import pytest

from orders import services
from orders.exceptions import ResourceStateConflict
from orders.models import Order, OrderEvent, Resource
from tests.factories import OrderFactory, PlanComponentFactory, PlanFactory, ResourceFactory

WHILE_PROCESSING = {"Create": "Creating", "Restore": "Creating", "Update": "Updating", "Terminate": "Terminating"}

# A refused restore leaves the resource where it was before the Restore order: terminated
# (DESIGN §4 lists Create → Terminated; Restore follows the same logic, as in Waldur).


@pytest.fixture(autouse=True)
def no_tasks(monkeypatch):
    monkeypatch.setattr("orders.dispatch._send", lambda name, *args: None)


def _done(order, world):
    services.order_set_state_done(order=order.pk, actor=world.user("provider_owner"))


def _erred(order, world):
    services.order_set_state_erred(order=order.pk, actor=world.user("provider_owner"), error_message="boom")


def _provider_rejects(order, world):
    services.order_reject_by_provider(order=order.pk, actor=world.user("provider_owner"))


def _consumer_rejects(order, world):
    services.order_reject_by_consumer(order=order.pk, actor=world.user("consumer_owner"))


def _cancel(order, world):
    services.order_cancel(order=order.pk, actor=world.user("consumer_owner"))


# (order type, transition, order state before) → resource state after, from DESIGN §4.
TABLE = [
    ("Create", _done, "executing", "OK"),
    ("Restore", _done, "executing", "OK"),
    ("Update", _done, "executing", "OK"),
    ("Terminate", _done, "executing", "Terminated"),
    ("Create", _erred, "executing", "Erred"),
    ("Restore", _erred, "executing", "Erred"),
    ("Update", _erred, "executing", "Erred"),
    ("Terminate", _erred, "executing", "OK"),
    ("Create", _provider_rejects, "pending-provider", "Terminated"),
    ("Update", _provider_rejects, "pending-provider", "OK"),
    ("Terminate", _provider_rejects, "pending-provider", "OK"),
    pytest.param("Restore", _provider_rejects, "pending-provider", "Terminated"),
    ("Create", _consumer_rejects, "pending-consumer", "Terminated"),
    ("Update", _consumer_rejects, "pending-consumer", "OK"),
    ("Terminate", _consumer_rejects, "pending-consumer", "OK"),
    pytest.param("Restore", _consumer_rejects, "pending-consumer", "Terminated"),
    ("Create", _cancel, "executing", "Terminated"),
    ("Update", _cancel, "executing", "OK"),
    ("Terminate", _cancel, "executing", "OK"),
    pytest.param("Restore", _cancel, "pending-provider", "Terminated"),
]


@pytest.mark.parametrize(("order_type", "transition", "from_state", "expected"), TABLE)
def test_resource_follows_its_order(world, order_type, transition, from_state, expected):
    order = OrderFactory(type=order_type, state=from_state, offering=world.basic, project=world.project)
    assert order.resource.state == WHILE_PROCESSING[order_type]

    transition(order, world)

    assert Resource.objects.get(pk=order.resource_id).state == expected


@pytest.mark.parametrize(
    ("order_type", "resource_after_error", "expected"),
    [("Create", "Erred", "Creating"), ("Update", "Erred", "Updating"), ("Terminate", "OK", "Terminating")],
)
def test_retry_puts_the_resource_back_into_processing(world, order_type, resource_after_error, expected):
    resource = ResourceFactory(project=world.project, offering=world.basic, state=resource_after_error)
    order = OrderFactory(type=order_type, state="erred", offering=world.basic, project=world.project, resource=resource)

    services.order_retry(order=order.pk, actor=world.user("provider_owner"))

    assert Resource.objects.get(pk=resource.pk).state == expected


def test_retry_clears_the_errors_of_order_and_resource_and_counts_the_attempt(world):
    order = OrderFactory(type="Create", state="executing", offering=world.slurm, project=world.project)
    services.order_set_state_erred(
        order=order.pk, actor=world.user("offering_manager"), error_message="disk full", error_traceback="Trace..."
    )
    erred = Order.objects.get(pk=order.pk)
    assert (erred.error_message, erred.error_traceback) == ("disk full", "Trace...")
    assert erred.completed_at is not None
    assert Resource.objects.get(pk=order.resource_id).error_message == "disk full"

    services.order_retry(order=order.pk, actor=world.user("offering_manager"))

    retried = Order.objects.get(pk=order.pk)
    assert retried.state == "executing"
    assert (retried.error_message, retried.error_traceback, retried.completed_at) == ("", "", None)
    assert retried.attempt == erred.attempt + 1
    resource = Resource.objects.get(pk=order.resource_id)
    assert (resource.state, resource.error_message, resource.error_traceback) == ("Creating", "", "")
    event = OrderEvent.objects.filter(order=order).exclude(kind="processing").latest("id")
    assert (event.kind, event.actor, event.from_state, event.to_state) == (
        "retry",
        world.user("offering_manager"),
        "erred",
        "executing",
    )


def test_erred_order_stores_its_error_on_the_resource(world):
    order = OrderFactory(type="Update", state="executing", offering=world.basic, project=world.project)

    services.order_set_state_erred(order=order.pk, actor=None, error_message="quota", error_traceback="tb")

    resource = Resource.objects.get(pk=order.resource_id)
    assert (resource.state, resource.error_message, resource.error_traceback) == ("Erred", "quota", "tb")


@pytest.fixture
def ok_resource(world):
    return ResourceFactory(
        project=world.project, offering=world.basic, plan=world.plans["basic"], state="OK", limits={"cpu": 1}
    )


def _approve_and_finish(order, world):
    services.order_approve_by_provider(order=order.pk, actor=world.user("provider_owner"))
    assert Order.objects.get(pk=order.pk).state == "executing"
    services.order_set_state_done(order=order.pk, actor=world.user("provider_owner"))


def test_done_update_order_applies_new_limits_to_the_resource(world, ok_resource):
    order = services.resource_update_limits(actor=world.user("consumer_owner"), resource=ok_resource, limits={"cpu": 5})
    assert Resource.objects.get(pk=ok_resource.pk).limits == {"cpu": 1}

    _approve_and_finish(order, world)

    resource = Resource.objects.get(pk=ok_resource.pk)
    assert (resource.state, resource.limits) == ("OK", {"cpu": 5})


def test_done_plan_switch_applies_the_new_plan_to_the_resource(world, ok_resource):
    new_plan = PlanFactory(offering=world.basic, name="bigger")
    PlanComponentFactory(plan=new_plan, component=world.basic.components.get(type="cpu"), price=2)
    order = services.resource_switch_plan(actor=world.user("consumer_owner"), resource=ok_resource, plan=new_plan)
    assert Resource.objects.get(pk=ok_resource.pk).plan == world.plans["basic"]

    _approve_and_finish(order, world)

    resource = Resource.objects.get(pk=ok_resource.pk)
    assert (resource.state, resource.plan) == ("OK", new_plan)


def test_rejected_update_order_leaves_the_resource_limits_alone(world, ok_resource):
    order = services.resource_update_limits(actor=world.user("consumer_owner"), resource=ok_resource, limits={"cpu": 5})

    services.order_reject_by_provider(order=order.pk, actor=world.user("provider_owner"))

    resource = Resource.objects.get(pk=ok_resource.pk)
    assert (resource.state, resource.limits) == ("OK", {"cpu": 1})


def test_deleting_a_pending_create_order_removes_its_never_provisioned_resource(world):
    order = services.order_create(
        actor=world.user("project_member"), project=world.project, offering=world.basic, plan=world.plans["basic"]
    )
    assert order.state == "pending-consumer"

    services.order_delete(order=order.pk, actor=world.user("project_admin"))

    assert not Order.objects.filter(pk=order.pk).exists()
    assert not Resource.objects.filter(pk=order.resource_id).exists()


def test_deleting_a_pending_update_order_keeps_the_resource_and_returns_it_to_ok(world, ok_resource):
    order = services.resource_update_limits(actor=world.user("project_admin"), resource=ok_resource, limits={"cpu": 3})
    assert Order.objects.get(pk=order.pk).state == "pending-consumer"

    services.order_delete(order=order.pk, actor=world.user("project_admin"))

    resource = Resource.objects.get(pk=ok_resource.pk)
    assert (resource.state, resource.limits) == ("OK", {"cpu": 1})


def test_deleting_a_pending_terminate_order_returns_the_resource_to_ok(world, ok_resource):
    order = services.resource_terminate(actor=world.user("project_admin"), resource=ok_resource)
    assert Resource.objects.get(pk=ok_resource.pk).state == "Terminating"

    services.order_delete(order=order.pk, actor=world.user("consumer_owner"))

    assert Resource.objects.get(pk=ok_resource.pk).state == "OK"


def test_new_create_order_comes_with_a_resource_in_creating(world):
    order = services.order_create(
        actor=world.user("consumer_owner"), project=world.project, offering=world.basic, plan=world.plans["basic"]
    )

    resource = Resource.objects.get(pk=order.resource_id)
    assert (resource.state, resource.project, resource.offering) == ("Creating", world.project, world.basic)


def _terminate(world, resource):
    return services.resource_terminate(actor=world.user("consumer_owner"), resource=resource)


def _update_limits(world, resource):
    return services.resource_update_limits(actor=world.user("consumer_owner"), resource=resource, limits={"cpu": 7})


def _switch_plan(world, resource):
    plan = PlanFactory(offering=world.basic, name="other")
    return services.resource_switch_plan(actor=world.user("consumer_owner"), resource=resource, plan=plan)


RESOURCE_ACTIONS = [(_terminate, "Terminate", "Terminating"), (_update_limits, "Update", "Updating")]
RESOURCE_ACTIONS.append((_switch_plan, "Update", "Updating"))


@pytest.mark.parametrize(("action", "order_type", "resource_state"), RESOURCE_ACTIONS)
def test_resource_action_places_an_order_and_moves_the_resource(world, ok_resource, action, order_type, resource_state):
    order = action(world, ok_resource)

    assert (order.type, order.resource_id) == (order_type, ok_resource.pk)
    assert Resource.objects.get(pk=ok_resource.pk).state == resource_state


@pytest.mark.parametrize("first", [a for a, _, _ in RESOURCE_ACTIONS])
@pytest.mark.parametrize("second", [a for a, _, _ in RESOURCE_ACTIONS])
def test_resource_refuses_a_second_order_while_one_is_active(world, ok_resource, first, second):
    first(world, ok_resource)
    state_after_first = Resource.objects.get(pk=ok_resource.pk).state
    orders_before = Order.objects.count()

    with pytest.raises(ResourceStateConflict):
        second(world, Resource.objects.get(pk=ok_resource.pk))

    assert Order.objects.count() == orders_before
    assert Resource.objects.get(pk=ok_resource.pk).state == state_after_first


def test_resource_in_ok_with_a_pending_order_still_refuses_another(world, ok_resource):
    OrderFactory(
        type="Update", state="pending-consumer", offering=world.basic, project=world.project, resource=ok_resource
    )

    with pytest.raises(ResourceStateConflict, match="Pending order"):
        _terminate(world, ok_resource)

    assert Resource.objects.get(pk=ok_resource.pk).state == "OK"
    assert Order.objects.filter(resource=ok_resource).count() == 1
