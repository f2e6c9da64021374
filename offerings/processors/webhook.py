"""Marketplace.Webhook: POST the order to the provider's fulfilment URL, HMAC-signed.

2xx → done (optional backend_id in the JSON answer); 202 → pending until the provider calls back;
4xx → permanent BackendError; 5xx, timeouts and refused connections → TransientBackendError.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.error
import urllib.request
from typing import Any

from offerings.processors.base import BackendError, Outcome, ProcessResult, TransientBackendError

SIGNATURE_HEADER = "X-Marketplace-Signature"
DEFAULT_TIMEOUT_SECONDS = 10


def sign(secret: str, body: bytes) -> str:
    """Hex HMAC-SHA256 of the body with the offering's secret, as sent in SIGNATURE_HEADER."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def order_payload(order: Any) -> dict[str, Any]:
    return {
        "order_uuid": order.uuid.hex,
        "type": order.type,
        "attempt": order.attempt,
        "offering_uuid": order.offering.uuid.hex,
        "project_uuid": order.project.uuid.hex,
        "resource_uuid": order.resource.uuid.hex,
        "resource_name": order.resource.name,
        "plan_uuid": order.plan.uuid.hex if order.plan_id else None,
        "limits": order.limits,
        "attributes": order.attributes,
    }


class WebhookProcessor:
    def process(self, order: Any) -> ProcessResult:
        options = order.offering.plugin_options or {}
        url = options.get("webhook_url")
        if not url or not str(url).startswith(("http://", "https://")):
            raise BackendError("The offering has no valid webhook_url in its plugin options.")
        body = json.dumps(order_payload(order), sort_keys=True).encode()
        headers = {"Content-Type": "application/json", "Idempotency-Key": f"{order.uuid.hex}-{order.attempt}"}
        if options.get("webhook_secret"):
            headers[SIGNATURE_HEADER] = sign(str(options["webhook_secret"]), body)
        timeout = float(options.get("webhook_timeout_seconds") or DEFAULT_TIMEOUT_SECONDS)
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (http/https only)
                status, text = response.status, response.read(65536)
        except urllib.error.HTTPError as exc:
            if exc.code >= 500 or exc.code == 429:
                raise TransientBackendError(f"Fulfilment endpoint answered {exc.code}.") from exc
            raise BackendError(f"Fulfilment endpoint refused the order: HTTP {exc.code}.") from exc
        except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
            raise TransientBackendError(f"Fulfilment endpoint unreachable: {exc}.") from exc
        if status == 202:
            return ProcessResult(Outcome.PENDING, message="Accepted by the provider; waiting for its callback.")
        backend_id = ""
        try:
            answer = json.loads(text or b"{}")
            if isinstance(answer, dict):
                backend_id = str(answer.get("backend_id") or "")
        except ValueError:
            pass
        return ProcessResult(Outcome.DONE, backend_id=backend_id)
