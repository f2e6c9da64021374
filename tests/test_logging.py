"""Structured logs (issue 9): JSON lines when LOG_FORMAT=json, each request's id in its records and its
response, the order's uuid in the records written while it is processed, the task id in a task's records."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.logs import ContextFilter, JsonFormatter, log_context, propagate_request_id
from offerings import registry
from offerings.processors.base import Outcome, ProcessResult
from offerings.registry import OfferingTypeSpec
from orders.processing import process_order
from tests.factories import OfferingFactory, OrderFactory

ROOT = Path(__file__).resolve().parent.parent
LOGGED = "tests.logging.processor"
CHATTY = "Test.Chatty"


@pytest.fixture
def json_lines():
    """The root logger also writes JSON lines, as configured for LOG_FORMAT=json, into a buffer; returns
    a function giving the parsed lines."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


class ChattyProcessor:
    """Logs while it provisions, as a processor (or the HTTP client under it) would."""

    def process(self, order) -> ProcessResult:
        logging.getLogger(LOGGED).info("provisioning %s", order.resource.name)
        return ProcessResult(Outcome.DONE, message="provisioned")


@pytest.fixture
def chatty_offering(world):
    registry.register_offering_type(OfferingTypeSpec(name=CHATTY, label="Chatty (test)", processor=ChattyProcessor))
    yield OfferingFactory(customer=world.provider, type=CHATTY, name="chatty", slug="chatty")
    registry.unregister_offering_type(CHATTY)


def test_log_format_json_makes_every_line_a_json_object():
    env = {**os.environ, "LOG_FORMAT": "json", "DJANGO_SETTINGS_MODULE": "marketplace.settings"}
    script = "import django, logging; django.setup(); logging.getLogger('orders').warning('hello %s', 'world')"

    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 0, result.stderr
    line = json.loads(result.stderr.strip().splitlines()[-1])
    assert line["message"] == "hello world"
    assert line["level"] == "WARNING"
    assert line["logger"] == "orders"
    assert line["time"]


def test_the_default_log_format_stays_plain_text():
    env = {k: v for k, v in os.environ.items() if k != "LOG_FORMAT"}
    script = "import django, logging; django.setup(); logging.getLogger('orders').warning('hello')"

    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env={**env, "DJANGO_SETTINGS_MODULE": "marketplace.settings"},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip

    assert result.stderr.strip().endswith("WARNING orders hello")


@pytest.mark.django_db
def test_a_request_carries_the_given_request_id_into_its_logs_and_its_response(client, json_lines):
    response = client.get("/api/no-such-endpoint/", HTTP_X_REQUEST_ID="req-42.abc")

    assert response.status_code == 404
    assert response["X-Request-ID"] == "req-42.abc"
    not_found = [line for line in json_lines() if line["logger"] == "django.request"]
    assert not_found and {line["request_id"] for line in not_found} == {"req-42.abc"}


@pytest.mark.django_db
@pytest.mark.parametrize("given", [None, "", "has spaces", "x" * 200, 'quote"d', "ünïcode"])
def test_a_missing_or_insane_request_id_is_replaced_by_a_generated_one(client, json_lines, given):
    headers = {"HTTP_X_REQUEST_ID": given} if given is not None else {}

    first = client.get("/api/no-such-endpoint/", **headers)
    second = client.get("/api/no-such-endpoint/", **headers)

    generated = first["X-Request-ID"]
    assert len(generated) == 32 and int(generated, 16) >= 0
    assert second["X-Request-ID"] != generated
    ids = [line["request_id"] for line in json_lines() if line["logger"] == "django.request"]
    assert ids == [generated, second["X-Request-ID"]]


@pytest.mark.django_db
def test_records_outside_a_request_carry_no_request_id(client, json_lines):
    client.get("/api/no-such-endpoint/", HTTP_X_REQUEST_ID="req-1")
    logging.getLogger("orders").warning("after the request")

    after = [line for line in json_lines() if line["message"] == "after the request"]
    assert after and "request_id" not in after[0]


@pytest.mark.django_db
def test_log_lines_written_while_an_order_is_processed_carry_its_uuid(world, chatty_offering, json_lines):
    order = OrderFactory(state="executing", offering=chatty_offering, project=world.project)

    assert process_order(order_id=order.pk, attempt=order.attempt) == "done"

    provisioning = [line for line in json_lines() if line["logger"] == LOGGED]
    assert provisioning and provisioning[0]["order_uuid"] == order.uuid.hex
    logging.getLogger(LOGGED).info("later")
    assert "order_uuid" not in json_lines()[-1]


@pytest.mark.django_db
def test_a_tasks_log_lines_carry_the_task_id_and_the_order_uuid(world, chatty_offering, json_lines):
    from tasks.processing import process_order as process_order_task

    order = OrderFactory(state="executing", offering=chatty_offering, project=world.project)

    result = process_order_task.apply(args=[order.pk, order.attempt], task_id="task-0001")

    assert result.get() == "done"
    provisioning = [line for line in json_lines() if line["logger"] == LOGGED]
    assert provisioning[0]["task_id"] == "task-0001"
    assert provisioning[0]["task_name"] == "tasks.processing.process_order"
    assert provisioning[0]["order_uuid"] == order.uuid.hex


@pytest.mark.django_db
def test_an_explicit_order_uuid_in_extra_is_kept(world, json_lines):
    order = OrderFactory(state="pending-consumer", project=world.project, offering=world.basic)

    logging.getLogger("orders").info("about %s", order.uuid.hex, extra={"order_uuid": order.uuid})

    assert json_lines()[-1]["order_uuid"] == order.uuid.hex


@pytest.mark.django_db
def test_a_task_published_during_a_request_logs_that_requests_id(world, chatty_offering, json_lines):
    from tasks.processing import process_order as process_order_task

    order = OrderFactory(state="executing", offering=chatty_offering, project=world.project)
    headers: dict = {}
    with log_context(request_id="req-7"):
        propagate_request_id(headers=headers)  # before_task_publish, as the web process publishes

    process_order_task.apply(args=[order.pk, order.attempt], headers=headers)

    provisioning = [line for line in json_lines() if line["logger"] == LOGGED]
    assert provisioning[0]["request_id"] == "req-7"
