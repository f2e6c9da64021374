"""Automatic recovery after a backend outage (DESIGN §7, issue 8 item 7): the health mark, parked work, the
probe against a real HTTP server on 127.0.0.1, and the one recovery job per outage with its selection.

Processing runs in the test process (orders.processing.process_order), as a worker would run it; the
recovery job's chunks run inline (core.jobs.job_run_inline). Worker mode vs the embedded mode is the
Celery app's eagerness, switched by a fixture.
"""

from __future__ import annotations

import datetime
import threading

import pytest
from django.db import connections
from django.utils import timezone

from core import jobs
from core.models import Job
from marketplace.celery import app
from offerings.models import Offering
from orders import selectors
from orders.models import Order, OrderEvent
from orders.processing import TransientBackendError, give_up_order, process_order
from orders.services import recovery
from tests.brokers import free_port, serve_backend, wait_until
from tests.conftest import build_world, requires_postgres
from tests.factories import OfferingFactory, OrderFactory

MAX_AUTO = 3


@pytest.fixture(autouse=True)
def short_settings(settings):
    settings.MARKETPLACE = {
        **settings.MARKETPLACE,
        "PROCESSING_MAX_RETRIES": 2,
        "RECOVERY_LOOKBACK_SECONDS": 600,
        "AUTO_RESUBMIT_MAX_ATTEMPTS": MAX_AUTO,
    }


@pytest.fixture(autouse=True)
def no_tasks(monkeypatch):
    """Nothing is handed to a broker here: the test drives processing and job chunks itself."""
    monkeypatch.setattr("orders.dispatch._send", lambda name, *args: None)


@pytest.fixture
def worker_mode():
    """Tasks go to workers (not eager), as in production: parking applies."""
    saved = app.conf.task_always_eager
    app.conf.task_always_eager = False
    yield
    app.conf.task_always_eager = saved


@pytest.fixture
def backend():
    endpoint, server = serve_backend()
    yield endpoint
    server.shutdown()
    server.server_close()


def point_at(offering: Offering, url: str, **options) -> Offering:
    offering.plugin_options = {"webhook_url": url, "webhook_timeout_seconds": 2, **options}
    offering.save()
    return offering


def unhealthy(offering: Offering, since: datetime.datetime) -> Offering:
    Offering.objects.filter(pk=offering.pk).update(backend_healthy=False, backend_unhealthy_since=since)
    offering.refresh_from_db()
    return offering


def executing(world, offering: Offering, **kwargs) -> Order:
    due = timezone.now() + datetime.timedelta(seconds=60)  # as on entering executing (not parked)
    return OrderFactory(
        state="executing", offering=offering, project=world.project, plan=world.plans["webhook"],
        processing_due_at=due, **kwargs,
    )  # fmt: skip


def erred(world, offering: Offering, at: datetime.datetime, *, transient: bool = True, **kwargs) -> Order:
    return OrderFactory(
        state="erred", offering=offering, project=world.project, error_updated_at=at, error_is_transient=transient,
        error_message="Fulfilment endpoint answered 503." if transient else "Fulfilment endpoint refused the "
        "order: HTTP 400.", **kwargs,
    )  # fmt: skip


def fresh(offering: Offering) -> Offering:
    return Offering.objects.get(pk=offering.pk)


# --- the health mark -------------------------------------------------------------------------------------


def test_an_order_giving_up_after_transient_failures_marks_its_offering_unhealthy_keeping_the_outage_start(world):
    first, second = executing(world, world.webhook), executing(world, world.webhook)

    assert give_up_order(order_id=first.pk, attempt=1, error="Fulfilment endpoint answered 503.") == "erred"
    outage = fresh(world.webhook)
    assert (outage.backend_healthy, outage.backend_last_error) == (False, "Fulfilment endpoint answered 503.")
    assert outage.backend_unhealthy_since is not None

    give_up_order(order_id=second.pk, attempt=1, error="Fulfilment endpoint unreachable: refused.")
    later = fresh(world.webhook)
    assert later.backend_unhealthy_since == outage.backend_unhealthy_since
    assert later.backend_last_error == "Fulfilment endpoint unreachable: refused."
    assert fresh(world.basic).backend_healthy


# --- parking ---------------------------------------------------------------------------------------------


def test_new_work_for_an_unhealthy_offering_is_parked_without_calling_the_backend(world, backend, worker_mode):
    point_at(world.webhook, backend.url)
    unhealthy(world.webhook, timezone.now() - datetime.timedelta(minutes=5))
    order = executing(world, world.webhook, processing_retries=1)

    assert process_order(order_id=order.pk, attempt=1) == "parked"

    assert backend.posts() == 0
    parked = Order.objects.get(pk=order.pk)
    assert (parked.state, parked.processing_retries, parked.processing_due_at) == ("executing", 1, None)
    event = OrderEvent.objects.get(order=order, kind="parked")
    assert "backend is unavailable since" in event.message
    assert event.payload == {"attempt": 1}
    far_later = timezone.now() + datetime.timedelta(days=1)
    assert order.pk not in {pk for pk, _ in selectors.orders_due_for_reconcile(now=far_later, limit=100)}


def test_with_auto_resubmit_off_nothing_is_parked_and_nothing_is_resubmitted(world, backend, worker_mode):
    point_at(world.webhook, backend.url, auto_resubmit=False)
    backend.status = 503
    order = executing(world, world.webhook)

    for _ in range(3):  # PROCESSING_MAX_RETRIES = 2: the third failure gives up
        try:
            outcome = process_order(order_id=order.pk, attempt=1)
        except TransientBackendError:
            Order.objects.filter(pk=order.pk).update(processing_lease_until=None)  # what record_retry does
            continue
    assert outcome == "erred"
    assert not fresh(world.webhook).backend_healthy  # staff still see the outage
    later = executing(world, world.webhook)
    with pytest.raises(TransientBackendError):
        process_order(order_id=later.pk, attempt=1)  # called the backend: not parked
    assert backend.posts() == 4

    backend.status = 200
    assert [o.up for o in recovery.probe_unhealthy_backends()] == [True]

    assert fresh(world.webhook).backend_healthy
    assert not Job.objects.exists()
    assert Order.objects.get(pk=order.pk).state == "erred"  # waits for an operator (seed 003)
    assert not OrderEvent.objects.filter(kind="parked").exists()


def test_in_the_embedded_mode_nothing_is_parked_and_the_first_order_through_recovers(world, backend):
    assert app.conf.task_always_eager
    point_at(world.webhook, backend.url)
    unhealthy(world.webhook, timezone.now() - datetime.timedelta(minutes=5))
    failed = erred(world, world.webhook, timezone.now() - datetime.timedelta(minutes=4))
    order = executing(world, world.webhook)

    assert process_order(order_id=order.pk, attempt=1) == "done"

    assert backend.posts() == 1
    assert fresh(world.webhook).backend_healthy
    job = Job.objects.get()
    assert (job.reason, job.created_by, list(job.items.values_list("subject_id", flat=True))) == (
        "automatic recovery", None, [failed.pk],
    )  # fmt: skip


def test_an_order_parked_as_its_offering_recovered_is_released_by_the_next_probe_run(world, worker_mode):
    order = executing(world, world.webhook)
    Order.objects.filter(pk=order.pk).update(processing_due_at=None)  # parked, offering healthy again
    still_down = OfferingFactory(customer=world.provider, type="Marketplace.Webhook", plugin_options={
        "webhook_url": f"http://127.0.0.1:{free_port()}/fulfil"})  # fmt: skip
    unhealthy(still_down, timezone.now())
    parked_there = executing(world, still_down)
    Order.objects.filter(pk=parked_there.pk).update(processing_due_at=None)

    recovery.probe_unhealthy_backends()

    assert Order.objects.get(pk=order.pk).processing_due_at <= timezone.now()
    assert Order.objects.get(pk=parked_there.pk).processing_due_at is None  # its backend is still down


# --- the probe -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("down", ["answers 503", "refuses connections"])
def test_a_probe_that_gets_no_good_answer_keeps_the_backend_unhealthy(world, backend, down):
    url = backend.url if down == "answers 503" else f"http://127.0.0.1:{free_port()}/fulfil"
    backend.status = 503
    point_at(world.webhook, url)
    since = timezone.now() - datetime.timedelta(minutes=5)
    unhealthy(world.webhook, since)
    erred(world, world.webhook, since)

    [outcome] = recovery.probe_unhealthy_backends()

    assert outcome.up is False
    offering = fresh(world.webhook)
    assert (offering.backend_healthy, offering.backend_unhealthy_since) == (False, since)
    assert offering.backend_checked_at is not None
    assert ("503" if down == "answers 503" else "did not answer") in offering.backend_last_error
    assert not Job.objects.exists()


def test_the_probe_asks_the_health_url_when_there_is_one(world, backend):
    point_at(world.webhook, f"http://127.0.0.1:{free_port()}/fulfil", health_url=backend.url.replace("fulfil", "up"))
    unhealthy(world.webhook, timezone.now())

    assert [o.up for o in recovery.probe_unhealthy_backends()] == [True]
    assert backend.gets == 1


def test_a_probe_that_gets_an_answer_starts_one_recovery_of_exactly_the_outages_transient_failures(
    world, backend, worker_mode
):
    point_at(world.webhook, backend.url, resubmit_rate=7)
    backend.health = 404  # any answer below 500 is up
    now = timezone.now()
    since = now - datetime.timedelta(minutes=30)
    unhealthy(world.webhook, since)
    other = point_at(OfferingFactory(customer=world.provider, type="Marketplace.Webhook"), backend.url)
    during = erred(world, world.webhook, since + datetime.timedelta(minutes=1))
    just_before = erred(world, world.webhook, since - datetime.timedelta(minutes=9))  # within the lookback
    at_bound = erred(world, world.webhook, since + datetime.timedelta(minutes=2), auto_resubmits=MAX_AUTO)
    refused = erred(world, world.webhook, since + datetime.timedelta(minutes=3), transient=False)
    long_before = erred(world, world.webhook, since - datetime.timedelta(minutes=11))
    elsewhere = erred(world, other, since + datetime.timedelta(minutes=1))
    parked = executing(world, world.webhook)
    Order.objects.filter(pk=parked.pk).update(processing_due_at=None)

    [outcome] = recovery.probe_unhealthy_backends()

    assert outcome.up is True
    offering = fresh(world.webhook)
    assert (offering.backend_healthy, offering.backend_unhealthy_since, offering.backend_last_error) == (True, None, "")
    job = Job.objects.get()
    assert outcome.job_uuid == job.uuid.hex
    assert (job.kind, job.reason, job.created_by, job.state) == ("bulk_retry", "automatic recovery", None, "queued")
    assert job.params["automatic"] is True
    assert job.params["group_rates"] == {world.webhook.uuid.hex: 7.0}  # rate-capped per offering
    assert job.rate_per_second > 0
    assert set(job.items.values_list("subject_id", flat=True)) == {during.pk, just_before.pk, at_bound.pk}
    assert Order.objects.get(pk=parked.pk).processing_due_at <= timezone.now()  # the reconciler sends it

    job = jobs.job_run_inline(job)

    assert (job.state, job.succeeded, job.skipped) == ("done", 2, 1)
    assert job.items.get(subject_id=at_bound.pk).reason == "attempt_limit"
    for order in (during, just_before):
        retried = Order.objects.get(pk=order.pk)
        assert (retried.state, retried.attempt, retried.auto_resubmits) == ("executing", 2, 1)
        event = OrderEvent.objects.get(order=order, kind="retry")
        assert event.payload["automatic"] is True and event.payload["job"] == job.uuid.hex
        assert event.payload["error_message"] == "Fulfilment endpoint answered 503."
    for order in (at_bound, refused, long_before, elsewhere):
        assert Order.objects.get(pk=order.pk).state == "erred"


def test_an_order_is_resubmitted_automatically_at_most_the_bound_over_repeated_outages(world, backend, worker_mode):
    point_at(world.webhook, backend.url)
    order = erred(world, world.webhook, timezone.now())
    resubmitted = []
    for _ in range(MAX_AUTO + 1):
        unhealthy(world.webhook, timezone.now())
        job = recovery.offering_backend_recovered(offering=fresh(world.webhook))
        jobs.job_run_inline(job)
        resubmitted.append(job.succeeded)
        give_up_order(order_id=order.pk, attempt=Order.objects.get(pk=order.pk).attempt, error="answered 503")

    assert resubmitted == [1] * MAX_AUTO + [0]
    assert Order.objects.get(pk=order.pk).auto_resubmits == MAX_AUTO


def test_one_outage_is_recovered_once_however_often_it_is_reported_recovered(world, backend):
    point_at(world.webhook, backend.url)
    since = timezone.now() - datetime.timedelta(minutes=5)
    stale = unhealthy(world.webhook, since)
    erred(world, world.webhook, since)

    first = recovery.offering_backend_recovered(offering=stale)
    second = recovery.offering_backend_recovered(offering=stale)  # a second probe run that saw it unhealthy

    assert first is not None and second is None
    assert Job.objects.count() == 1
    assert recovery.probe_unhealthy_backends() == []  # healthy: nothing to probe


@requires_postgres
@pytest.mark.postgres
def test_two_probe_runs_racing_on_one_outage_start_one_recovery_job(transactional_db, backend):
    world = build_world()
    point_at(world.webhook, backend.url)
    backend.probe_delay = 0.5  # both runs are inside the probe at the same time
    since = timezone.now() - datetime.timedelta(minutes=5)
    unhealthy(world.webhook, since)
    for _ in range(3):
        erred(world, world.webhook, since)
    outcomes: list = []

    def probe_run() -> None:
        try:
            outcomes.extend(recovery.probe_unhealthy_backends())
        finally:
            connections.close_all()

    runs = [threading.Thread(target=probe_run) for _ in range(2)]
    for run in runs:
        run.start()
    for run in runs:
        run.join(timeout=30)

    assert backend.gets == 2
    assert [o.up for o in outcomes] == [True, True]
    assert len([o for o in outcomes if o.job_uuid]) == 1
    assert Job.objects.count() == 1
    assert Job.objects.get().total == 3
    # the recovery job runs in a thread of its own here: let it finish before the tables are flushed
    wait_until(lambda: Job.objects.get().state in Job.FINAL_STATES, seconds=30, what="the recovery job ending")
