"""Marketplace.Webhook: POST the order to the provider's fulfilment URL, HMAC-signed, through core.http.

2xx with an empty body or a JSON object → done (optional backend_id); 202 → pending until the provider
calls back; 429, 5xx, timeouts and refused connections → TransientBackendError; other answers, a URL that
is not an allowed target, a garbage or oversized answer → permanent BackendError with a clear message.
"""

from __future__ import annotations

import json
from typing import Any

from core import http
from core.http import SIGNATURE_HEADER, sign
from offerings.processors.base import BackendError, Outcome, ProcessResult, TransientBackendError

DEFAULT_TIMEOUT_SECONDS = 10
__all__ = ["SIGNATURE_HEADER", "WebhookProcessor", "order_payload", "sign"]


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
        """POST the order to the offering's webhook_url and classify the answer (module docstring)."""
        options = order.offering.plugin_options or {}
        url = str(options.get("webhook_url") or "")
        if not url.startswith(("http://", "https://")):
            raise BackendError("The offering has no valid webhook_url in its plugin options.")
        body = json.dumps(order_payload(order), sort_keys=True).encode()
        headers = {"Idempotency-Key": f"{order.uuid.hex}-{order.attempt}"}
        if options.get("webhook_secret"):
            headers[SIGNATURE_HEADER] = sign(str(options["webhook_secret"]), body)
        timeout = float(options.get("webhook_timeout_seconds") or DEFAULT_TIMEOUT_SECONDS)
        try:
            response = http.post_json(url, body, headers=headers, timeout=timeout)
        except http.OutboundRefused as exc:
            raise BackendError(f"The fulfilment URL {url} is not an allowed target: {exc}.") from exc
        except http.OutboundTooLarge as exc:
            raise BackendError(f"The fulfilment endpoint's answer was too large: {exc}.") from exc
        except http.OutboundUnavailable as exc:
            raise TransientBackendError(f"Fulfilment endpoint unreachable: {exc}.") from exc
        return _classify(response)


def _classify(response: http.OutboundResponse) -> ProcessResult:
    status = response.status
    if status == 429 or status >= 500:
        raise TransientBackendError(f"Fulfilment endpoint answered {status}.")
    if status >= 300:
        raise BackendError(f"Fulfilment endpoint refused the order: HTTP {status}.")
    if status == 202:
        return ProcessResult(Outcome.PENDING, message="Accepted by the provider; waiting for its callback.")
    answer = response.json() if response.body.strip() else {}
    if not isinstance(answer, dict):
        excerpt = response.body[:80].decode("utf-8", "replace")
        raise BackendError(
            f"Fulfilment endpoint answered HTTP {status} with a body that is not a JSON object: {excerpt!r}."
        )
    return ProcessResult(Outcome.DONE, backend_id=str(answer.get("backend_id") or ""))
