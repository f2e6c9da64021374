"""Telling an order's callback_url about state changes (DESIGN §7)."""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.error
import urllib.request

from django.conf import settings

from orders.models import Order
from orders.services.base import record_event

SIGNATURE_HEADER = "X-Marketplace-Signature"


class CallbackFailed(Exception):
    """The receiver did not answer 2xx; the task retries with backoff."""


def send_order_callback(*, order_id: int, state: str, attempt: int, base_url: str = "") -> str:
    order = Order.objects.filter(pk=order_id).first()
    if order is None or not order.callback_url:
        return "skipped"
    body = json.dumps(
        {
            "uuid": order.uuid.hex,
            "state": state,
            "url": f"{base_url}/api/marketplace-orders/{order.uuid.hex}/",
        }
    ).encode()
    headers = {"Content-Type": "application/json"}
    secret = settings.MARKETPLACE.get("CALLBACK_SECRET")
    if secret:
        headers[SIGNATURE_HEADER] = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    request = urllib.request.Request(order.callback_url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (urllib.error.URLError, OSError) as exc:
        status = None
        error = str(exc)
    else:
        error = ""
    ok = status is not None and 200 <= status < 300
    record_event(
        order, kind="callback", actor=None, from_state=order.state,
        payload={"url": order.callback_url, "state": state, "status": status, "attempt": attempt, "error": error},
    )  # fmt: skip
    if not ok:
        raise CallbackFailed(f"callback to {order.callback_url} failed: {status or error}")
    return "sent"
