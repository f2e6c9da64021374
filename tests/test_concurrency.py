"""Row-lock races on PostgreSQL: two people (or a person and a site agent) act on one order at once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import partial

import pytest
import requests
from django.db import connection

from orders import dispatch, services
from orders.exceptions import OrderStateConflict, ResourceStateConflict
from orders.models import Order, OrderEvent, Resource
from tests.conftest import requires_postgres
from tests.factories import OrderFactory, ResourceFactory, token_for

pytestmark = [
    requires_postgres,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture(autouse=True)
def no_tasks(monkeypatch):
    monkeypatch.setattr(dispatch, "_send", lambda name, *args: None)


def race(*calls: Callable[[], object], timeout: float = 30) -> list[object]:
    """Run the calls in threads released together; each result is the return value or the exception."""
    barrier = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def run(index: int, call: Callable[[], object]) -> None:
        try:
            barrier.wait(timeout=timeout)
            results[index] = call()
        except Exception as exc:  # the outcome under test
            results[index] = exc
        finally:
            connection.close()  # each thread has its own connection; do not leak it

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
        assert not thread.is_alive(), "a racing call did not finish"
    return results


def _split(results: list[object]) -> tuple[list[Order], list[Exception]]:
    won = [r for r in results if isinstance(r, Order)]
    lost = [r for r in results if isinstance(r, Exception)]
    return won, lost


def test_two_concurrent_provider_approvals_succeed_exactly_once(world):
    order = OrderFactory(state="pending-provider", offering=world.slurm, project=world.project)
    owner, manager = world.user("provider_owner"), world.user("offering_manager")

    results = race(
        lambda: services.order_approve_by_provider(order=order.pk, actor=owner),
        lambda: services.order_approve_by_provider(order=order.pk, actor=manager),
    )

    won, lost = _split(results)
    assert len(won) == 1, results
    assert len(lost) == 1 and isinstance(lost[0], OrderStateConflict), results
    assert Order.objects.get(pk=order.pk).state == "executing"
    assert OrderEvent.objects.filter(order=order, kind="approve_by_provider").count() == 1
    assert Order.objects.get(pk=order.pk).provider_reviewed_by == won[0].provider_reviewed_by


def test_provider_approval_racing_the_site_agent_taking_the_order_succeeds_once(world):
    order = OrderFactory(state="pending-provider", offering=world.slurm, project=world.project)
    owner, agent = world.user("provider_owner"), world.user("offering_manager")

    results = race(
        lambda: services.order_approve_by_provider(order=order.pk, actor=owner),
        lambda: services.order_set_state_executing(order=order.pk, actor=agent),
    )

    won, lost = _split(results)
    assert len(won) == 1, results
    assert len(lost) == 1 and isinstance(lost[0], OrderStateConflict), results
    assert Order.objects.get(pk=order.pk).state == "executing"
    kinds = list(OrderEvent.objects.filter(order=order).order_by("id").values_list("kind", flat=True))
    # the winner's transition, then its hand-over (the site agent's processing calls nothing)
    assert len(kinds) == 2 and kinds[0] in ("approve_by_provider", "set_state_executing"), kinds
    assert kinds[1] == "processing"


def test_two_concurrent_retries_increment_the_attempt_once(world):
    order = OrderFactory(state="erred", offering=world.slurm, project=world.project)
    owner, manager = world.user("provider_owner"), world.user("offering_manager")

    results = race(
        lambda: services.order_retry(order=order.pk, actor=owner),
        lambda: services.order_retry(order=order.pk, actor=manager),
    )

    won, lost = _split(results)
    assert len(won) == 1 and len(lost) == 1 and isinstance(lost[0], OrderStateConflict), results
    assert Order.objects.get(pk=order.pk).attempt == 2
    assert OrderEvent.objects.filter(order=order, kind="retry").count() == 1


def test_two_concurrent_terminations_of_a_resource_place_one_order(world):
    resource = ResourceFactory(project=world.project, offering=world.basic, plan=world.plans["basic"], state="OK")
    owner, admin = world.user("consumer_owner"), world.user("project_admin")

    results = race(
        lambda: services.resource_terminate(actor=owner, resource=resource),
        lambda: services.resource_terminate(actor=admin, resource=resource),
    )

    won, lost = _split(results)
    assert len(won) == 1 and len(lost) == 1 and isinstance(lost[0], ResourceStateConflict), results
    assert Order.objects.filter(resource=resource, type="Terminate").count() == 1


# --- over HTTP: a DELETE racing a state change on the same pending order -------------------------

# action → (offering kind that supports it, acting user, expected success status). Each target state
# refuses a later DELETE (409), so exactly one of the two requests can win.
RACING_ACTIONS = {
    "approve_by_consumer": ("webhook", "consumer_owner", 200),  # → executing (no provider review)
    "reject_by_consumer": ("basic", "consumer_owner", 200),
    "cancel": ("basic", "consumer_owner", 202),
    "set_state_erred": ("basic", "provider_owner", 200),
}
ROUNDS = 32


def status_of(send: Callable[..., requests.Response], url: str, **kwargs: object) -> int:
    return send(url, timeout=20, **kwargs).status_code


def test_delete_racing_state_changes_over_http_never_answers_5xx_and_exactly_one_wins(world, live_server):
    sessions = {}
    for key in ("consumer_owner", "provider_owner"):
        sessions[key] = requests.Session()
        sessions[key].headers["Authorization"] = f"Token {token_for(world.user(key))}"
    outcomes: list[tuple[str, int, int]] = []

    for round_ in range(ROUNDS):
        action = list(RACING_ACTIONS)[round_ % len(RACING_ACTIONS)]
        kind, actor, ok = RACING_ACTIONS[action]
        order = OrderFactory(
            state="pending-consumer", offering=world.offering(kind), project=world.project, plan=world.plans[kind]
        )
        url = f"{live_server.url}/api/marketplace-orders/{order.uuid.hex}/"

        deleted, acted = race(
            partial(status_of, sessions["consumer_owner"].delete, url),
            partial(status_of, sessions[actor].post, f"{url}{action}/", json={}),
        )

        assert isinstance(deleted, int) and isinstance(acted, int), (action, deleted, acted)
        outcomes.append((action, deleted, acted))
        assert deleted < 500 and acted < 500, (action, deleted, acted)
        still_there = Order.objects.filter(pk=order.pk).first()
        if deleted == 204:  # DELETE won: the action found no order
            assert acted == 404, (action, deleted, acted)
            assert still_there is None
            # a never-provisioned Create order takes its resource with it: no orphan
            assert not Resource.objects.filter(pk=order.resource_id).exists()
        else:  # the action won: the DELETE found the order in a state it cannot delete
            assert (acted, deleted) == (ok, 409), (action, deleted, acted)
            assert still_there is not None and still_there.state != "pending-consumer"
            assert OrderEvent.objects.filter(order=order, kind=action).count() == 1
            assert Resource.objects.filter(pk=order.resource_id).exists()

    assert len(outcomes) == ROUNDS
