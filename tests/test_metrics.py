"""/metrics (issue 9): parsed with Prometheus' own text parser, every value equal to what the test computes
from the data set it generated; a constant number of queries; who may read it."""

from __future__ import annotations

import datetime
import os
import random
import subprocess
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from core.models import Delivery, Job
from offerings.registry import offering_types
from orders.models import Order
from orders.states import OrderState as S
from tests.conftest import build_world
from tests.factories import OrderEventFactory, OrderFactory, UserFactory, token_for

TOKEN = "scrape-token-0123456789"
BUCKETS = (1, 5, 15, 60, 300, 900, 3600, 14400, 86400, 604800)
ERRORS = [  # (message template, its error group, transient)
    (
        "Fulfilment endpoint answered HTTP 503 for order {n}",
        "Fulfilment endpoint answered HTTP 503 for order <n>",
        True,
    ),
    ("Connection refused by 10.0.0.{n}:8080", "Connection refused by <address>", True),
    ("Quota exceeded for project {n} (limit 100)", "Quota exceeded for project <n> (limit <n>)", False),
]
DURATIONS = [0.4, 3, 12, 45, 200, 800, 2000, 9000, 50000, 300000, 900000]  # seconds, across every bucket


@dataclass
class Expected:
    orders: Counter = field(default_factory=Counter)
    transitions: Counter = field(default_factory=Counter)
    durations: dict = field(default_factory=lambda: defaultdict(list))
    failed: Counter = field(default_factory=Counter)
    unclaimed_ages: list = field(default_factory=list)
    deliveries: Counter = field(default_factory=Counter)
    jobs: Counter = field(default_factory=Counter)
    progress: dict = field(default_factory=dict)


def _event(order, expected, type_name, *, kind, from_state, to_state, at):
    OrderEventFactory(order=order, kind=kind, from_state=from_state, to_state=to_state, created=at)
    if from_state != to_state:
        expected.transitions[(kind, type_name)] += 1


def generate(world, rng: random.Random, count: int, expected: Expected) -> None:
    """`count` orders in every state over the three offering types, with their history, and what the
    metrics must say about them, computed here."""
    now = timezone.now()
    offerings = [world.basic, world.slurm, world.webhook]
    states = list(S)
    for i in range(count):
        offering, state = offerings[i % 3], states[i % len(states)]
        type_name = offering.type
        started = now - datetime.timedelta(days=rng.randint(1, 20), seconds=rng.randint(0, 3600))
        order = OrderFactory(project=world.project, offering=offering, state=state, created=started)
        expected.orders[(state.value, type_name)] += 1
        first = S.PENDING_CONSUMER if state not in (S.EXECUTING, S.DONE, S.ERRED) else S.EXECUTING
        _event(order, expected, type_name, kind="create", from_state="", to_state=first, at=started)
        at = started
        if state in (S.DONE, S.ERRED, S.EXECUTING) and i % 4 == 0:  # failed once, then retried by staff
            d = rng.choice(DURATIONS)
            at += datetime.timedelta(seconds=d)
            _event(order, expected, type_name, kind="set_state_erred", from_state=S.EXECUTING, to_state=S.ERRED, at=at)
            expected.durations[type_name].append(d)
            at += datetime.timedelta(hours=1)
            _event(order, expected, type_name, kind="retry", from_state=S.ERRED, to_state=S.EXECUTING, at=at)
        if state in (S.DONE, S.ERRED, S.EXECUTING):  # the processing step is history, not a transition
            at += datetime.timedelta(seconds=0.1)
            _event(order, expected, type_name, kind="processing", from_state=S.EXECUTING, to_state=S.EXECUTING, at=at)
        if state in (S.DONE, S.ERRED):
            d = rng.choice(DURATIONS)
            kind = "set_state_done" if state == S.DONE else "set_state_erred"
            _event(order, expected, type_name, kind=kind, from_state=S.EXECUTING, to_state=state,
                   at=at - datetime.timedelta(seconds=0.1) + datetime.timedelta(seconds=d))  # fmt: skip
            expected.durations[type_name].append(d)
        elif state in (S.CANCELED, S.REJECTED):
            kind = "cancel" if state == S.CANCELED else "reject_by_consumer"
            _event(order, expected, type_name, kind=kind, from_state=S.PENDING_CONSUMER, to_state=state, at=at)
        if state == S.ERRED:
            template, group, transient = ERRORS[i % len(ERRORS)]
            Order.objects.filter(pk=order.pk).update(
                error_message=template.format(n=rng.randint(1, 250)), error_is_transient=transient
            )
            expected.failed[(group, transient)] += 1
        if state == S.EXECUTING:
            age = rng.randint(10, 100_000)
            claim = (i // len(states)) % 3  # 0: unclaimed, 1: claimed for this attempt, 2: parked (nothing due)
            Order.objects.filter(pk=order.pk).update(
                state_entered_at=now - datetime.timedelta(seconds=age),
                processing_attempt=order.attempt if claim == 1 else (order.attempt - 1 or None),
                processing_due_at=None if claim == 2 else now,
            )
            if claim == 0:
                expected.unclaimed_ages.append(age)
    for j, state in enumerate(rng.choices(list(Delivery.States), k=count // 3)):
        Delivery.objects.create(
            topic="order.state_changed", subject_type="order", subject_uuid=order.uuid,
            url=f"https://receiver.example/{j}", state=state,
        )  # fmt: skip
        expected.deliveries[state.value] += 1
    for state in rng.choices(list(Job.States), k=count // 5):
        total = rng.randint(1, 500)
        job = Job.objects.create(kind="bulk_retry", state=state, total=total, processed=rng.randint(0, total))
        expected.jobs[("bulk_retry", state.value)] += 1
        if state not in Job.FINAL_STATES:
            expected.progress[job.uuid.hex] = (state.value, job.processed, job.total)


def scrape(client, **headers) -> dict:
    """name → {labels (frozen) → value}, from the Prometheus text format."""
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}", **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    samples: dict = defaultdict(dict)
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[sample.name][frozenset(sample.labels.items())] = sample.value
    return samples


def labels(**values) -> frozenset:
    return frozenset(values.items())


@pytest.fixture
def metrics_token():
    with override_settings(METRICS_TOKEN=TOKEN, METRICS_ALLOWED_NETWORKS=[]):
        yield


@pytest.mark.django_db
def test_every_metric_equals_what_the_generated_data_set_implies(client, metrics_token):
    world = build_world()
    expected = Expected()
    generate(world, random.Random(9), 90, expected)

    samples = scrape(client)

    for state in S:
        for type_name in offering_types():
            assert (
                samples["marketplace_orders"][labels(state=state.value, offering_type=type_name)]
                == (expected.orders[(state.value, type_name)])
            ), (state, type_name)
    assert sum(samples["marketplace_orders"].values()) == 90
    assert {k: v for k, v in samples["marketplace_order_transitions_total"].items()} == {
        labels(action=kind, offering_type=type_name): n for (kind, type_name), n in expected.transitions.items()
    }
    for type_name, observed in expected.durations.items():
        for bound in BUCKETS:
            key = labels(offering_type=type_name, le=f"{float(bound)}")
            assert samples["marketplace_order_processing_duration_seconds_bucket"][key] == sum(
                d <= bound for d in observed
            ), (type_name, bound)
        key = labels(offering_type=type_name)
        assert samples["marketplace_order_processing_duration_seconds_count"][key] == len(observed)
        assert samples["marketplace_order_processing_duration_seconds_sum"][key] == pytest.approx(sum(observed))
    assert samples["marketplace_orders_failed"] == {
        labels(error_group=group, transient=str(transient).lower()): n
        for (group, transient), n in expected.failed.items()
    }
    assert samples["marketplace_unclaimed_executing_orders"][labels()] == len(expected.unclaimed_ages)
    assert samples["marketplace_oldest_unclaimed_executing_order_age_seconds"][labels()] == pytest.approx(
        max(expected.unclaimed_ages), abs=5
    )
    assert samples["marketplace_callback_deliveries"] == {
        labels(state=state.value): expected.deliveries[state.value] for state in Delivery.States
    }
    assert samples["marketplace_jobs"] == {
        labels(kind=kind, state=state): n for (kind, state), n in expected.jobs.items()
    }
    assert samples["marketplace_job_processed_items"] == {
        labels(job=job, kind="bulk_retry", state=state): processed
        for job, (state, processed, _) in expected.progress.items()
    }
    assert samples["marketplace_job_total_items"] == {
        labels(job=job, kind="bulk_retry", state=state): total for job, (state, _, total) in expected.progress.items()
    }


@pytest.mark.django_db
def test_a_scrape_takes_the_same_number_of_queries_for_ten_times_the_orders(client, metrics_token):
    world = build_world()
    generate(world, random.Random(1), 20, Expected())
    with CaptureQueriesContext(connection) as few:
        scrape(client)

    generate(world, random.Random(2), 200, Expected())
    with CaptureQueriesContext(connection) as many:
        scrape(client)

    assert len(many) == len(few) <= 10


@pytest.mark.django_db
def test_the_oldest_unclaimed_age_is_zero_when_every_executing_order_is_claimed(client, metrics_token):
    world = build_world()
    order = OrderFactory(project=world.project, offering=world.webhook, state=S.EXECUTING)
    Order.objects.filter(pk=order.pk).update(processing_attempt=order.attempt, processing_due_at=timezone.now())

    samples = scrape(client)

    assert samples["marketplace_unclaimed_executing_orders"][labels()] == 0
    assert samples["marketplace_oldest_unclaimed_executing_order_age_seconds"][labels()] == 0


@pytest.mark.django_db
def test_http_requests_are_counted_by_method_route_name_and_status_class(client, metrics_token):
    key = labels(method="GET", route="version", status="2xx")
    before = scrape(client)["marketplace_http_request_duration_seconds_count"].get(key, 0)

    assert client.get("/api/version/").status_code == 200
    assert client.get("/api/version/").status_code == 200
    after = scrape(client)

    assert after["marketplace_http_request_duration_seconds_count"][key] == before + 2
    assert after["marketplace_http_request_duration_seconds_bucket"][key | {("le", "+Inf")}] == before + 2
    unmatched = labels(method="GET", route="unmatched", status="4xx")
    assert client.get("/no-such-page").status_code == 404
    assert scrape(client)["marketplace_http_request_duration_seconds_count"][unmatched] >= 1


# --- who may read it --------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("authorization", "status"),
    [
        (None, 401),
        (f"Bearer {TOKEN}", 200),
        ("Bearer wrong-token", 403),
        (f"Bearer {TOKEN}x", 403),
        (f"Basic {TOKEN}", 403),
        ("staff", 200),
        ("stranger", 403),
        ("provider_owner", 403),
    ],
)
def test_metrics_need_the_token_or_a_staff_users_api_token(client, metrics_token, authorization, status):
    world = build_world()
    if authorization in world.users:
        authorization = f"Token {token_for(world.user(authorization))}"
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}

    response = client.get("/metrics", **headers)

    assert response.status_code == status
    if status == 200:
        assert b"marketplace_orders{" in response.content
    else:
        assert b"marketplace_orders" not in response.content
    if status == 401:
        assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'


@pytest.mark.django_db
def test_without_a_configured_token_no_bearer_token_is_accepted(client):
    with override_settings(METRICS_TOKEN="", METRICS_ALLOWED_NETWORKS=[]):
        assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 403
        assert client.get("/metrics").status_code == 401


@pytest.mark.django_db
def test_a_deactivated_staff_users_token_is_refused(client, metrics_token):
    staff = UserFactory(username="former-staff", is_staff=True, is_active=False)

    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Token {token_for(staff)}").status_code == 403


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("networks", "address", "status"),
    [
        (["127.0.0.0/8"], "127.0.0.1", 200),
        (["10.1.0.0/16", "192.168.0.0/24"], "10.1.200.3", 200),
        (["10.1.0.0/16"], "10.2.0.1", 401),
        (["::1/128"], "::1", 200),
        ([], "127.0.0.1", 401),  # the default: loopback is not trusted (a proxy on the same host)
    ],
)
def test_metrics_are_open_to_the_allowed_networks_only(client, networks, address, status):
    with override_settings(METRICS_TOKEN="", METRICS_ALLOWED_NETWORKS=networks):
        response = client.get("/metrics", REMOTE_ADDR=address, HTTP_X_FORWARDED_FOR="127.0.0.1")

    assert response.status_code == status


# --- several gunicorn workers -----------------------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent
OBSERVE = """
import django; django.setup()
from ops.metrics.http import REQUEST_LATENCY
REQUEST_LATENCY.labels("GET", "version", "2xx").observe(0.02)
"""
COLLECT = """
import django; django.setup()
from prometheus_client import generate_latest
from ops.metrics.views import registry
print(generate_latest(registry(database=False)).decode())
"""


def test_in_multiprocess_mode_the_scrape_sums_the_latency_every_web_process_observed(tmp_path):
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "marketplace.settings"}
    for _ in range(2):  # two gunicorn workers, each answering one request
        subprocess.run([sys.executable, "-c", OBSERVE], cwd=ROOT, env=env, check=True, timeout=60)

    text = subprocess.run(
        [sys.executable, "-c", COLLECT], cwd=ROOT, env=env, check=True, timeout=60, capture_output=True, text=True
    ).stdout

    counts = [
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "marketplace_http_request_duration_seconds_count" and s.labels.get("route") == "version"
    ]
    assert counts == [2.0]
