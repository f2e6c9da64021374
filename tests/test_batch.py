"""The batch executor (orders/services/batch.py) on real orders: retry_one's coded skips, one transaction
per order, the retry event's reason and job, the preview (counts, groups, skips, constant queries), runs as
jobs (inline or handed to a worker, rate caps), idempotency, and the query cost per order of a job run."""

from __future__ import annotations

import datetime
import threading

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core import jobs
from core.models import Job, JobItem
from offerings import registry
from offerings.processors.base import ManualProcessor
from offerings.types.spec import OfferingTypeSpec
from orders import dispatch
from orders.models import Order, OrderEvent
from orders.services import base as services_base
from orders.services import batch
from tests import factories as f
from tests.conftest import build_world, requires_postgres

OUTAGE = "Fulfilment endpoint answered 503."
UNREACHABLE = "Fulfilment endpoint unreachable: [Errno 111] Connection refused to 10.0.0.7:8443."
NO_RETRY = "Test.NoRetry"


@pytest.fixture
def sent(monkeypatch):
    """What dispatch hands to Celery: (task name, *args) per call."""
    calls: list[tuple] = []
    monkeypatch.setattr(dispatch, "_send", lambda name, *args: calls.append((name, *args)))
    monkeypatch.setattr(dispatch, "_send_job", lambda job_id: calls.append((dispatch.RUN_JOB, job_id)))
    return calls


@pytest.fixture
def options(settings):
    def change(**values):
        settings.MARKETPLACE = {**settings.MARKETPLACE, **values}

    return change


@pytest.fixture
def no_retry_offering(world):
    """An offering of a type that does not support retry."""
    registry.register_offering_type(
        OfferingTypeSpec(name=NO_RETRY, label="No retry (test)", processor=ManualProcessor, supports_retry=False)
    )
    offering = f.OfferingFactory(customer=world.provider, type=NO_RETRY, name="no retry", slug="no-retry")
    yield offering
    registry.unregister_offering_type(NO_RETRY)


def erred(world, offering="webhook", *, error=OUTAGE, minutes_ago=10, **extra) -> Order:
    return f.OrderFactory(
        state="erred",
        offering=world.offering(offering) if isinstance(offering, str) else offering,
        project=world.project,
        error_message=error,
        error_traceback="Traceback (most recent call last):\n  ...",
        error_updated_at=timezone.now() - datetime.timedelta(minutes=minutes_ago),
        error_is_transient=error == OUTAGE,
        **extra,
    )


# --- retry_one: one order, coded skips ------------------------------------------------------------------


def test_retry_one_resubmits_an_erred_order_and_its_event_keeps_the_error_reason_and_job(world, sent):
    order = erred(world, attempt=2)
    job = jobs.job_create(kind=batch.BULK_RETRY, selection=[], reason="after maintenance")

    result = batch.retry_one(
        order_id=order.pk, actor=world.user("staff"), reason="after maintenance", expected_attempt=2, job=job
    )

    assert result == jobs.ItemResult(True)
    order.refresh_from_db()
    assert (order.state, order.attempt, order.error_message) == ("executing", 3, "")
    event = OrderEvent.objects.get(order=order, kind="retry")
    assert event.actor == world.user("staff")
    assert event.message == "after maintenance"
    assert event.payload["reason"] == "after maintenance"
    assert event.payload["job"] == job.uuid.hex
    assert event.payload["previous_attempt"] == 2
    assert event.payload["error_message"] == OUTAGE
    assert "automatic" not in event.payload


@pytest.mark.parametrize(
    ("setup", "actor", "reason"),
    [
        ("executing", "staff", "not_erred"),
        ("done", "provider_owner", "not_erred"),
        ("erred", "consumer_owner", "not_permitted"),
        ("erred", "other_owner", "not_permitted"),
        ("erred", "service_manager", "not_permitted"),
        ("erred at attempt 3", "staff", "changed"),
        ("deleted", "staff", "not_found"),
        ("deleted", None, "not_found"),
    ],
)
def test_retry_one_reports_a_refusal_as_a_coded_skip_and_changes_nothing(world, sent, setup, actor, reason):
    order = erred(world, "slurm", attempt=3) if setup.startswith("erred") else None
    if setup in ("executing", "done"):
        order = f.OrderFactory(state=setup, offering=world.slurm, project=world.project)
    order_id = order.pk if order else 10**9
    expected_attempt = 2 if setup == "erred at attempt 3" else None

    result = batch.retry_one(
        order_id=order_id, actor=world.users.get(actor), reason="r", expected_attempt=expected_attempt
    )

    assert (result.succeeded, result.reason) == (False, reason)
    assert reason in batch.SKIP_REASONS
    if order is not None:
        before_state = order.state
        order.refresh_from_db()
        assert order.state == before_state and order.attempt in (1, 3)
        assert not OrderEvent.objects.filter(order=order, kind="retry").exists()


def test_retry_one_refuses_a_type_without_retry_for_people_and_for_the_system(world, sent, no_retry_offering):
    order = erred(world, no_retry_offering)

    as_staff = batch.retry_one(order_id=order.pk, actor=world.user("staff"))
    as_system = batch.retry_one(order_id=order.pk, actor=None)

    assert (as_staff.reason, as_system.reason) == ("type_not_supported", "type_not_supported")
    order.refresh_from_db()
    assert order.state == "erred"


def test_an_automatic_job_stops_at_the_bound_on_automatic_attempts(world, sent, options):
    options(AUTO_RESUBMIT_MAX_ATTEMPTS=2)
    spent, fresh = erred(world, auto_resubmits=2), erred(world, auto_resubmits=1)
    job = jobs.job_create(kind=batch.BULK_RETRY, selection=[], params={"automatic": True})

    assert batch.retry_one(order_id=spent.pk, actor=None, job=job) == jobs.ItemResult(False, "attempt_limit")
    assert batch.retry_one(order_id=fresh.pk, actor=None, job=job) == jobs.ItemResult(True)

    fresh.refresh_from_db()
    spent.refresh_from_db()
    assert (fresh.state, fresh.auto_resubmits) == ("executing", 2)
    assert (spent.state, spent.auto_resubmits) == ("erred", 2)
    assert OrderEvent.objects.get(order=fresh, kind="retry").payload["automatic"] is True


def test_a_person_run_is_not_bound_by_the_automatic_attempts(world, sent, options):
    options(AUTO_RESUBMIT_MAX_ATTEMPTS=1)
    order = erred(world, auto_resubmits=5)

    assert batch.retry_one(order_id=order.pk, actor=world.user("staff")).succeeded


# --- runs: each order in its own transaction ------------------------------------------------------------


def test_a_run_retries_each_order_on_its_own_and_a_refused_one_does_not_undo_the_others(world, sent):
    first, moved, last = erred(world), erred(world), erred(world)
    job, created = batch.bulk_retry_start(
        actor=world.user("provider_owner"), orders=Order.objects.filter(pk__in=[first.pk, moved.pk, last.pk])
    )  # selected at attempt 1 …
    assert created and job.state == "done"  # … and small: it ran at once

    # a second run selected the same orders before the first one went through: every order changed
    Order.objects.filter(pk__in=[first.pk, last.pk]).update(state="erred")  # erred again, attempt 2 now
    second = jobs.job_create(
        kind=batch.BULK_RETRY,
        selection=[jobs.Selected(o.pk, o.uuid, o.offering.uuid.hex, 1) for o in (first, moved, last)],
        created_by=world.user("staff"),
    )
    jobs.job_run_inline(second)

    assert batch.bulk_retry_report(job) == {
        "dry_run": False,
        "matched": 3,
        "retried": [o.uuid.hex for o in (first, moved, last)],
        "skipped": [],
    }
    assert batch.bulk_retry_report(second)["skipped"] == [
        {"uuid": first.uuid.hex, "reason": "changed"},
        {"uuid": moved.uuid.hex, "reason": "not_erred"},
        {"uuid": last.uuid.hex, "reason": "changed"},
    ]
    assert OrderEvent.objects.filter(kind="retry").count() == 3  # none from the second run


def test_a_failure_inside_one_order_rolls_back_that_order_only(world, sent, monkeypatch):
    """An error the retry service does not expect (here: the event insert fails for one order) undoes
    that order's retry and stops the chunk; the orders handled before it stay retried, the rest stay
    pending for the next run."""
    orders = [erred(world) for _ in range(4)]
    job = jobs.job_create(
        kind=batch.BULK_RETRY,
        selection=[jobs.Selected(o.pk, o.uuid, "", 1) for o in orders],
        created_by=world.user("staff"),
    )
    real_insert = services_base.insert

    def insert(obj, **kwargs):
        if isinstance(obj, OrderEvent) and obj.order_id == orders[2].pk and obj.kind == "retry":
            raise RuntimeError("disk full")
        return real_insert(obj, **kwargs)

    monkeypatch.setattr(services_base, "insert", insert)  # the event's INSERT (record_event)
    with pytest.raises(RuntimeError):
        jobs.job_run_chunk(job.pk, paced=False)

    states = [Order.objects.get(pk=o.pk).state for o in orders]
    assert states == ["executing", "executing", "erred", "erred"]
    assert Order.objects.get(pk=orders[2].pk).attempt == 1  # the failed order's changes were undone
    assert list(job.items.order_by("id").values_list("outcome", flat=True)) == [
        "succeeded", "succeeded", "pending", "pending",
    ]  # fmt: skip


# --- preview --------------------------------------------------------------------------------------------


def test_preview_counts_groups_by_offering_and_error_and_lists_skips_with_reasons(world, sent):
    outage = [erred(world, "webhook", error=f"Fulfilment endpoint answered 503 for order {n}.") for n in range(3)]
    unreachable = erred(world, "webhook", error=UNREACHABLE)
    slurm = erred(world, "slurm", error="sbatch: error: Batch job submission failed: QOS 42 exceeded")
    basic = erred(world, "basic", error="")
    done = f.OrderFactory(state="done", offering=world.slurm, project=world.project)
    before = Order.objects.values_list("pk", "state", "attempt").order_by("pk")
    snapshot = list(before)

    preview = batch.retry_preview(actor=world.user("offering_manager"), orders=Order.objects.all())

    assert list(before) == snapshot  # nothing changed
    assert preview["dry_run"] is True
    assert preview["matched"] == 7
    assert sorted(preview["retried"]) == sorted([slurm.uuid.hex])  # the manager of slurm only
    assert sorted(preview["skipped"], key=lambda s: s["uuid"]) == sorted(
        [{"uuid": o.uuid.hex, "reason": "not_permitted"} for o in (*outage, unreachable, basic)]
        + [{"uuid": done.uuid.hex, "reason": "not_erred"}],
        key=lambda s: s["uuid"],
    )
    assert preview["skipped_by_reason"] == {"not_permitted": 5, "not_erred": 1}

    as_owner = batch.retry_preview(actor=world.user("provider_owner"), orders=Order.objects.all())

    assert as_owner["matched"] == 7
    assert len(as_owner["retried"]) == 6
    assert as_owner["skipped"] == [{"uuid": done.uuid.hex, "reason": "not_erred"}]
    assert as_owner["by_offering"] == [
        {"offering_uuid": world.webhook.uuid.hex, "name": "webhook", "count": 4},
        {"offering_uuid": world.basic.uuid.hex, "name": "basic", "count": 1},
        {"offering_uuid": world.slurm.uuid.hex, "name": "slurm", "count": 1},
    ]
    by_error = {(g["offering_uuid"], g["error"]): g["count"] for g in as_owner["by_error"]}
    assert by_error == {
        (world.webhook.uuid.hex, "Fulfilment endpoint answered 503 for order <n>."): 3,
        (world.webhook.uuid.hex, "Fulfilment endpoint unreachable: [Errno <n>] Connection refused to <address>."): 1,
        (world.slurm.uuid.hex, "sbatch: error: Batch job submission failed: QOS <n> exceeded"): 1,
        (world.basic.uuid.hex, "(no message)"): 1,
    }
    assert as_owner["by_error"][0]["count"] == 3  # most frequent first


def test_preview_skips_types_without_retry_and_the_system_may_retry_any_offering(world, sent, no_retry_offering):
    order, other = erred(world, no_retry_offering), erred(world, "slurm")

    preview = batch.retry_preview(actor=None, orders=Order.objects.all())

    assert preview["retried"] == [other.uuid.hex]
    assert preview["skipped"] == [{"uuid": order.uuid.hex, "reason": "type_not_supported"}]


def test_preview_lists_the_most_recent_failures_first(world, sent):
    old, new = erred(world, minutes_ago=60), erred(world, minutes_ago=1)

    preview = batch.retry_preview(actor=world.user("staff"), orders=Order.objects.all())

    assert preview["retried"] == [new.uuid.hex, old.uuid.hex]


@pytest.mark.parametrize("actor", ["staff", "provider_owner", "offering_manager"])
def test_preview_takes_the_same_number_of_queries_for_5_and_50_orders(world, sent, actor, django_assert_num_queries):
    user = world.user(actor)
    for n in range(5):
        erred(world, ("webhook", "slurm", "basic")[n % 3])
    batch.retry_preview(actor=user, orders=Order.objects.all())  # the user's grants are cached from here on
    with CaptureQueriesContext(connection) as five:
        small = batch.retry_preview(actor=user, orders=Order.objects.all())
    for n in range(45):
        erred(world, ("webhook", "slurm", "basic")[n % 3], error=f"{OUTAGE} #{n}")

    with django_assert_num_queries(len(five)):
        large = batch.retry_preview(actor=user, orders=Order.objects.all())

    assert (small["matched"], large["matched"]) == (5, 50)


# --- starting runs ----------------------------------------------------------------------------------------


def test_a_small_selection_runs_at_once_and_a_large_one_is_handed_to_a_worker(
    world, sent, options, django_capture_on_commit_callbacks
):
    options(BULK_RETRY_SYNC_LIMIT=3, BULK_RETRY_RATE=7.0)
    orders = [erred(world) for _ in range(4)]
    staff = world.user("staff")

    with django_capture_on_commit_callbacks(execute=True):
        small, _ = batch.bulk_retry_start(actor=staff, orders=Order.objects.filter(pk__in=[o.pk for o in orders[:3]]))
    with django_capture_on_commit_callbacks(execute=True):
        large, created = batch.bulk_retry_start(actor=staff, orders=Order.objects.all(), reason="outage")

    assert small.state == "done" and small.total == 3 and small.succeeded == 3
    assert created and large.state == "queued" and large.total == 4  # 3 of them already executing
    assert (dispatch.RUN_JOB, large.pk) in sent
    assert (dispatch.RUN_JOB, small.pk) not in sent
    assert large.rate_per_second == 7.0
    assert large.reason == "outage" and large.created_by == staff
    assert large.summary == {"by_offering": {world.webhook.uuid.hex: 4}}

    jobs.job_run_inline(large)

    report = batch.bulk_retry_report(large)
    assert report["skipped"] == [{"uuid": o.uuid.hex, "reason": "not_erred"} for o in orders[:3]]
    assert report["retried"] == [orders[3].uuid.hex]


def test_a_run_snapshots_the_selection_and_the_attempt_of_each_order(world, sent):
    a, b = erred(world, attempt=4), erred(world, "slurm")
    selection = Order.objects.filter(state="erred")

    job, _ = batch.bulk_retry_start(actor=world.user("staff"), orders=selection, run_inline_up_to=0)
    erred(world)  # fails after the run started: not part of it

    items = list(job.items.order_by("subject_id").values_list("subject_id", "subject_uuid", "group", "version"))
    assert items == [
        (a.pk, a.uuid, world.webhook.uuid.hex, 4),
        (b.pk, b.uuid, world.slurm.uuid.hex, 1),
    ]
    assert job.total == 2


def test_an_offering_resubmit_rate_becomes_a_group_cap_of_the_job(world, sent):
    world.webhook.plugin_options = {**world.webhook.plugin_options, "resubmit_rate": 2}
    world.webhook.save()
    world.slurm.plugin_options = {"resubmit_rate": "fast"}  # not a number: ignored
    world.slurm.save()
    erred(world), erred(world, "slurm")

    job, _ = batch.bulk_retry_start(actor=None, orders=Order.objects.all(), run_inline_up_to=0, automatic=True)

    assert job.params["group_rates"] == {world.webhook.uuid.hex: 2.0}
    assert job.params["automatic"] is True
    assert job.created_by is None


# --- idempotency ----------------------------------------------------------------------------------------


def test_the_same_key_and_request_return_the_first_job_and_a_different_request_is_a_conflict(world, sent):
    erred(world)
    staff = world.user("staff")
    fingerprint = batch.request_fingerprint(query={"failed_after": ["2026-01-01"]}, body={"reason": "x"})

    first, created = batch.bulk_retry_start(actor=staff, orders=Order.objects.all(), idempotency_key="k1",
                                            fingerprint=fingerprint)  # fmt: skip
    again, created_again = batch.bulk_retry_start(actor=staff, orders=Order.objects.all(), idempotency_key="k1",
                                                  fingerprint=fingerprint)  # fmt: skip
    with pytest.raises(batch.IdempotencyConflict) as conflict:
        batch.bulk_retry_start(
            actor=staff,
            orders=Order.objects.all(),
            idempotency_key="k1",
            fingerprint=batch.request_fingerprint(query={"failed_after": ["2026-01-02"]}, body={"reason": "x"}),
        )
    someone_else, created_else = batch.bulk_retry_start(
        actor=world.user("provider_owner"), orders=Order.objects.all(), idempotency_key="k1", fingerprint=fingerprint
    )

    assert (created, created_again) == (True, False)
    assert again.pk == first.pk
    assert conflict.value.status_code == 409
    assert created_else and someone_else.pk != first.pk  # keys are per user
    assert Job.objects.count() == 2


def test_the_fingerprint_ignores_the_order_of_keys_and_values_but_not_the_values():
    one = batch.request_fingerprint(query={"a": ["1", "2"], "b": ["x"]}, body={"dry_run": False, "reason": "r"})
    same = batch.request_fingerprint(query={"b": ["x"], "a": ["2", "1"]}, body={"reason": "r", "dry_run": False})
    other = batch.request_fingerprint(query={"a": ["1"], "b": ["x"]}, body={"dry_run": False, "reason": "r"})

    assert one == same != other


@requires_postgres
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_concurrent_duplicate_that_hits_the_unique_key_answers_with_the_first_job(sent):
    """Request A has created its job but not committed; request B with the same key finds nothing yet,
    its insert waits on A's unique key and fails once A commits: B answers with A's job."""
    world = build_world()
    erred(world)
    staff = world.user("staff")
    inserted, release = threading.Event(), threading.Event()
    results: dict[str, object] = {}

    def request_a():
        try:
            with transaction.atomic():
                results["a"] = batch.bulk_retry_start(actor=staff, orders=Order.objects.all(), idempotency_key="dup",
                                                      fingerprint="f", run_inline_up_to=0)  # fmt: skip
                inserted.set()
                release.wait(10)
        finally:
            inserted.set()
            connection.close()

    def request_b():
        try:
            results["b"] = batch.bulk_retry_start(actor=staff, orders=Order.objects.all(), idempotency_key="dup",
                                                  fingerprint="f", run_inline_up_to=0)  # fmt: skip
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            results["b"] = exc
        finally:
            connection.close()

    a = threading.Thread(target=request_a)
    a.start()
    assert inserted.wait(10)
    b = threading.Thread(target=request_b)
    b.start()
    b.join(1.0)
    assert b.is_alive()  # waiting on A's uncommitted key
    release.set()
    a.join(10)
    b.join(10)

    (job_a, created_a), (job_b, created_b) = results["a"], results["b"]
    assert (created_a, created_b) == (True, False)
    assert job_a.pk == job_b.pk
    assert Job.objects.filter(idempotency_key="dup").count() == 1


# --- cost of a run ------------------------------------------------------------------------------------------


def _queries_of_a_run(world, n: int, actor) -> int:
    Order.objects.all().delete()
    for _ in range(n):
        erred(world)
    job = jobs.job_create(
        kind=batch.BULK_RETRY,
        selection=[jobs.Selected(o.pk, o.uuid, "", o.attempt) for o in Order.objects.all()],
        created_by=actor,
    )
    with CaptureQueriesContext(connection) as captured:
        jobs.job_run_inline(job)
    assert job.succeeded == n
    return len(captured)


@pytest.mark.parametrize("actor", ["staff", "provider_owner", None])
def test_a_job_run_costs_a_constant_number_of_queries_per_order(world, sent, actor):
    user = world.users.get(actor)

    q5, q10, q20 = (_queries_of_a_run(world, n, user) for n in (5, 10, 20))

    per_order = (q10 - q5) / 5
    assert (q20 - q10) == 2 * (q10 - q5), (q5, q10, q20)  # linear: the same cost for each further order
    # lock the item, lock the order, update it, its event, its resource (read + update), the item's outcome,
    # two savepoints (the retry service's transaction inside the item's); the system also reads the type.
    # Inside a test the item's own transaction is a savepoint too: +2 here, a BEGIN/COMMIT in production.
    assert per_order <= (12 if actor is None else 11), f"{per_order} queries per order"


def test_error_group_helpers_count_and_list_orders_by_group(world, sent):
    a = erred(world, error="Fulfilment endpoint answered 503 for order 1.")
    b = erred(world, error="Fulfilment endpoint answered 503 for order 2.")
    c = erred(world, error=UNREACHABLE)

    counts = batch.error_group_counts(Order.objects.all())
    groups = batch.orders_by_error_group(Order.objects.all())

    assert counts == [
        ("Fulfilment endpoint answered 503 for order <n>.", 2),
        ("Fulfilment endpoint unreachable: [Errno <n>] Connection refused to <address>.", 1),
    ]
    assert sorted(groups["Fulfilment endpoint answered 503 for order <n>."]) == sorted([a.pk, b.pk])
    assert groups["Fulfilment endpoint unreachable: [Errno <n>] Connection refused to <address>."] == [c.pk]


def test_job_items_of_a_run_are_reported_in_selection_order(world, sent):
    orders = [erred(world) for _ in range(3)]

    job, _ = batch.bulk_retry_start(actor=world.user("staff"), orders=Order.objects.all())

    assert list(JobItem.objects.filter(job=job).values_list("subject_id", flat=True)) == [o.pk for o in orders]
