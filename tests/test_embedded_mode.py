"""The embedded mode (bin/serve: eager tasks, no broker) over real HTTP: a backend outage never reaches
the caller. The request answers as it would in production; the order ends erred, marked transient, with
each failed attempt in its events."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import pytest
from django.conf import settings

from marketplace.celery import app
from tests import factories as f
from tests.api import create_body
from tests.conftest import DEAD_WEBHOOK_URL, build_world

pytestmark = pytest.mark.skipif(
    not app.conf.task_always_eager, reason="tasks go to a broker here (CELERY_BROKER_URL set): not the embedded mode"
)


class Client:
    """A consumer of the API over HTTP, as curl or a published client would be."""

    def __init__(self, base_url: str, user) -> None:
        self.base_url, self.token = base_url, f.token_for(user)

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, object]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.base_url + path,
            data=data,
            method=method,
            headers={"Authorization": f"Token {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 (the live server)
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()[:2000]


def test_a_webhook_order_approved_during_an_outage_answers_200_and_ends_erred_with_its_attempts(live_server):
    world = build_world()
    world.webhook.plugin_options = {"webhook_url": DEAD_WEBHOOK_URL, "require_provider_review": True}
    world.webhook.save()
    consumer = Client(live_server.url, world.user("consumer_owner"))
    provider = Client(live_server.url, world.user("provider_owner"))
    # the consumer asks to be told about changes, at a URL that is down as well
    body = create_body(world, "webhook", callback_url="http://127.0.0.1:9/callback")
    status, created = consumer.call("POST", "/api/marketplace-orders/", body)
    assert status == 201, created
    assert created["state"] == "pending-provider"
    order_path = f"/api/marketplace-orders/{created['uuid']}/"

    started = time.monotonic()
    status, answer = provider.call("POST", f"{order_path}approve_by_provider/")

    assert status == 200, answer
    assert time.monotonic() - started < 15  # the retries ran at once: no backoff sleeps in a request
    status, order = consumer.call("GET", order_path)
    assert status == 200
    assert (order["state"], order["error_is_transient"]) == ("erred", True)
    assert "unreachable" in order["error_message"]
    status, events = provider.call("GET", f"{order_path}events/?page_size=100")
    assert status == 200
    retries = [event for event in events if event["kind"] == "processing_retry"]
    max_retries = settings.MARKETPLACE["PROCESSING_MAX_RETRIES"]
    assert [event["payload"]["retry"] for event in retries] == list(range(1, max_retries + 1))
    assert all("unreachable" in event["payload"]["reason"] for event in retries)
    (erred,) = [event for event in events if event["to_state"] == "erred"]  # the last failed attempt
    assert erred["payload"] == {"transient": True}
