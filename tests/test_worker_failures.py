"""Nothing is lost when the broker or a worker fails (DESIGN §7): real `celery worker` and `celery beat`
processes, a redis-server of the test's own that is stopped and restarted, a worker killed mid-task, and a
fulfilment endpoint on 127.0.0.1 that counts every call and its Idempotency-Key.

The web side is the test itself (an in-process API client) publishing to the same Redis, as gunicorn would.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from django.test import override_settings

from orders.models import Order
from tests.api import ORDERS, create_body, order_url
from tests.brokers import (
    CeleryStack,
    RedisServer,
    database_url,
    redis_server_installed,
    serve_fulfilment,
    use_broker,
    wait_until,
)
from tests.conftest import build_world, requires_postgres

pytestmark = [
    pytest.mark.redis,
    pytest.mark.skipif(not redis_server_installed(), reason="needs redis-server on PATH (a broker of the test's own)"),
    requires_postgres,  # workers in other processes share the test database: a real database server
]

# Short periods so recovery shows within seconds; the broker's visibility timeout keeps its default
# (minutes), so nothing here relies on Redis handing a message out again.
WORKER_ENV = {
    "CELERY_TASK_ALWAYS_EAGER": "false",
    "RECONCILE_AFTER_SECONDS": "2",
    "RECONCILE_INTERVAL_SECONDS": "1",
    "PROCESSING_RETRY_BASE_SECONDS": "1",
    "PROCESSING_LEASE_SECONDS": "10",
    "OUTBOUND_ALLOW_PRIVATE_TARGETS": "true",
    "LOG_LEVEL": "INFO",
}
WEBHOOK_TIMEOUT_SECONDS = 5  # below the lease


class Stack(CeleryStack):
    """Redis, beat and workers for one test; the web side publishes to the same Redis."""

    def __init__(self, tmp_path: Path, redis_server: RedisServer) -> None:
        super().__init__(tmp_path, redis_server.url, {**WORKER_ENV, "DATABASE_URL": database_url()})
        self.redis = redis_server


@pytest.fixture
def stack(transactional_db, tmp_path, request):
    """Redis (append-only when the test asks for it with indirect parametrization), beat and workers."""
    redis_server = RedisServer(tmp_path, persistent=getattr(request, "param", False))
    redis_server.start()
    saved = use_broker(broker_url=redis_server.url, task_always_eager=False)
    stack = Stack(tmp_path, redis_server)
    try:
        with override_settings(MARKETPLACE=web_settings()):  # the web side: same periods as the workers
            yield stack
    finally:
        stack.stop()
        use_broker(**saved)
        redis_server.stop()


def web_settings() -> dict:
    from django.conf import settings

    periods = ("RECONCILE_AFTER_SECONDS", "PROCESSING_LEASE_SECONDS")
    return {**settings.MARKETPLACE, **{key: int(WORKER_ENV[key]) for key in periods}}


@pytest.fixture
def fulfilment():
    endpoint, server = serve_fulfilment()
    yield endpoint
    if endpoint.hold is not None:
        endpoint.hold.set()
    server.shutdown()
    server.server_close()


def webhook_world(url: str):
    world = build_world()
    world.webhook.plugin_options = {
        "webhook_url": url,
        "webhook_timeout_seconds": WEBHOOK_TIMEOUT_SECONDS,
        "require_provider_review": True,
    }
    world.webhook.save()
    return world


def place_and_approve(api, world, statuses: list[int]) -> Order:
    """A consumer places a webhook order and the provider approves it, through the API."""
    created = api.as_user(world.user("consumer_owner")).post(ORDERS, create_body(world, "webhook"), format="json")
    statuses.append(created.status_code)
    assert created.status_code == 201, created.content
    order = Order.objects.get(uuid=created.json()["uuid"])
    approved = api.as_user(world.user("provider_owner")).post(order_url(order, "approve_by_provider"))
    statuses.append(approved.status_code)
    return order


def states(orders: list[Order]) -> dict[str, int]:
    found: dict[str, int] = {}
    for state in Order.objects.filter(pk__in=[o.pk for o in orders]).values_list("state", flat=True):
        found[state] = found.get(state, 0) + 1
    return found


def wait_all_done(stack: Stack, orders: list[Order], seconds: float) -> None:
    try:
        wait_until(lambda: states(orders) == {"done": len(orders)}, seconds=seconds, what="every order done")
    except AssertionError as exc:
        raise AssertionError(f"{exc}: {states(orders)}\n{stack.logs()}") from exc


@pytest.mark.parametrize("stack", [False, True], ids=["redis-without-persistence", "redis-append-only"], indirect=True)
def test_orders_placed_around_a_redis_restart_are_all_fulfilled_once(stack, api, fulfilment):
    world = webhook_world(fulfilment.url)
    stack.beat()
    worker = stack.worker()
    statuses: list[int] = []
    orders: list[Order] = []

    orders += [place_and_approve(api, world, statuses) for _ in range(40)]
    stack.redis.stop()  # a crash: what was queued is gone unless Redis persisted it
    orders += [place_and_approve(api, world, statuses) for _ in range(30)]
    stack.redis.start()
    orders += [place_and_approve(api, world, statuses) for _ in range(30)]

    wait_all_done(stack, orders, seconds=60)
    assert [s for s in statuses if s >= 500] == []
    assert set(statuses) <= {200, 201}
    calls = fulfilment.calls_by_key()
    assert sorted(calls) == sorted(f"{o.uuid.hex}-1" for o in orders)  # every order's attempt reached the backend
    assert sum(calls.values()) == len(orders) == 100  # and only once
    assert worker.alive(), stack.logs()


def test_an_order_whose_worker_was_killed_mid_call_is_done_after_a_new_worker_starts(stack, api, fulfilment):
    world = webhook_world(fulfilment.url)
    stack.beat()
    first = stack.worker()
    fulfilment.hold = threading.Event()  # the backend keeps the first call waiting

    order = place_and_approve(api, world, [])
    wait_until(fulfilment.arrived.is_set, seconds=20, what="the backend call")
    first.kill()  # inside the backend call: no ack, no result, the claim's lease still running
    fulfilment.hold.set()
    killed_at = time.monotonic()
    stack.worker()

    wait_all_done(stack, [order], seconds=40)
    recovered_in = time.monotonic() - killed_at
    assert recovered_in < 30  # the lease (10 s) and the reconciler, not the visibility timeout (510 s)
    calls = fulfilment.calls_by_key()
    assert list(calls) == [f"{order.uuid.hex}-1"]
    assert calls[f"{order.uuid.hex}-1"] <= 2


@pytest.mark.parametrize("stack", [True], ids=["redis-append-only"], indirect=True)
def test_a_worker_with_a_task_in_flight_survives_a_redis_restart(stack, api, fulfilment):
    world = webhook_world(fulfilment.url)
    stack.beat()
    worker = stack.worker()
    fulfilment.hold = threading.Event()

    in_flight = place_and_approve(api, world, [])
    wait_until(fulfilment.arrived.is_set, seconds=20, what="the backend call")
    stack.redis.stop()
    stack.redis.start()
    wait_until(lambda: "Connection to broker lost" in worker.text(), seconds=20, what="the worker noticing")
    fulfilment.hold.set()  # the task in flight finishes after the restart and acknowledges late

    wait_all_done(stack, [in_flight], seconds=30)
    later = place_and_approve(api, world, [])
    wait_all_done(stack, [later], seconds=30)

    assert worker.alive(), stack.logs()
    assert "Unrecoverable error" not in worker.text()
    assert fulfilment.calls_by_key()[f"{later.uuid.hex}-1"] == 1
