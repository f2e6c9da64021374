"""The webhook processor's answers that are not a plain success (DESIGN §6): a garbage or oversized answer,
a fulfilment URL that is not an allowed target, redirects. Each ends as a clear error on the order."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from offerings.processors.base import BackendError
from offerings.processors.webhook import WebhookProcessor
from orders.models import Order
from orders.processing import process_order
from tests.factories import OrderFactory


@pytest.fixture(autouse=True)
def no_tasks(monkeypatch):
    monkeypatch.setattr("orders.dispatch._send", lambda name, *args: None)


@dataclass
class Fulfilment:
    url: str = ""
    status: int = 200
    body: bytes = b""
    calls: int = 0


@pytest.fixture
def fulfilment() -> Iterator[Fulfilment]:
    endpoint = Fulfilment()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's naming)
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            endpoint.calls += 1
            self.send_response(endpoint.status)
            if endpoint.status in (301, 302, 307):
                self.send_header("Location", "/elsewhere")
            self.send_header("Content-Length", str(len(endpoint.body)))
            self.end_headers()
            with contextlib.suppress(OSError):  # the client stops reading an oversized answer
                self.wfile.write(endpoint.body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    endpoint.url = f"http://127.0.0.1:{server.server_address[1]}/fulfil"
    yield endpoint
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def _webhook_order(world, url: str) -> Order:
    world.webhook.plugin_options = {"webhook_url": url, "webhook_timeout_seconds": 5}
    world.webhook.save()
    return OrderFactory(state="executing", offering=world.webhook, project=world.project, plan=world.plans["webhook"])


def _erred_with(order: Order) -> str:
    erred = Order.objects.get(pk=order.pk)
    assert (erred.state, erred.error_is_transient) == ("erred", False)
    return erred.error_message


@pytest.mark.parametrize("body", [b"<html>Service OK</html>", b"[1, 2]", b"null", b'"done"'])
def test_webhook_answering_2xx_with_something_other_than_a_json_object_errs_the_order(world, fulfilment, body):
    fulfilment.body = body
    order = _webhook_order(world, fulfilment.url)

    assert process_order(order_id=order.pk, attempt=1) == "erred"

    assert "not a JSON object" in _erred_with(order)


@pytest.mark.parametrize("body", [b"", b"   ", b"{}"])
def test_webhook_answering_2xx_with_an_empty_body_or_empty_object_completes_the_order(world, fulfilment, body):
    fulfilment.body = body
    order = _webhook_order(world, fulfilment.url)

    assert process_order(order_id=order.pk, attempt=1) == "done"


def test_webhook_answering_more_than_the_cap_errs_the_order(world, fulfilment, settings):
    settings.MARKETPLACE = {**settings.MARKETPLACE, "OUTBOUND_MAX_RESPONSE_BYTES": 1024}
    fulfilment.body = b'{"backend_id": "' + b"x" * 100_000 + b'"}'
    order = _webhook_order(world, fulfilment.url)

    assert process_order(order_id=order.pk, attempt=1) == "erred"

    assert "too large" in _erred_with(order)


def test_webhook_to_an_internal_address_is_refused_without_calling_it(world, fulfilment, settings):
    settings.MARKETPLACE = {**settings.MARKETPLACE, "OUTBOUND_ALLOW_PRIVATE_TARGETS": False}
    order = _webhook_order(world, fulfilment.url)

    assert process_order(order_id=order.pk, attempt=1) == "erred"

    message = _erred_with(order)
    assert f"fulfilment URL {fulfilment.url} is not an allowed target" in message
    assert "loopback" in message
    assert fulfilment.calls == 0


def test_webhook_answering_a_redirect_is_not_followed_and_errs_the_order(world, fulfilment):
    fulfilment.status = 302
    order = _webhook_order(world, fulfilment.url)

    assert process_order(order_id=order.pk, attempt=1) == "erred"

    assert "302" in _erred_with(order)
    assert fulfilment.calls == 1


def test_webhook_processor_reports_a_bad_scheme_as_a_permanent_error(world):
    order = _webhook_order(world, "ftp://provider.example.org/fulfil")

    with pytest.raises(BackendError, match="webhook_url"):
        WebhookProcessor().process(order)
