"""Callback deliveries (DESIGN §7): a row per state change, written with the change; every attempt stored;
backoff, redelivery and giving up; a failing receiver never changes the answer of the request; only
http(s) and (in production) no internal callback_url. Receivers are real HTTP servers on 127.0.0.1."""

from __future__ import annotations

import datetime
import json
import socket
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from core import deliveries, http
from core.models import Delivery, DeliveryAttempt
from orders import dispatch, services
from orders.models import Order
from tasks.periodic import redeliver_due_deliveries
from tests.api import ORDERS, create_body, order_url
from tests.conftest import build_world
from tests.factories import OrderFactory


@dataclass
class Receiver:
    """A consumer's callback endpoint: answers the queued statuses (then `status`), remembers requests."""

    url: str = ""
    status: int = 200
    queued: list[int] = field(default_factory=list)
    requests: list[dict] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    endpoint = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's naming)
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            endpoint.requests.append({"headers": dict(self.headers), "body": body})
            status = endpoint.queued.pop(0) if endpoint.queued else endpoint.status
            answer = b'{"received": true}'
            self.send_response(status)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    endpoint.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    yield endpoint
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def sent(monkeypatch):
    """What dispatch hands to Celery: (task name, *args) per call."""
    calls: list[tuple] = []
    monkeypatch.setattr(dispatch, "_send", lambda name, *args: calls.append((name, *args)))
    return calls


@pytest.fixture
def private_refused(settings):
    settings.MARKETPLACE = {**settings.MARKETPLACE, "OUTBOUND_ALLOW_PRIVATE_TARGETS": False}


@pytest.fixture
def options(settings):
    """Change MARKETPLACE options for one test: options(CALLBACK_MAX_ATTEMPTS=2)."""

    def change(**values):
        settings.MARKETPLACE = {**settings.MARKETPLACE, **values}

    return change


def _delivery(url: str, **fields) -> Delivery:
    delivery = deliveries.delivery_create(
        topic="order.state_changed", subject_type="order", subject_uuid=uuid.uuid4(), url=url,
        payload={"uuid": "abc", "state": "done", "url": "/api/marketplace-orders/abc/"},
    )  # fmt: skip
    if fields:
        Delivery.objects.filter(pk=delivery.pk).update(**fields)
        delivery.refresh_from_db()
    return delivery


def _make_due(delivery: Delivery) -> None:
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())


def _refused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- the row, written with the change ----------------------------------------------------------------


def test_state_change_writes_a_delivery_in_the_same_transaction_and_sends_it_after_commit(
    world, sent, settings, django_capture_on_commit_callbacks
):
    settings.MARKETPLACE = {**settings.MARKETPLACE, "PUBLIC_URL": "https://market.example.org/"}
    order = OrderFactory(
        state="pending-provider", offering=world.basic, project=world.project, callback_url="https://c.example.org/h"
    )

    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        services.order_approve_by_provider(order=order.pk, actor=world.user("provider_owner"))
        delivery = Delivery.objects.get(subject_uuid=order.uuid)  # visible before commit
        assert not any(name == dispatch.SEND_DELIVERY for name, *_ in sent)

    assert (delivery.topic, delivery.subject_type, delivery.url, delivery.state) == (
        "order.state_changed", "order", "https://c.example.org/h", "pending",
    )  # fmt: skip
    assert delivery.payload == {
        "uuid": order.uuid.hex,
        "state": "executing",
        "url": f"https://market.example.org/api/marketplace-orders/{order.uuid.hex}/",
    }
    assert (dispatch.SEND_DELIVERY, delivery.pk) in sent


def test_no_delivery_is_left_when_the_transaction_of_the_change_rolls_back(
    world, sent, django_capture_on_commit_callbacks
):
    order = OrderFactory(
        state="pending-provider", offering=world.basic, project=world.project, callback_url="https://c.example.org/h"
    )

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        services.order_approve_by_provider(order=order.pk, actor=world.user("provider_owner"))
        raise RuntimeError("something later in the same transaction failed")

    assert not Delivery.objects.exists()
    assert Order.objects.get(pk=order.pk).state == "pending-provider"
    assert sent == []


def test_order_without_a_callback_url_writes_no_delivery(world, sent, django_capture_on_commit_callbacks):
    order = OrderFactory(state="pending-provider", offering=world.basic, project=world.project)

    with django_capture_on_commit_callbacks(execute=True):
        services.order_approve_by_provider(order=order.pk, actor=world.user("provider_owner"))

    assert not Delivery.objects.exists()


# --- attempts ----------------------------------------------------------------------------------------


def test_successful_attempt_is_stored_and_marks_the_delivery_delivered(db, receiver, options):
    options(CALLBACK_SECRET="s3cret")
    delivery = _delivery(receiver.url)

    assert deliveries.delivery_attempt(delivery.pk) == "delivered"

    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.last_status, delivery.next_attempt_at) == (
        "delivered", 1, 200, None,
    )  # fmt: skip
    assert delivery.delivered_at is not None
    attempt = DeliveryAttempt.objects.get(delivery=delivery)
    assert (attempt.number, attempt.status_code, attempt.error) == (1, 200, "")
    assert attempt.duration_ms >= 0
    assert attempt.response_excerpt == '{"received": true}'
    request = receiver.requests[0]
    assert json.loads(request["body"]) == delivery.payload
    assert request["headers"][http.SIGNATURE_HEADER] == http.sign("s3cret", request["body"])
    assert request["headers"]["X-Marketplace-Delivery"] == delivery.uuid.hex


def test_without_a_secret_the_callback_is_unsigned(db, receiver, options):
    options(CALLBACK_SECRET="")
    deliveries.delivery_attempt(_delivery(receiver.url).pk)

    assert http.SIGNATURE_HEADER not in receiver.requests[0]["headers"]


def test_failed_attempts_are_stored_with_status_or_error_and_retried_with_backoff(db, receiver, options):
    options(CALLBACK_RETRY_BASE_SECONDS=30, CALLBACK_RETRY_MAX_SECONDS=3600)
    receiver.queued = [503]
    delivery = _delivery(receiver.url)

    before = timezone.now()
    assert deliveries.delivery_attempt(delivery.pk) == "retrying"

    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.last_status, delivery.last_error) == (
        "pending", 1, 503, "HTTP 503",
    )  # fmt: skip
    assert before + datetime.timedelta(seconds=30) <= delivery.next_attempt_at
    assert delivery.next_attempt_at <= timezone.now() + datetime.timedelta(seconds=30)

    Delivery.objects.filter(pk=delivery.pk).update(url=f"http://127.0.0.1:{_refused_port()}/hook")
    _make_due(delivery)
    assert deliveries.delivery_attempt(delivery.pk) == "retrying"

    delivery.refresh_from_db()
    assert delivery.next_attempt_at >= timezone.now() + datetime.timedelta(seconds=59)
    attempts = list(DeliveryAttempt.objects.filter(delivery=delivery))
    assert [(a.number, a.status_code) for a in attempts] == [(1, 503), (2, None)]
    assert "cannot connect" in attempts[1].error


def test_backoff_doubles_per_attempt_up_to_the_cap(options):
    options(CALLBACK_RETRY_BASE_SECONDS=10, CALLBACK_RETRY_MAX_SECONDS=60)

    assert [deliveries.retry_delay(n).total_seconds() for n in (1, 2, 3, 4, 5)] == [10, 20, 40, 60, 60]


def test_delivery_gives_up_after_max_attempts(db, receiver, options):
    options(CALLBACK_MAX_ATTEMPTS=3)
    receiver.status = 500
    delivery = _delivery(receiver.url)

    results = []
    for _ in range(3):
        _make_due(delivery)
        results.append(deliveries.delivery_attempt(delivery.pk))

    assert results == ["retrying", "retrying", "failed"]
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.next_attempt_at) == ("failed", 3, None)
    _make_due(delivery)
    assert deliveries.delivery_attempt(delivery.pk) == "skipped"
    assert redeliver_due_deliveries() == 0
    assert len(receiver.requests) == 3


def test_internal_callback_url_fails_at_once_with_the_reason(db, receiver, private_refused):
    delivery = _delivery(receiver.url)

    assert deliveries.delivery_attempt(delivery.pk) == "failed"

    delivery.refresh_from_db()
    assert delivery.state == "failed"
    assert "not an allowed target" in delivery.last_error and "loopback" in delivery.last_error
    assert receiver.requests == []


def test_a_delivery_being_sent_by_another_worker_is_not_sent_again(db, receiver):
    delivery = _delivery(receiver.url)
    assert deliveries._claim(delivery.pk) is not None  # another worker holds the lease

    assert deliveries.delivery_attempt(delivery.pk) == "skipped"

    assert receiver.requests == []
    assert not DeliveryAttempt.objects.exists()


# --- the redelivery sweep ----------------------------------------------------------------------------


def test_redelivery_sweep_sends_what_is_due_and_nothing_else(db, receiver):
    due = _delivery(receiver.url, next_attempt_at=timezone.now() - datetime.timedelta(minutes=1), attempts=1)
    later = _delivery(receiver.url, next_attempt_at=timezone.now() + datetime.timedelta(minutes=5), attempts=1)
    given_up = _delivery(receiver.url, state="failed", next_attempt_at=None)
    delivered = _delivery(receiver.url, state="delivered", next_attempt_at=None)

    assert redeliver_due_deliveries() == 1

    states = dict(Delivery.objects.values_list("pk", "state"))
    assert states == {due.pk: "delivered", later.pk: "pending", given_up.pk: "failed", delivered.pk: "delivered"}
    assert len(receiver.requests) == 1


def test_redelivery_sweep_sends_a_bounded_batch_oldest_first(db, receiver, options):
    options(CALLBACK_SWEEP_BATCH=2)
    past = timezone.now() - datetime.timedelta(minutes=1)
    ids = [_delivery(receiver.url, next_attempt_at=past - datetime.timedelta(seconds=n)).pk for n in range(3)]

    assert redeliver_due_deliveries() == 2

    assert list(Delivery.objects.filter(state="pending").values_list("pk", flat=True)) == [ids[0]]


# --- the request that caused it ----------------------------------------------------------------------


@pytest.fixture
def live_world(transactional_db):
    """Commits are real here, so deliveries run after commit inside the request (eager tasks)."""
    return build_world()


@pytest.mark.parametrize("failure", ["answers 500", "refuses connections"])
def test_failing_callback_url_never_changes_the_answer_of_the_request(live_world, api, receiver, failure):
    receiver.status = 500
    url = receiver.url if failure == "answers 500" else f"http://127.0.0.1:{_refused_port()}/hook"

    created = api.as_user(live_world.user("consumer_owner")).post(
        ORDERS, create_body(live_world, callback_url=url), format="json"
    )
    assert created.status_code == 201, created.content
    order = Order.objects.get(uuid=created.json()["uuid"])
    approved = api.as_user(live_world.user("offering_manager")).post(
        order_url(order, "approve_by_provider"), {}, format="json"
    )

    assert approved.status_code == 200, approved.content
    assert Order.objects.get(pk=order.pk).state == "executing"
    sent = Delivery.objects.filter(subject_uuid=order.uuid).order_by("pk")
    assert [d.payload["state"] for d in sent] == ["pending-provider", "executing"]
    assert all(d.attempts == 1 and d.state == "pending" and d.last_error for d in sent)
    assert DeliveryAttempt.objects.filter(delivery__subject_uuid=order.uuid).count() == 2


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://consumer.example.org/hook", "only http and https"),
        ("file:///etc/passwd", "Enter a valid URL"),
        ("http://127.0.0.1:6379/", "loopback"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://localhost:8000/hook", "loopback"),
    ],
)
def test_create_with_a_callback_url_that_is_not_an_allowed_target_is_400(world, api, private_refused, url, message):
    response = api.as_user(world.user("consumer_owner")).post(
        ORDERS, create_body(world, callback_url=url), format="json"
    )

    assert response.status_code == 400
    assert message in " ".join(response.json()["callback_url"])
    assert not Order.objects.exists()


def test_create_with_a_local_callback_url_is_accepted_when_private_targets_are_allowed(world, api, sent):
    response = api.as_user(world.user("consumer_owner")).post(
        ORDERS, create_body(world, callback_url="http://127.0.0.1:9/hook"), format="json"
    )

    assert response.status_code == 201, response.content
    assert response.json()["callback_url"] == "http://127.0.0.1:9/hook"


# --- what staff see ----------------------------------------------------------------------------------


def test_staff_find_deliveries_by_subject_uuid_and_see_every_attempt_read_only(world, client, receiver):
    order = OrderFactory(state="done", offering=world.basic, project=world.project, callback_url=receiver.url)
    receiver.queued = [500]
    delivery = deliveries.delivery_create(
        topic="order.state_changed", subject_type="order", subject_uuid=order.uuid, url=receiver.url,
        payload={"uuid": order.uuid.hex, "state": "done", "url": ""},
    )  # fmt: skip
    other = _delivery("https://other.example.org/hook")
    deliveries.delivery_attempt(delivery.pk)
    client.force_login(world.user("staff"))
    changelist = reverse("admin:core_delivery_changelist")

    for term in (order.uuid.hex, str(order.uuid)):
        found = client.get(changelist, {"q": term})
        assert found.status_code == 200
        assert list(found.context["cl"].result_list) == [delivery]
    assert list(client.get(changelist, {"q": "other.example.org"}).context["cl"].result_list) == [other]
    assert list(client.get(changelist, {"state__exact": "pending", "topic__exact": "order.state_changed"})
                .context["cl"].result_list) == [other, delivery]  # fmt: skip

    page = client.get(reverse("admin:core_delivery_change", args=[delivery.pk]))
    assert page.status_code == 200
    assert b"HTTP 500" in page.content
    assert client.get(reverse("admin:core_delivery_add")).status_code == 403
    assert client.post(reverse("admin:core_delivery_delete", args=[delivery.pk]), {"post": "yes"}).status_code == 403
    assert Delivery.objects.count() == 2

    order_page = client.get(reverse("admin:orders_order_change", args=[order.pk]))
    assert f"{changelist}?q={order.uuid.hex}".encode() in order_page.content


def test_people_who_are_not_staff_cannot_see_deliveries(world, client):
    client.force_login(world.user("consumer_owner"))

    assert client.get(reverse("admin:core_delivery_changelist")).status_code == 302
