"""A real Celery worker, fed through Redis, processes orders handed over after commit."""

from __future__ import annotations

import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import redis
from celery.contrib.testing.worker import start_worker

from marketplace.celery import app
from orders import services
from orders.models import Order
from tests.brokers import use_broker
from tests.conftest import build_world, requires_postgres

REDIS_URL = os.environ.get("REDIS_URL", "")


def _redis_answers() -> bool:
    try:
        return bool(REDIS_URL) and redis.Redis.from_url(REDIS_URL, socket_timeout=1).ping()
    except redis.RedisError:
        return False


pytestmark = [
    pytest.mark.redis,
    pytest.mark.skipif(not _redis_answers(), reason="needs Redis (set REDIS_URL=redis://127.0.0.1:6379/0)"),
    requires_postgres,  # a worker thread writing beside the test needs a real database server
]


class FulfilmentEndpoint(BaseHTTPRequestHandler):
    """A provider's fulfilment URL: answers from a script of status codes, records what it got."""

    script: list[int] = []
    received: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FulfilmentEndpoint.received.append(body)
        status = FulfilmentEndpoint.script.pop(0) if FulfilmentEndpoint.script else 200
        payload = json.dumps({"backend_id": f"vm-{body['order_uuid'][:8]}"}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def fulfilment():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FulfilmentEndpoint)
    FulfilmentEndpoint.script, FulfilmentEndpoint.received = [], []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/fulfil"
    server.shutdown()


@pytest.fixture
def worker(transactional_db):
    """A worker thread consuming from Redis; tasks are sent for real (not eager)."""
    saved = use_broker(broker_url=REDIS_URL, result_backend=None, task_always_eager=False)
    app.loader.import_default_modules()
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10) as running:
            yield running
    finally:
        use_broker(**saved)


def wait_for_state(order: Order, states: set[str], seconds: float = 30) -> Order:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        current = Order.objects.select_related("resource").get(pk=order.pk)
        if current.state in states:
            return current
        time.sleep(0.1)
    raise AssertionError(f"order stayed {current.state}; wanted {states}")


def webhook_order(world, url: str) -> Order:
    world.webhook.plugin_options = {"webhook_url": url, "webhook_secret": "s3cret"}
    world.webhook.save()
    return services.order_create(
        actor=world.user("consumer_owner"), project=world.project, offering=world.webhook, plan=world.plans["webhook"]
    )


def test_worker_fulfils_a_webhook_order_after_commit(worker, fulfilment):
    world = build_world()
    order = webhook_order(world, fulfilment)
    assert order.state == "executing"  # no provider review for webhook offerings

    done = wait_for_state(order, {"done", "erred"})

    assert (done.state, done.resource.state) == ("done", "OK")
    assert done.resource.backend_id == f"vm-{order.uuid.hex[:8]}"
    assert [r["order_uuid"] for r in FulfilmentEndpoint.received] == [order.uuid.hex]


def test_worker_retries_a_transient_outage_then_fulfils(worker, fulfilment):
    world = build_world()
    FulfilmentEndpoint.script = [503, 502]  # the provider is down for two attempts

    done = wait_for_state(webhook_order(world, fulfilment), {"done", "erred"}, seconds=60)  # backoff: ≤ 5 + 10 s

    assert done.state == "done"
    assert len(FulfilmentEndpoint.received) == 3
    retries = done.events.filter(kind="processing_retry").order_by("id")
    assert [event.payload["retry"] for event in retries] == [1, 2]
    assert all("503" in e.payload["reason"] or "502" in e.payload["reason"] for e in retries)


def test_worker_errs_the_order_when_the_provider_refuses_it_and_retry_resubmits(worker, fulfilment):
    world = build_world()
    FulfilmentEndpoint.script = [422]

    erred = wait_for_state(webhook_order(world, fulfilment), {"done", "erred"})
    assert (erred.state, erred.resource.state) == ("erred", "Erred")
    assert "422" in erred.error_message and not erred.error_is_transient

    services.order_retry(order=erred, actor=world.user("provider_owner"))
    done = wait_for_state(erred, {"done"})
    assert done.attempt == 2 and done.resource.state == "OK"
