"""Bulk resubmit and automatic recovery with the real pieces (issue 8, "What must hold"): `celery worker`
and `celery beat` processes, a redis-server of the test's own, PostgreSQL, and a fulfilment backend on
127.0.0.1 whose availability the test switches (503 during an outage). The web side is the test itself
(an in-process API client) publishing to the same Redis, as gunicorn would.

Periods and retries are short through the workers' environment (two processing retries one second apart,
the probe every second), so an outage and its recovery take seconds.
"""

from __future__ import annotations

import datetime
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.db.models import Count, Max, Min
from django.test import override_settings
from django.utils import timezone

from core.models import Job
from orders import services
from orders.models import Order, OrderEvent
from orders.services import recovery
from tests.api import ORDERS
from tests.brokers import (
    CeleryStack,
    RedisServer,
    database_url,
    redis_server_installed,
    serve_backend,
    use_broker,
    wait_until,
)
from tests.conftest import build_world, requires_postgres
from tests.factories import OrderFactory

pytestmark = [
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.skipif(not redis_server_installed(), reason="needs redis-server on PATH (a broker of the test's own)"),
    requires_postgres,  # workers in other processes share the test database: a real database server
]

BULK_RETRY = f"{ORDERS}bulk_retry/"
OUTAGE_ORDERS = 200
WORKER_ENV = {
    "CELERY_TASK_ALWAYS_EAGER": "false",
    "PROCESSING_MAX_RETRIES": "1",  # a failing order errs after two calls, one second apart
    "PROCESSING_RETRY_BASE_SECONDS": "1",
    "PROCESSING_RETRY_MAX_SECONDS": "1",
    "PROCESSING_RETRY_JITTER": "false",
    "PROCESSING_LEASE_SECONDS": "10",
    "RECONCILE_AFTER_SECONDS": "5",
    "RECONCILE_INTERVAL_SECONDS": "1",
    "PROBE_INTERVAL_SECONDS": "1",
    "JOB_STALLED_AFTER_SECONDS": "3",
    "BULK_RETRY_RATE": "100",  # the recovery job is started by the probe in the worker
    "OUTBOUND_ALLOW_PRIVATE_TARGETS": "true",
    "LOG_LEVEL": "INFO",
}
WEB = {  # the web side (this process): the same periods; jobs it starts take the rate from here
    "PROCESSING_LEASE_SECONDS": 10,
    "RECONCILE_AFTER_SECONDS": 5,
    "BULK_RETRY_RATE": 100.0,
    "JOB_STALLED_AFTER_SECONDS": 3,
}


@pytest.fixture
def stack(transactional_db, tmp_path):
    redis_server = RedisServer(tmp_path, persistent=False)
    redis_server.start()
    saved = use_broker(broker_url=redis_server.url, task_always_eager=False)
    stack = CeleryStack(tmp_path, redis_server.url, {**WORKER_ENV, "DATABASE_URL": database_url()})
    try:
        with override_settings(MARKETPLACE={**settings.MARKETPLACE, **WEB}):
            yield stack
    finally:
        for service in stack.services:
            service.kill()  # nothing to finish gracefully: the broker and its messages are thrown away
        use_broker(**saved)
        redis_server.stop()


@pytest.fixture
def backend():
    endpoint, server = serve_backend()
    yield endpoint
    server.shutdown()
    server.server_close()


def webhook_world(url: str, **options):
    world = build_world()
    world.webhook.plugin_options = {"webhook_url": url, "webhook_timeout_seconds": 5, **options}
    world.webhook.save()
    return world


def place(world, count: int) -> list[Order]:
    """`count` webhook orders approved by the provider: each is handed to the workers on commit."""
    orders = []
    for _ in range(count):
        order = OrderFactory(
            state="pending-provider", offering=world.webhook, project=world.project, plan=world.plans["webhook"],
            created_by=world.user("consumer_owner"), limits={"cpu": 1},
        )  # fmt: skip
        orders.append(services.order_approve_by_provider(order=order, actor=world.user("provider_owner")))
    return orders


def erred_orders(world, offering, count: int) -> list[Order]:
    """`count` orders that erred transiently a moment ago (for the job tests: no outage to wait for)."""
    return [
        OrderFactory(
            state="erred",
            offering=offering,
            project=world.project,
            plan=world.plans["webhook"],
            created_by=world.user("consumer_owner"),
            error_is_transient=True,
            error_updated_at=timezone.now(),
            error_message="Fulfilment endpoint answered 503.",
        )  # fmt: skip
        for _ in range(count)
    ]


def states(orders: list[Order]) -> dict[str, int]:
    rows = Order.objects.filter(pk__in=[o.pk for o in orders]).values("state").annotate(n=Count("pk"))
    return {row["state"]: row["n"] for row in rows}


def wait_states(stack: CeleryStack, orders: list[Order], expected: dict[str, int], seconds: float) -> None:
    try:
        wait_until(lambda: states(orders) == expected, seconds=seconds, what=f"orders {expected}", every=0.25)
    except AssertionError as exc:
        raise AssertionError(f"{exc}: {states(orders)}\n{stack.logs()}") from exc


def wait_job(stack: CeleryStack, job: Job, state: str, seconds: float) -> Job:
    try:
        wait_until(lambda: Job.objects.get(pk=job.pk).state == state, seconds=seconds, what=f"job {state}", every=0.2)
    except AssertionError as exc:
        raise AssertionError(f"{exc}: {Job.objects.get(pk=job.pk)}\n{stack.logs()}") from exc
    return Job.objects.get(pk=job.pk)


def bulk_retry(api, user, query: dict, body: dict):
    return api.as_user(user).post(f"{BULK_RETRY}?{urlencode(query)}" if query else BULK_RETRY, body, format="json")


def job_of(response) -> Job:
    assert response.status_code == 202, response.content
    return Job.objects.get(uuid=response.json()["job"].rstrip("/").rsplit("/", 1)[-1])


def uuids(orders: list[Order]) -> set[str]:
    return {o.uuid.hex for o in orders}


def test_operator_resubmits_exactly_the_outages_failures_once_the_backend_is_back(stack, api, backend):
    world = webhook_world(backend.url, auto_resubmit=False)  # seed 003: nothing automatic
    stack.beat()
    stack.worker()
    staff = world.user("staff")

    backend.status = 400  # refused for other reasons, before the outage
    refused = place(world, 10)
    wait_states(stack, refused, {"erred": 10}, seconds=60)
    backend.status = 200
    succeeded = place(world, 10)
    wait_states(stack, succeeded, {"done": 10}, seconds=60)
    before_outage_posts = backend.posts()

    outage_start = timezone.now()
    backend.status = 503
    failed = place(world, OUTAGE_ORDERS)
    wait_states(stack, failed, {"erred": OUTAGE_ORDERS}, seconds=90)
    outage_end = timezone.now()
    assert Order.objects.filter(pk__in=[o.pk for o in failed], error_is_transient=True).count() == OUTAGE_ORDERS
    assert not OrderEvent.objects.filter(kind="parked").exists()

    window = {"failed_after": outage_start.isoformat(), "failed_before": outage_end.isoformat()}
    preview = bulk_retry(api, staff, window, {"dry_run": True})
    assert preview.status_code == 200, preview.content
    assert (preview.json()["matched"], set(preview.json()["retried"])) == (OUTAGE_ORDERS, uuids(failed))
    assert preview.json()["skipped"] == []
    assert backend.posts() == before_outage_posts + 2 * OUTAGE_ORDERS  # the dry run sent nothing

    backend.status = 200  # the maintenance is over
    job = job_of(bulk_retry(api, staff, window, {"reason": "after the fulfilment maintenance"}))
    job = wait_job(stack, job, "done", seconds=60)
    wait_states(stack, failed, {"done": OUTAGE_ORDERS}, seconds=60)

    assert (job.total, job.succeeded, job.skipped, job.created_by, job.reason) == (
        OUTAGE_ORDERS, OUTAGE_ORDERS, 0, staff, "after the fulfilment maintenance",
    )  # fmt: skip
    provisions = backend.provisions_by_order()
    assert {u: provisions[u] for u in uuids(failed)} == dict.fromkeys(uuids(failed), 1)  # each provisioned once
    keys = backend.keys_by_order()
    assert all(keys[o.uuid.hex] == {f"{o.uuid.hex}-1", f"{o.uuid.hex}-2"} for o in failed)
    assert Order.objects.filter(pk__in=[o.pk for o in failed], attempt=2, auto_resubmits=0).count() == OUTAGE_ORDERS
    assert states(refused) == {"erred": 10}  # the others are untouched
    assert set(Order.objects.filter(pk__in=[o.pk for o in refused + succeeded]).values_list("attempt", flat=True)) == {
        1
    }
    assert all(provisions[u] == 1 for u in uuids(succeeded)) and not any(provisions[u] for u in uuids(refused))

    again = bulk_retry(api, staff, window, {"dry_run": True})
    assert (again.json()["matched"], again.json()["retried"]) == (0, [])
    second = bulk_retry(api, staff, window, {"reason": "once more"})
    assert second.status_code == 200, second.content
    assert (second.json()["matched"], second.json()["retried"]) == (0, [])
    assert not Job.objects.filter(created_by=None).exists()  # auto_resubmit off: no recovery job
    wait_until(
        lambda: Order.objects.get(pk=failed[0].pk).offering.backend_healthy, seconds=20, what="the probe: healthy"
    )


def test_automatic_recovery_takes_every_order_of_an_outage_to_done_with_nobody_acting(stack, backend):
    world = webhook_world(backend.url)  # auto_resubmit: the default (on)
    stack.beat()
    stack.worker()

    backend.status = 503
    orders = place(world, OUTAGE_ORDERS)
    ids = [o.pk for o in orders]

    def settled() -> bool:
        erred = Order.objects.filter(pk__in=ids, state="erred").count()
        return erred + recovery.parked_orders().filter(pk__in=ids).count() == OUTAGE_ORDERS

    try:
        wait_until(settled, seconds=90, what="every order erred or parked", every=0.25)
    except AssertionError as exc:
        raise AssertionError(f"{exc}: {states(orders)}\n{stack.logs()}") from exc
    erred = Order.objects.filter(pk__in=ids, state="erred").count()
    parked = OrderEvent.objects.filter(order_id__in=ids, kind="parked").values("order_id").distinct().count()
    assert erred > 0 and parked > 0 and erred + parked == OUTAGE_ORDERS
    assert not world.webhook.__class__.objects.get(pk=world.webhook.pk).backend_healthy
    gets_while_down = backend.gets
    wait_until(lambda: backend.gets > gets_while_down, seconds=10, what="the probe asking again")
    assert not Job.objects.exists()  # still down: nothing resubmitted yet

    backend.status = 200  # the backend comes back; nobody does anything
    wait_states(stack, orders, {"done": OUTAGE_ORDERS}, seconds=90)

    job = wait_job(stack, Job.objects.get(), "done", seconds=30)  # exactly one recovery job
    assert (job.kind, job.reason, job.created_by, job.params["automatic"]) == (
        "bulk_retry", "automatic recovery", None, True,
    )  # fmt: skip
    assert (job.total, job.succeeded, job.skipped) == (erred, erred, 0)
    provisions, keys = backend.provisions_by_order(), backend.provisioned_keys_by_order()
    assert {u: provisions[u] for u in uuids(orders)} == dict.fromkeys(uuids(orders), 1)
    assert all(len(keys[u]) == 1 for u in uuids(orders))
    bound = settings.MARKETPLACE["AUTO_RESUBMIT_MAX_ATTEMPTS"]
    assert Order.objects.filter(pk__in=ids, auto_resubmits__gt=bound).count() == 0
    assert Order.objects.filter(pk__in=ids, auto_resubmits=1).count() == erred
    assert world.webhook.__class__.objects.get(pk=world.webhook.pk).backend_healthy


def test_a_job_whose_worker_is_killed_midway_resumes_on_a_new_worker_and_handles_every_order_once(stack, api, backend):
    world = webhook_world(backend.url, auto_resubmit=False)
    orders = erred_orders(world, world.webhook, 60)
    stack.beat()
    first = stack.worker()

    with override_settings(MARKETPLACE={**settings.MARKETPLACE, "BULK_RETRY_RATE": 10.0, "BULK_RETRY_SYNC_LIMIT": 10}):
        job = job_of(bulk_retry(api, world.user("staff"), {}, {"reason": "restart test"}))
    wait_until(lambda: Job.objects.get(pk=job.pk).processed >= 15, seconds=30, what="a quarter of the job")
    first.kill()
    killed = Job.objects.get(pk=job.pk)
    assert killed.state == "running" and 15 <= killed.processed < 60
    stack.worker()

    job = wait_job(stack, job, "done", seconds=60)
    wait_states(stack, orders, {"done": 60}, seconds=60)

    assert (job.total, job.processed, job.succeeded, job.skipped) == (60, 60, 60, 0)
    assert job.items.filter(outcome="succeeded").count() == 60
    assert set(Order.objects.filter(pk__in=[o.pk for o in orders]).values_list("attempt", flat=True)) == {2}
    assert OrderEvent.objects.filter(order__in=orders, kind="retry").count() == 60  # each resubmitted once
    keys = backend.provisioned_keys_by_order()
    assert {o.uuid.hex: keys.get(o.uuid.hex) for o in orders} == {o.uuid.hex: {f"{o.uuid.hex}-2"} for o in orders}
    # a backend call the kill cut short is sent again with the same key (at least once, never a new attempt)
    provisions = backend.provisions_by_order()
    assert len([u for u in uuids(orders) if provisions[u] > 1]) <= 2  # at most the killed worker's two calls


def test_the_rate_caps_hold_with_a_real_worker(stack, api, backend):
    world = webhook_world(backend.url, auto_resubmit=False)
    capped = world.webhook.__class__.objects.create(
        customer=world.provider, category=world.webhook.category, type=world.webhook.type, name="capped",
        plugin_options={**world.webhook.plugin_options, "resubmit_rate": 4},
    )  # fmt: skip
    fast, slow = erred_orders(world, world.webhook, 18), erred_orders(world, capped, 12)
    stack.worker()
    overall = 10.0

    with override_settings(
        MARKETPLACE={**settings.MARKETPLACE, "BULK_RETRY_RATE": overall, "BULK_RETRY_SYNC_LIMIT": 10}
    ):
        job = job_of(bulk_retry(api, world.user("staff"), {}, {}))
    job = wait_job(stack, job, "done", seconds=60)

    def span(orders: list[Order]) -> float:
        items = job.items.filter(subject_id__in=[o.pk for o in orders])
        times = items.aggregate(a=Min("processed_at"), b=Max("processed_at"))
        return (times["b"] - times["a"]).total_seconds()

    everything = fast + slow
    assert job.succeeded == len(everything) == 30
    assert span(everything) >= (len(everything) - 1) / overall * 0.95  # 30 at 10/s: at least 2.9 s
    assert span(slow) >= (len(slow) - 1) / 4 * 0.95  # the offering's own cap: 12 at 4/s, at least 2.75 s
    assert (job.finished_at - job.started_at) >= datetime.timedelta(seconds=2.9 * 0.95)
