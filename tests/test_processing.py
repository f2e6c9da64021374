"""The processing boundary (DESIGN §6–§7): processors report, orders/processing maps the result to state.

The webhook processor talks to a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from offerings import registry
from offerings.processors.base import Outcome, ProcessResult
from offerings.processors.webhook import SIGNATURE_HEADER, sign
from orders.models import Order, OrderEvent, Resource
from orders.processing import TransientBackendError, give_up_order, process_order
from tests.factories import OfferingFactory, OrderFactory


@pytest.fixture(autouse=True)
def no_tasks(monkeypatch):
    monkeypatch.setattr("orders.dispatch._send", lambda name, *args: None)


@dataclass
class Fulfilment:
    """A provider's fulfilment endpoint: answers `status` with `body`, remembers the requests."""

    url: str = ""
    status: int = 200
    body: bytes = b"{}"
    requests: list[dict] = field(default_factory=list)


@pytest.fixture
def fulfilment():
    endpoint = Fulfilment()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's naming)
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            endpoint.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
            self.send_response(endpoint.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(endpoint.body)))
            self.end_headers()
            self.wfile.write(endpoint.body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    endpoint.url = f"http://127.0.0.1:{server.server_address[1]}/fulfil"
    yield endpoint
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def _executing(world, offering, **kwargs) -> Order:
    return OrderFactory(state="executing", offering=offering, project=world.project, **kwargs)


def _webhook_order(world, fulfilment, **options) -> Order:
    world.webhook.plugin_options = {"webhook_url": fulfilment.url, "webhook_timeout_seconds": 5, **options}
    world.webhook.save()
    return _executing(world, world.webhook, plan=world.plans["webhook"], limits={"cpu": 2})


# --- manual types and stale messages -----------------------------------------------------------------


@pytest.mark.parametrize("kind", ["basic", "slurm"])
def test_manual_offering_order_stays_executing_for_the_provider(world, kind):
    order = _executing(world, world.offering(kind))

    assert process_order(order_id=order.pk, attempt=1) == "pending"

    assert Order.objects.get(pk=order.pk).state == "executing"
    assert Resource.objects.get(pk=order.resource_id).state == "Creating"


def test_order_of_an_unknown_offering_type_errs_with_a_clear_message(world):
    offering = OfferingFactory(customer=world.provider, type="Marketplace.Teleport")
    order = _executing(world, offering)

    assert process_order(order_id=order.pk, attempt=1) == "erred"

    erred = Order.objects.get(pk=order.pk)
    assert erred.state == "erred"
    assert "Marketplace.Teleport" in erred.error_message
    assert "unknown offering type" in erred.error_message.lower()
    assert Resource.objects.get(pk=order.resource_id).state == "Erred"


@pytest.mark.parametrize(
    ("state", "attempt", "asked_attempt"),
    [("executing", 2, 1), ("done", 1, 1), ("erred", 1, 1), ("pending-provider", 1, 1), ("canceled", 1, 1)],
)
def test_stale_or_finished_order_is_skipped(world, fulfilment, state, attempt, asked_attempt):
    world.webhook.plugin_options = {"webhook_url": fulfilment.url}
    world.webhook.save()
    order = OrderFactory(state=state, attempt=attempt, offering=world.webhook, project=world.project)

    assert process_order(order_id=order.pk, attempt=asked_attempt) == "skipped"

    assert Order.objects.get(pk=order.pk).state == state
    assert fulfilment.requests == []
    assert not OrderEvent.objects.filter(order=order).exists()


def test_deleted_order_is_skipped(world):
    order = _executing(world, world.basic)
    order_id = order.pk
    order.delete()

    assert process_order(order_id=order_id, attempt=1) == "skipped"


# --- the webhook processor against a real server -----------------------------------------------------


def test_webhook_answering_200_completes_the_order_with_the_backend_id(world, fulfilment):
    fulfilment.body = json.dumps({"backend_id": "x"}).encode()
    order = _webhook_order(world, fulfilment)

    assert process_order(order_id=order.pk, attempt=1) == "done"

    done = Order.objects.get(pk=order.pk)
    assert done.state == "done"
    resource = Resource.objects.get(pk=order.resource_id)
    assert (resource.state, resource.backend_id) == ("OK", "x")
    assert len(fulfilment.requests) == 1
    sent = json.loads(fulfilment.requests[0]["body"])
    assert (sent["order_uuid"], sent["attempt"], sent["limits"], sent["type"]) == (
        order.uuid.hex,
        1,
        {"cpu": 2},
        "Create",
    )


def test_webhook_answering_202_leaves_the_order_executing(world, fulfilment):
    fulfilment.status = 202
    order = _webhook_order(world, fulfilment)

    assert process_order(order_id=order.pk, attempt=1) == "pending"

    assert Order.objects.get(pk=order.pk).state == "executing"
    assert len(fulfilment.requests) == 1


@pytest.mark.parametrize("status", [400, 404, 422])
def test_webhook_answering_4xx_errs_the_order_permanently(world, fulfilment, status):
    fulfilment.status = status
    order = _webhook_order(world, fulfilment)

    assert process_order(order_id=order.pk, attempt=1) == "erred"

    erred = Order.objects.get(pk=order.pk)
    assert erred.state == "erred"
    assert str(status) in erred.error_message
    assert erred.error_is_transient is False
    assert Resource.objects.get(pk=order.resource_id).state == "Erred"


@pytest.mark.parametrize("status", [500, 503, 429])
def test_webhook_answering_5xx_raises_a_transient_error_and_keeps_the_order(world, fulfilment, status):
    fulfilment.status = status
    order = _webhook_order(world, fulfilment)

    with pytest.raises(TransientBackendError, match=str(status)):
        process_order(order_id=order.pk, attempt=1)

    assert Order.objects.get(pk=order.pk).state == "executing"


def test_unreachable_webhook_is_a_transient_error(world, fulfilment):
    order = _webhook_order(world, fulfilment)
    world.webhook.plugin_options = {"webhook_url": "http://127.0.0.1:9/refused", "webhook_timeout_seconds": 2}
    world.webhook.save()

    with pytest.raises(TransientBackendError):
        process_order(order_id=order.pk, attempt=1)


def test_webhook_without_a_url_errs_the_order(world):
    world.webhook.plugin_options = {}
    world.webhook.save()
    order = _executing(world, world.webhook)

    assert process_order(order_id=order.pk, attempt=1) == "erred"

    assert "webhook_url" in Order.objects.get(pk=order.pk).error_message


def test_webhook_request_is_signed_with_the_offering_secret(world, fulfilment):
    order = _webhook_order(world, fulfilment, webhook_secret="s3cret")

    process_order(order_id=order.pk, attempt=1)

    request = fulfilment.requests[0]
    assert request["headers"][SIGNATURE_HEADER] == sign("s3cret", request["body"])
    assert request["headers"][SIGNATURE_HEADER] != sign("other", request["body"])
    assert request["headers"]["Idempotency-Key"] == f"{order.uuid.hex}-1"


def test_webhook_request_without_a_secret_is_unsigned(world, fulfilment):
    order = _webhook_order(world, fulfilment)

    process_order(order_id=order.pk, attempt=1)

    assert SIGNATURE_HEADER not in fulfilment.requests[0]["headers"]


# --- giving up and crashing processors ---------------------------------------------------------------


def test_giving_up_marks_the_order_erred_by_a_transient_failure(world):
    order = _executing(world, world.webhook)

    assert give_up_order(order_id=order.pk, attempt=1, error="Fulfilment endpoint answered 503.") == "erred"

    erred = Order.objects.get(pk=order.pk)
    assert (erred.state, erred.error_is_transient) == ("erred", True)
    assert erred.error_message == "Fulfilment endpoint answered 503."
    assert OrderEvent.objects.get(order=order).payload == {"transient": True}


def test_giving_up_on_a_stale_attempt_changes_nothing(world):
    order = _executing(world, world.webhook, attempt=2)

    assert give_up_order(order_id=order.pk, attempt=1, error="late") == "skipped"

    assert Order.objects.get(pk=order.pk).state == "executing"


class CrashingProcessor:
    def process(self, order) -> ProcessResult:
        raise RuntimeError("processor bug")


class DoneProcessor:
    def process(self, order) -> ProcessResult:
        return ProcessResult(Outcome.DONE, backend_id="made-by-test")


@pytest.fixture
def test_type(monkeypatch):
    """Register a test offering type with the given processor, as a new type would be (STYLE recipe)."""

    def register(processor) -> str:
        name = "Test.Type"
        monkeypatch.setitem(registry.REGISTRY, name, registry.OfferingType(name=name, label=name, processor=processor))
        return name

    return register


def test_processor_crashing_errs_the_order_with_its_traceback(world, test_type):
    offering = OfferingFactory(customer=world.provider, type=test_type(CrashingProcessor))
    order = _executing(world, offering)

    assert process_order(order_id=order.pk, attempt=1) == "erred"

    erred = Order.objects.get(pk=order.pk)
    assert erred.state == "erred"
    assert erred.error_message == "RuntimeError: processor bug"
    assert "Traceback" in erred.error_traceback and "processor bug" in erred.error_traceback
    assert Resource.objects.get(pk=order.resource_id).error_traceback == erred.error_traceback


def test_new_offering_type_plugs_in_without_changes_to_orders(world, test_type):
    offering = OfferingFactory(customer=world.provider, type=test_type(DoneProcessor))
    order = _executing(world, offering)

    assert process_order(order_id=order.pk, attempt=1) == "done"

    assert Resource.objects.get(pk=order.resource_id).backend_id == "made-by-test"
