"""Automatic recovery after a backend outage (DESIGN §7).

An order that errs transiently marks its offering's backend unhealthy. While it is unhealthy, new work
for an offering with `auto_resubmit` (default on) is parked instead of burning its retries. A periodic
probe asks the offering type whether the backend answers again; when it does, the backend is marked
healthy, parked orders are released to the reconciler, and a system job resubmits the orders that erred
transiently during the outage through the batch executor (bounded attempts per order, rate-capped). With
`auto_resubmit` off, nothing is parked or resubmitted: orders fail after their retries and wait for an
operator's resubmit (seed 003).
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from core.models import Job
from offerings.models import Offering
from offerings.registry import get_offering_type
from orders.models import Order
from orders.services.batch import bulk_retry_start
from orders.states import OrderState as S

logger = logging.getLogger(__name__)

RECOVERY_REASON = "automatic recovery"


def auto_resubmit_enabled(offering: Offering) -> bool:
    spec = get_offering_type(offering.type)
    if spec is None or not spec.automated:
        return False
    return bool(spec.option_value(offering.plugin_options, "auto_resubmit"))


def offering_backend_failed(*, offering_id: int, error: str) -> None:
    """A transient failure of this offering's backend: mark it unhealthy (keeping the outage's start)."""
    now = timezone.now()
    Offering.objects.filter(pk=offering_id, backend_healthy=True).update(
        backend_healthy=False, backend_unhealthy_since=now
    )
    Offering.objects.filter(pk=offering_id).update(backend_last_error=error[:2000])


def parks_new_work(offering: Offering) -> bool:
    """New processing for this offering waits: its backend is down and it recovers by itself."""
    return not offering.backend_healthy and auto_resubmit_enabled(offering)


def outage_window_start(offering: Offering) -> datetime.datetime:
    """Orders that erred transiently since this time are the outage's: the first one marked it unhealthy,
    the ones failing at the same time may have erred up to one retry cycle earlier."""
    since = offering.backend_unhealthy_since or timezone.now()
    return since - datetime.timedelta(seconds=settings.MARKETPLACE["RECOVERY_LOOKBACK_SECONDS"])


def orders_to_recover(offering: Offering):
    """Orders of the offering that erred transiently during the outage and may still be resubmitted."""
    return Order.objects.filter(
        offering=offering,
        state=S.ERRED,
        error_is_transient=True,
        error_updated_at__gte=outage_window_start(offering),
        auto_resubmits__lt=settings.MARKETPLACE["AUTO_RESUBMIT_MAX_ATTEMPTS"],
    )


@dataclass(frozen=True)
class ProbeOutcome:
    offering_uuid: str
    up: bool | None
    detail: str = ""
    job_uuid: str = ""


def offering_backend_recovered(*, offering: Offering) -> Job | None:
    """The backend answers again: mark it healthy, release parked orders, resubmit the outage's failures."""
    auto = auto_resubmit_enabled(offering)
    job = None
    if auto:
        selection = orders_to_recover(offering)
        if selection.exists():
            job, _ = bulk_retry_start(
                actor=None,
                orders=selection,
                reason=RECOVERY_REASON,
                params={"offering_uuid": offering.uuid.hex, "outage_since": str(offering.backend_unhealthy_since)},
                automatic=True,
                run_inline_up_to=0,
            )
    now = timezone.now()
    Offering.objects.filter(pk=offering.pk).update(
        backend_healthy=True, backend_unhealthy_since=None, backend_checked_at=now, backend_last_error=""
    )
    released = Order.objects.filter(
        Q(processing_due_at__isnull=True) | Q(processing_due_at__gt=now),
        offering=offering,
        state=S.EXECUTING,
        processing_attempt__isnull=True,
    ).update(processing_due_at=now)
    logger.info(
        "backend of offering %s recovered: %d parked order(s) released, recovery job %s",
        offering.uuid.hex, released, job.uuid.hex if job else "-",
    )  # fmt: skip
    return job


def probe_unhealthy_backends(*, limit: int = 50) -> list[ProbeOutcome]:
    """Probe each unhealthy offering's backend once; start recovery for those that answer again."""
    outcomes = []
    for offering in Offering.objects.filter(backend_healthy=False).order_by("backend_checked_at", "pk")[:limit]:
        spec = get_offering_type(offering.type)
        result = spec.probe(offering) if spec else None
        if result is None:  # nothing to probe: the type cannot tell, so the next order tells
            Offering.objects.filter(pk=offering.pk).update(backend_healthy=True, backend_unhealthy_since=None)
            outcomes.append(ProbeOutcome(offering.uuid.hex, None, "not probeable"))
            continue
        if not result.up:
            Offering.objects.filter(pk=offering.pk).update(
                backend_checked_at=timezone.now(), backend_last_error=result.detail[:2000]
            )
            outcomes.append(ProbeOutcome(offering.uuid.hex, False, result.detail))
            continue
        job = offering_backend_recovered(offering=offering)
        outcomes.append(ProbeOutcome(offering.uuid.hex, True, result.detail, job.uuid.hex if job else ""))
    return outcomes
