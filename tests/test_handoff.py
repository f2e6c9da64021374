"""The hand-off to workers (DESIGN §7): claims per (order, attempt), the reconciler, guarded publishing,
the embedded mode's inline retries, and the evidence a retry keeps."""

from __future__ import annotations

import datetime
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.conf import settings
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from orders import dispatch, processing, selectors, services
from orders.models import Order, OrderEvent
from tasks.periodic import reconcile_executing_orders
from tests.api import ORDERS, create_body, order_url
from tests.brokers import free_port, serve_fulfilment, use_broker
from tests.conftest import DEAD_WEBHOOK_URL, build_world, requires_postgres
from tests.factories import OrderFactory

MAX_RETRIES = settings.MARKETPLACE["PROCESSING_MAX_RETRIES"]


@pytest.fixture
def fulfilment():
    endpoint, server = serve_fulfilment()
    yield endpoint
    server.shutdown()
    server.server_close()


@pytest.fixture
def sent(monkeypatch):
    """What the code hands to Celery, instead of handing it over."""
    calls: list[tuple] = []
    monkeypatch.setattr(dispatch, "_send", lambda name, *args: calls.append((name, *args)))
    return calls


def executing_webhook_order(world, url: str = DEAD_WEBHOOK_URL, **kwargs) -> Order:
    world.webhook.plugin_options = {"webhook_url": url, "webhook_timeout_seconds": 5}
    world.webhook.save()
    kwargs.setdefault("processing_due_at", timezone.now() + datetime.timedelta(seconds=60))
    return OrderFactory(state="executing", offering=world.webhook, project=world.project, **kwargs)


def reviewed_webhook(world, url: str = DEAD_WEBHOOK_URL) -> None:
    world.webhook.plugin_options = {"webhook_url": url, "require_provider_review": True}
    world.webhook.save()


# --- claims -------------------------------------------------------------------------------------------


def test_only_one_delivery_claims_an_attempt_until_its_lease_runs_out(world):
    order = executing_webhook_order(world)

    assert processing.claim_order(order_id=order.pk, attempt=1) is True
    assert processing.claim_order(order_id=order.pk, attempt=1) is False  # a duplicate message

    claimed = Order.objects.get(pk=order.pk)
    assert claimed.processing_attempt == 1
    assert claimed.processing_due_at > claimed.processing_lease_until > timezone.now()

    Order.objects.filter(pk=order.pk).update(processing_lease_until=timezone.now() - datetime.timedelta(seconds=1))
    assert processing.claim_order(order_id=order.pk, attempt=1) is True  # the claiming worker died


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_deliveries_of_one_attempt_have_exactly_one_claim():
    world = build_world()
    orders = [executing_webhook_order(world) for _ in range(10)]

    def claim(order: Order, barrier: threading.Barrier) -> bool:
        barrier.wait()
        try:
            return processing.claim_order(order_id=order.pk, attempt=1)
        finally:
            connection.close()

    for order in orders:
        barrier = threading.Barrier(6)
        with ThreadPoolExecutor(max_workers=6) as pool:
            claims = list(pool.map(claim, [order] * 6, [barrier] * 6))
        assert claims.count(True) == 1, claims


def test_a_duplicate_delivery_never_calls_the_backend_while_another_holds_the_claim(world, fulfilment):
    order = executing_webhook_order(world, fulfilment.url)
    assert processing.claim_order(order_id=order.pk, attempt=1)

    assert processing.process_order(order_id=order.pk, attempt=1) == "skipped"

    assert fulfilment.keys == []
    assert Order.objects.get(pk=order.pk).state == "executing"


def test_a_message_for_an_older_attempt_is_skipped(world, fulfilment):
    order = executing_webhook_order(world, fulfilment.url, attempt=2)

    assert processing.claim_order(order_id=order.pk, attempt=1) is False
    assert processing.process_order(order_id=order.pk, attempt=1) == "skipped"

    assert fulfilment.keys == []


def test_an_attempt_left_waiting_for_the_provider_is_not_processed_again(world, monkeypatch):
    order = OrderFactory(state="executing", offering=world.slurm, project=world.project)

    assert processing.process_order(order_id=order.pk, attempt=1) == "pending"
    waiting = Order.objects.get(pk=order.pk)
    assert (waiting.processing_due_at, waiting.processing_lease_until) == (None, None)

    assert processing.process_order(order_id=order.pk, attempt=1) == "skipped"  # a late duplicate
    assert OrderEvent.objects.filter(order=order, kind="processing").count() == 1


def test_a_processed_order_is_done_and_its_hand_off_bookkeeping_cleared(world, fulfilment):
    order = executing_webhook_order(world, fulfilment.url)

    assert processing.process_order(order_id=order.pk, attempt=1) == "done"

    done = Order.objects.get(pk=order.pk)
    assert done.state == "done"
    assert (done.processing_due_at, done.processing_lease_until) == (None, None)
    assert fulfilment.keys == [f"{order.uuid.hex}-1"]


# --- transient failures, counted in the row -----------------------------------------------------------


def test_a_transient_failure_is_counted_in_the_row_and_recorded_with_its_next_try(world):
    order = executing_webhook_order(world)

    with pytest.raises(processing.TransientBackendError):
        processing.process_order(order_id=order.pk, attempt=1)
    processing.record_retry(order_id=order.pk, attempt=1, reason="Fulfilment endpoint unreachable.", countdown=10)

    failed = Order.objects.get(pk=order.pk)
    assert failed.processing_retries == 1
    assert failed.processing_lease_until is None  # released for the retry
    next_try = timezone.now() + datetime.timedelta(seconds=10)
    assert failed.processing_due_at > next_try  # the reconciler leaves the scheduled retry alone
    event = OrderEvent.objects.get(order=order, kind="processing_retry")
    assert event.payload["attempt"] == 1 and event.payload["retry"] == 1
    assert event.payload["reason"] == "Fulfilment endpoint unreachable."
    assert abs(datetime.datetime.fromisoformat(event.payload["next_try_at"]) - next_try).total_seconds() < 5


def test_the_retry_bound_holds_across_redeliveries(world):
    order = executing_webhook_order(world, processing_retries=MAX_RETRIES)  # earlier deliveries failed

    assert processing.process_order(order_id=order.pk, attempt=1) == "erred"

    erred = Order.objects.get(pk=order.pk)
    assert (erred.state, erred.error_is_transient) == ("erred", True)
    assert "unreachable" in erred.error_message


# --- the reconciler -----------------------------------------------------------------------------------


def test_reconciler_resends_only_due_executing_orders_of_automated_types_and_pushes_them_back(world, sent):
    now = timezone.now()
    past, future = now - datetime.timedelta(seconds=5), now + datetime.timedelta(minutes=5)
    due = executing_webhook_order(world, processing_due_at=past)
    retried = executing_webhook_order(world, processing_due_at=past, attempt=3)
    executing_webhook_order(world, processing_due_at=future)  # claimed, or just handed over
    executing_webhook_order(world, processing_due_at=None)  # waiting for the provider's callback
    OrderFactory(state="executing", offering=world.basic, project=world.project, processing_due_at=past)
    OrderFactory(state="erred", offering=world.webhook, project=world.project, processing_due_at=past)

    assert reconcile_executing_orders() == 2

    assert sorted(sent) == sorted([(dispatch.PROCESS_ORDER, due.pk, 1), (dispatch.PROCESS_ORDER, retried.pk, 3)])
    after = settings.MARKETPLACE["RECONCILE_AFTER_SECONDS"]
    for order in (due, retried):
        pushed = Order.objects.get(pk=order.pk).processing_due_at
        assert now + datetime.timedelta(seconds=after - 1) < pushed < timezone.now() + datetime.timedelta(seconds=after)
    assert reconcile_executing_orders() == 0  # nothing due again until RECONCILE_AFTER has passed


def test_reconciler_sends_a_bounded_batch_most_overdue_first(world, sent):
    now = timezone.now()
    orders = [executing_webhook_order(world, processing_due_at=now - datetime.timedelta(minutes=i)) for i in range(5)]

    with override_settings(MARKETPLACE={**settings.MARKETPLACE, "RECONCILE_BATCH_SIZE": 2}):
        assert reconcile_executing_orders() == 2

    assert [args[1] for args in sent] == [orders[4].pk, orders[3].pk]


def test_the_reconciler_is_in_the_beat_schedule():
    entries = {entry["task"]: entry for entry in settings.CELERY_BEAT_SCHEDULE.values()}

    entry = entries["tasks.periodic.reconcile_executing_orders"]
    assert entry["schedule"] == settings.MARKETPLACE["RECONCILE_INTERVAL_SECONDS"]


# --- publishing is guarded ----------------------------------------------------------------------------


@pytest.fixture
def dead_broker():
    """The Celery app publishing, for real, to a Redis port where nothing listens."""
    saved = use_broker(broker_url=f"redis://127.0.0.1:{free_port()}/0", task_always_eager=False)
    yield
    use_broker(**saved)


def test_an_order_placed_while_the_broker_is_down_is_accepted_quickly_and_left_to_the_reconciler(
    world, api, dead_broker, fulfilment, django_capture_on_commit_callbacks
):
    world.webhook.plugin_options = {"webhook_url": fulfilment.url}
    world.webhook.save()
    started = time.monotonic()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = api.as_user(world.user("consumer_owner")).post(ORDERS, create_body(world, "webhook"), format="json")

    assert response.status_code == 201, response.content
    assert callbacks  # the hand-off was attempted, and failed
    assert time.monotonic() - started < 5
    order = Order.objects.get(uuid=response.json()["uuid"])
    assert order.state == "executing"
    later = timezone.now() + datetime.timedelta(seconds=settings.MARKETPLACE["RECONCILE_AFTER_SECONDS"] + 1)
    assert (order.pk, 1) in selectors.orders_due_for_reconcile(now=later, limit=10)
    assert fulfilment.keys == []


def test_send_never_raises_when_the_broker_is_down(world, dead_broker):
    order = executing_webhook_order(world)

    dispatch.send_processing(order_id=order.pk, attempt=1)  # logged, not raised


# --- the embedded mode: eager tasks, inline retries ---------------------------------------------------


@pytest.fixture
def eager():
    saved = use_broker(task_always_eager=True)
    yield
    use_broker(**saved)


def assert_erred_after_bounded_retries(order: Order) -> None:
    erred = Order.objects.get(pk=order.pk)
    assert (erred.state, erred.error_is_transient) == ("erred", True)
    assert "unreachable" in erred.error_message
    retries = list(OrderEvent.objects.filter(order=order, kind="processing_retry").order_by("id"))
    assert [event.payload["retry"] for event in retries] == list(range(1, MAX_RETRIES + 1))
    assert all(event.payload["attempt"] == erred.attempt for event in retries)
    final = OrderEvent.objects.filter(order=order, kind="set_state_erred").get()  # the last failed attempt
    assert final.payload == {"transient": True} and final.message == erred.error_message


def test_approving_a_webhook_order_while_its_backend_is_down_answers_200_and_errs_it(
    world, api, eager, django_capture_on_commit_callbacks
):
    reviewed_webhook(world)
    response = api.as_user(world.user("consumer_owner")).post(ORDERS, create_body(world, "webhook"), format="json")
    order = Order.objects.get(uuid=response.json()["uuid"])
    assert order.state == "pending-provider"
    started = time.monotonic()

    with django_capture_on_commit_callbacks(execute=True):
        response = api.as_user(world.user("provider_owner")).post(order_url(order, "approve_by_provider"))

    assert response.status_code == 200, response.content
    assert time.monotonic() - started < 10  # retries run at once, no backoff sleeps in the request
    assert_erred_after_bounded_retries(order)


def test_creating_a_webhook_order_while_its_backend_is_down_answers_201_and_errs_it(
    world, api, eager, django_capture_on_commit_callbacks
):
    world.webhook.plugin_options = {"webhook_url": DEAD_WEBHOOK_URL}
    world.webhook.save()

    with django_capture_on_commit_callbacks(execute=True):
        response = api.as_user(world.user("consumer_owner")).post(ORDERS, create_body(world, "webhook"), format="json")

    assert response.status_code == 201, response.content
    assert_erred_after_bounded_retries(Order.objects.get(uuid=response.json()["uuid"]))


def test_a_task_that_crashes_in_the_embedded_mode_never_reaches_the_request(world, eager, monkeypatch):
    def crash(**kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(processing, "process_order", crash)
    order = executing_webhook_order(world)

    dispatch.send_processing(order_id=order.pk, attempt=1)  # logged, not raised


# --- retry keeps the evidence (seed 000) --------------------------------------------------------------


def erred_order(world) -> Order:
    return OrderFactory(
        state="erred", offering=world.webhook, project=world.project, plan=world.plans["webhook"],
        error_message="Fulfilment endpoint answered 503.", error_traceback="Traceback (most recent call last): …",
        error_is_transient=True,
    )  # fmt: skip


def test_retry_clears_the_error_on_the_order_but_keeps_it_in_the_retry_event(world, sent):
    order = erred_order(world)

    services.order_retry(order=order.pk, actor=world.user("provider_owner"))

    retried = Order.objects.get(pk=order.pk)
    assert (retried.state, retried.attempt, retried.error_message, retried.error_traceback) == ("executing", 2, "", "")
    event = OrderEvent.objects.get(order=order, kind="retry")
    assert event.payload == {
        "previous_attempt": 1,
        "error_message": "Fulfilment endpoint answered 503.",
        "error_traceback": "Traceback (most recent call last): …",
        "error_is_transient": True,
    }


@pytest.mark.parametrize(("user", "sees_traceback"), [("staff", True), ("support", True), ("consumer_owner", False)])
def test_the_kept_traceback_is_shown_to_staff_and_support_only(world, api, sent, user, sees_traceback):
    order = erred_order(world)
    services.order_retry(order=order.pk, actor=world.user("provider_owner"))

    response = api.as_user(world.user(user)).get(order_url(order, "events"))

    assert response.status_code == 200, response.content
    (retry,) = [event for event in response.json() if event["kind"] == "retry"]
    assert retry["payload"]["error_message"] == "Fulfilment endpoint answered 503."
    assert ("error_traceback" in retry["payload"]) is sees_traceback


def test_admin_retry_of_an_erred_webhook_order_never_answers_500(
    world, client, eager, django_capture_on_commit_callbacks
):
    order = erred_order(world)
    staff = world.user("staff")
    staff.is_superuser = True
    staff.save()
    client.force_login(staff)

    with django_capture_on_commit_callbacks(execute=True):  # the Retry button of the order's admin page
        response = client.post(f"/admin/orders/order/{order.pk}/retry/", follow=True)

    assert response.status_code == 200
    retried = Order.objects.get(pk=order.pk)
    assert retried.attempt == 2
    assert (retried.state, retried.error_is_transient) == ("erred", True)  # the backend is still down
    assert OrderEvent.objects.filter(order=order, kind="processing_retry").count() == MAX_RETRIES
