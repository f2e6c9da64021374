"""Model-level validation: what the models refuse whoever writes them (admin, services, shell)."""

from __future__ import annotations

import datetime

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError

from offerings.models import PlanComponent
from orders.models import Order, Resource
from permissions.models import Project, Role, UserRole
from tests.factories import (
    OfferingComponentFactory,
    OfferingFactory,
    OrderFactory,
    PlanFactory,
    ResourceFactory,
    UserFactory,
)

BAD_LIMITS = [
    pytest.param({"cpu": -1}, id="negative"),
    pytest.param({"cpu": "4"}, id="string"),
    pytest.param({"cpu": 1.5}, id="float"),
    pytest.param({"cpu": True}, id="boolean"),
    pytest.param({"cpu": None}, id="null"),
    pytest.param([1], id="not an object"),
]
GOOD_LIMITS = [pytest.param({}, id="empty"), pytest.param({"cpu": 0, "ram": 2048}, id="integers")]
# full_clean() re-assigns every field, which the protected FSM field refuses (see the xfail below);
# services validate orders the same way (orders/services/create.py excludes "state").
FSM = ["state"]


@pytest.mark.parametrize("limits", BAD_LIMITS)
def test_resource_limits_must_be_non_negative_integers(world, limits):
    resource = ResourceFactory.build(project=world.project, offering=world.basic, limits=limits)

    with pytest.raises(ValidationError) as caught:
        resource.full_clean(exclude=FSM)

    assert "limits" in caught.value.message_dict


@pytest.mark.parametrize("limits", BAD_LIMITS)
def test_order_limits_must_be_non_negative_integers(world, limits):
    order = OrderFactory(offering=world.basic, project=world.project)
    order.limits = limits

    with pytest.raises(ValidationError) as caught:
        order.full_clean(exclude=FSM)

    assert "limits" in caught.value.message_dict


@pytest.mark.parametrize("limits", GOOD_LIMITS)
def test_integer_limits_are_accepted(world, limits):
    ResourceFactory.build(project=world.project, offering=world.basic, limits=limits).full_clean(exclude=FSM)
    order = OrderFactory(offering=world.basic, project=world.project)
    order.limits = limits
    order.full_clean(exclude=FSM)


@pytest.mark.parametrize("value", [["x"], "text", 3], ids=["list", "string", "number"])
def test_attributes_must_be_an_object(world, value):
    resource = ResourceFactory.build(project=world.project, offering=world.basic, attributes=value)

    with pytest.raises(ValidationError) as caught:
        resource.full_clean(exclude=FSM)

    assert "attributes" in caught.value.message_dict


def test_plan_component_of_another_offering_is_refused(world):
    foreign = OfferingComponentFactory(offering=OfferingFactory(customer=world.provider), type="gpu")
    plan_component = PlanComponent(plan=world.plans["basic"], component=foreign, price=1)

    with pytest.raises(ValidationError) as caught:
        plan_component.full_clean()

    assert "component" in caught.value.message_dict


def test_plan_component_of_its_own_offering_is_accepted(world):
    plan = PlanFactory(offering=world.basic)
    PlanComponent(plan=plan, component=world.basic.components.get(type="cpu"), price=1).full_clean()


def test_project_must_not_end_before_it_starts(world):
    project = Project(
        customer=world.customer,
        name="Backwards",
        start_date=datetime.date(2030, 2, 1),
        end_date=datetime.date(2030, 1, 1),
    )

    with pytest.raises(ValidationError) as caught:
        project.full_clean()

    assert "end_date" in caught.value.message_dict


def test_project_may_end_on_the_day_it_starts(world):
    day = datetime.date(2030, 2, 1)
    Project(customer=world.customer, name="One day", start_date=day, end_date=day).full_clean()


def _user_role(role: str, scope) -> UserRole:
    return UserRole(
        user=UserFactory(),
        role=Role.objects.get(name=role),
        content_type=ContentType.objects.get_for_model(scope),
        object_id=scope.pk,
    )


@pytest.mark.parametrize(
    ("role", "scope"),
    [
        ("PROJECT.ADMIN", "customer"),
        ("PROJECT.MEMBER", "basic"),
        ("CUSTOMER.OWNER", "project"),
        ("CUSTOMER.MANAGER", "slurm"),
        ("OFFERING.MANAGER", "provider"),
        ("OFFERING.MANAGER", "project"),
    ],
)
def test_role_on_the_wrong_kind_of_scope_is_refused(world, role, scope):
    with pytest.raises(ValidationError) as caught:
        _user_role(role, getattr(world, scope)).full_clean()

    assert "content_type" in caught.value.message_dict


@pytest.mark.parametrize(
    ("role", "scope"),
    [("PROJECT.ADMIN", "project"), ("CUSTOMER.OWNER", "customer"), ("OFFERING.MANAGER", "slurm")],
)
def test_role_on_its_kind_of_scope_is_accepted(world, role, scope):
    _user_role(role, getattr(world, scope)).full_clean()


@pytest.mark.parametrize("model", ["order", "resource"])
def test_state_cannot_be_assigned_directly(world, model):
    order = OrderFactory(state="executing", offering=world.basic, project=world.project)
    obj = order if model == "order" else order.resource

    with pytest.raises(AttributeError):
        obj.state = "done" if model == "order" else "OK"

    fresh = Order.objects.get(pk=order.pk) if model == "order" else Resource.objects.get(pk=order.resource_id)
    assert fresh.state == ("executing" if model == "order" else "Creating")


def test_a_refetched_order_is_still_protected(world):
    order = Order.objects.get(pk=OrderFactory(offering=world.basic, project=world.project).pk)

    with pytest.raises(AttributeError):
        order.state = "done"


@pytest.mark.parametrize("model", ["order", "resource"])
def test_full_clean_of_an_order_or_resource_reports_validation_errors(world, model):
    order = OrderFactory(offering=world.basic, project=world.project)
    obj = order if model == "order" else order.resource
    obj.limits = {"cpu": -1}

    with pytest.raises(ValidationError):
        obj.full_clean()
