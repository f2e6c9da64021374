"""Outbound deliveries (callbacks): written as rows with the change that causes them, sent by id.

A delivery is created inside the caller's transaction (STYLE.md 24). `delivery_attempt` makes one
attempt: it claims the row with a conditional UPDATE (a lease on next_attempt_at, so two sends of the same
delivery never overlap), POSTs the payload through core.http (signed when MARKETPLACE["CALLBACK_SECRET"]
is set), stores a DeliveryAttempt and then marks the delivery delivered, schedules the next attempt with
exponential backoff, or gives up after max_attempts. A refused target (internal address, bad scheme)
fails at once: retrying cannot help. Nothing here raises for a receiver's failure.
"""

from __future__ import annotations

import datetime
import json
import logging
import time
import uuid
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core import http
from core.models import Delivery, DeliveryAttempt

logger = logging.getLogger(__name__)

EXCERPT_CHARS = 500


def _option(name: str) -> Any:
    return settings.MARKETPLACE[name]


def retry_delay(attempts: int) -> datetime.timedelta:
    """How long to wait after the n-th failed attempt: base × 2^(n-1) seconds, capped."""
    seconds = _option("CALLBACK_RETRY_BASE_SECONDS") * 2 ** max(attempts - 1, 0)
    return datetime.timedelta(seconds=min(seconds, _option("CALLBACK_RETRY_MAX_SECONDS")))


def delivery_create(
    *, topic: str, subject_type: str, subject_uuid: uuid.UUID, url: str, payload: dict[str, Any]
) -> Delivery:
    """Record a delivery that is due now (call inside the transaction of the change it reports)."""
    return Delivery.objects.create(
        topic=topic,
        subject_type=subject_type,
        subject_uuid=subject_uuid,
        url=url,
        payload=payload,
        max_attempts=_option("CALLBACK_MAX_ATTEMPTS"),
        next_attempt_at=timezone.now(),
    )


def deliveries_due(*, limit: int | None = None) -> list[int]:
    """Ids of pending deliveries whose next attempt is due, oldest first (the redelivery sweep)."""
    due = Delivery.objects.filter(state=Delivery.States.PENDING, next_attempt_at__lte=timezone.now())
    return list(due.order_by("next_attempt_at", "pk").values_list("pk", flat=True)[: limit or None])


def _claim(delivery_id: int) -> Delivery | None:
    """Take the lease on a due delivery; None if it is not due or another sender holds it."""
    now = timezone.now()
    lease = datetime.timedelta(seconds=2 * _option("CALLBACK_TIMEOUT_SECONDS") + 60)
    due = Delivery.objects.filter(pk=delivery_id, state=Delivery.States.PENDING, next_attempt_at__lte=now)
    claimed = due.update(next_attempt_at=now + lease, attempts=F("attempts") + 1, modified=now)
    return Delivery.objects.filter(pk=delivery_id).first() if claimed else None


def _post(delivery: Delivery) -> tuple[int | None, str, str, bool]:
    """(status, error, response excerpt, permanent) of one POST of the delivery's payload."""
    body = json.dumps(delivery.payload, sort_keys=True).encode()
    headers = {"X-Marketplace-Delivery": delivery.uuid.hex, "X-Marketplace-Topic": delivery.topic}
    if secret := _option("CALLBACK_SECRET"):
        headers[http.SIGNATURE_HEADER] = http.sign(secret, body)
    try:
        response = http.post_json(delivery.url, body, headers=headers, timeout=_option("CALLBACK_TIMEOUT_SECONDS"))
    except http.OutboundRefused as exc:
        return None, f"{delivery.url} is not an allowed target: {exc}", "", True
    except http.OutboundError as exc:
        return None, str(exc), "", False
    excerpt = response.body[:EXCERPT_CHARS].decode("utf-8", "replace")
    return response.status, "" if response.ok else f"HTTP {response.status}", excerpt, False


def delivery_attempt(delivery_id: int) -> str:
    """Make one attempt if the delivery is due; returns delivered, retrying, failed or skipped."""
    delivery = _claim(delivery_id)
    if delivery is None:
        return "skipped"
    started_at, started = timezone.now(), time.monotonic()
    status, error, excerpt, permanent = _post(delivery)
    duration_ms = int((time.monotonic() - started) * 1000)
    now = timezone.now()
    changes: dict[str, Any] = {"last_status": status, "last_error": error, "modified": now}
    if status is not None and 200 <= status < 300:
        changes.update(state=Delivery.States.DELIVERED, delivered_at=now, next_attempt_at=None)
    elif permanent or delivery.attempts >= delivery.max_attempts:
        changes.update(state=Delivery.States.FAILED, next_attempt_at=None)
    else:
        changes.update(next_attempt_at=now + retry_delay(delivery.attempts))
    with transaction.atomic():
        DeliveryAttempt.objects.create(
            delivery=delivery, number=delivery.attempts, started_at=started_at, duration_ms=duration_ms,
            status_code=status, error=error, response_excerpt=excerpt,
        )  # fmt: skip
        Delivery.objects.filter(pk=delivery.pk).update(**changes)
    if error:
        about = {"order_uuid": delivery.subject_uuid.hex} if delivery.subject_type == "order" else {}
        logger.info(
            "delivery %s attempt %s to %s: %s", delivery.pk, delivery.attempts, delivery.url, error, extra=about
        )
    if changes.get("state") is not None:
        return str(changes["state"])
    return "retrying"
