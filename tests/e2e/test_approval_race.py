"""A person at the provider and the site agent approve the same order at the same moment (over HTTP)."""

from __future__ import annotations

import threading

import pytest
from waldur_api_client.api.marketplace_orders import marketplace_orders_approve_by_provider as approve
from waldur_api_client.errors import UnexpectedStatus
from waldur_api_client.models import OrderApproveByProviderRequest

from orders import services
from orders.models import Order
from tests.conftest import requires_postgres

pytestmark = [pytest.mark.e2e, requires_postgres]


def test_human_and_agent_approving_at_once_one_wins_the_other_gets_409_and_it_is_processed_once(live_world, client_for):
    world = live_world
    order = services.order_create(
        actor=world.user("consumer_owner"), project=world.project, offering=world.slurm, plan=world.plans["slurm"]
    )
    people = {"human": client_for(world.user("provider_owner")), "agent": client_for(world.user("offering_manager"))}
    barrier = threading.Barrier(len(people))
    outcomes: dict[str, object] = {}

    def approve_as(name: str) -> None:
        barrier.wait(timeout=30)
        try:
            approve.sync(uuid=order.uuid, client=people[name], body=OrderApproveByProviderRequest())
            outcomes[name] = 200
        except UnexpectedStatus as exc:
            outcomes[name] = exc.status_code

    threads = [threading.Thread(target=approve_as, args=(name,)) for name in people]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(outcomes.values()) == [200, 409], outcomes
    order = Order.objects.get(pk=order.pk)
    assert order.state == "executing"
    kinds = list(order.events.values_list("kind", flat=True))
    assert kinds.count("approve_by_provider") == 1
    assert kinds.count("processing") == 1  # handed to processing exactly once
