"""Bad input from a site agent gets a clear 4xx (which the agent's client raises and logs); nothing changes."""

from __future__ import annotations

import uuid

import pytest
from waldur_api_client.api.marketplace_orders import marketplace_orders_retrieve as retrieve
from waldur_api_client.api.marketplace_orders import marketplace_orders_set_state_done as set_state_done
from waldur_api_client.api.marketplace_orders import marketplace_orders_set_state_erred as set_state_erred
from waldur_api_client.api.marketplace_provider_resources import (
    marketplace_provider_resources_retrieve as resource_retrieve,
)
from waldur_api_client.api.marketplace_provider_resources import (
    marketplace_provider_resources_set_limits as set_limits,
)
from waldur_api_client.errors import UnexpectedStatus
from waldur_api_client.models import OrderErrorDetailsRequest, ResourceSetLimitsRequest, ResourceSetLimitsRequestLimits

from orders import services
from orders.models import Order, OrderEvent, Resource

pytestmark = [pytest.mark.e2e]


@pytest.fixture
def agent_setup(live_world, client_for):
    world = live_world
    order = services.order_create(
        actor=world.user("consumer_owner"), project=world.project, offering=world.slurm, plan=world.plans["slurm"],
        limits={"cpu": 10},
    )  # fmt: skip
    return world, order, client_for(world.user("offering_manager"))


def snapshot(order: Order) -> tuple:
    order = Order.objects.select_related("resource").get(pk=order.pk)
    return order.state, order.modified, order.resource.limits, order.resource.modified, OrderEvent.objects.count()


def status_of(call) -> int:
    with pytest.raises(UnexpectedStatus) as refused:
        call()
    return refused.value.status_code


def test_unknown_uuids_answer_404(agent_setup):
    world, order, agent = agent_setup
    before = snapshot(order)
    unknown = uuid.uuid4()
    assert status_of(lambda: retrieve.sync(uuid=unknown, client=agent)) == 404
    assert status_of(lambda: set_state_done.sync_detailed(uuid=unknown, client=agent)) == 404
    assert status_of(lambda: resource_retrieve.sync(uuid=unknown, client=agent)) == 404
    assert snapshot(order) == before


def test_set_state_done_on_an_order_that_is_not_executing_answers_409(agent_setup):
    world, order, agent = agent_setup
    before = snapshot(order)
    response = agent.get_httpx_client().post(f"/api/marketplace-orders/{order.uuid}/set_state_done/")
    assert response.status_code == 409
    assert "Valid states for operation: executing" in response.json()["detail"]
    assert status_of(lambda: set_state_done.sync_detailed(uuid=order.uuid, client=agent)) == 409
    assert snapshot(order) == before


def test_malformed_limits_answer_400_with_the_field_named(agent_setup):
    world, order, agent = agent_setup
    resource = Resource.objects.get(pk=order.resource_id)
    before = snapshot(order)
    http = agent.get_httpx_client()
    for limits in ({"cpu": -1}, {"cpu": "lots"}, "cpu=10", {"cpu": 1.5}):
        response = http.post(
            f"/api/marketplace-provider-resources/{resource.uuid}/set_limits/", json={"limits": limits}
        )
        assert response.status_code == 400, (limits, response.text)
        assert "limits" in response.json()
    body = ResourceSetLimitsRequest(limits=ResourceSetLimitsRequestLimits.from_dict({"cpu": -5}))
    assert status_of(lambda: set_limits.sync(uuid=resource.uuid, client=agent, body=body)) == 400
    assert snapshot(order) == before


def test_agent_of_another_offering_cannot_err_this_order(agent_setup, client_for):
    world, order, _ = agent_setup
    stranger_agent = client_for(world.user("other_owner"))
    before = snapshot(order)
    body = OrderErrorDetailsRequest(error_message="not yours")
    assert status_of(lambda: set_state_erred.sync_detailed(uuid=order.uuid, client=stranger_agent, body=body)) == 404
    assert snapshot(order) == before
