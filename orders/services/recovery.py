"""Automatic recovery after a backend outage (DESIGN §7).

An order that errs transiently after its retries marks its offering's backend unhealthy (the first one
sets the outage's start; later ones keep it). While it is unhealthy, new work for an offering with
`auto_resubmit` (plugin option, default on) is parked instead of burning its retries. A periodic probe
asks the offering type whether the backend answers again; when it does (or when an order of the offering
goes through), the backend is marked healthy, parked orders are released to the reconciler, and ONE system
job per outage resubmits the orders that erred transiently during it through the batch executor (bounded
automatic attempts per order, rate-capped). With `auto_resubmit` off, nothing is parked or resubmitted:
orders fail after their retries and wait for an operator's resubmit (seed 003); health is still shown.

The embedded mode (eager tasks, no beat) has no probe and no reconciler: a parked order would stay
executing with nothing to move it on. There nothing is parked (`parks_new_work`); orders err after their
(immediate) retries as with the option off, and the first order of the offering that goes through marks
the backend healthy and starts the same recovery job (in a background thread of the process).
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from core.models import Job
from offerings.models import Offering
from offerings.registry import automated_type_names, get_offering_type
from orders.models import Order
from orders.services.batch import bulk_retry_start
from orders.states import OrderState as S

logger = logging.getLogger(__name__)

RECOVERY_REASON = "automatic recovery"


def auto_resubmit_enabled(offering: Offering) -> bool:
    """The offering recovers by itself: an automated type with the plugin option auto_resubmit on."""
    spec = get_offering_type(offering.type)
    if spec is None or not spec.automated or "auto_resubmit" not in spec.declared_options:
        return False
    return spec.option_value(offering.plugin_options, "auto_resubmit") is True


def offering_backend_failed(*, offering_id: int, error: str) -> None:
    """A transient failure of this offering's backend: mark it unhealthy (keeping the outage's start)."""
    now = timezone.now()
    Offering.objects.filter(pk=offering_id, backend_healthy=True).update(
        backend_healthy=False, backend_unhealthy_since=now
    )
    Offering.objects.filter(pk=offering_id).update(backend_last_error=error[:2000])


def parks_new_work(offering: Offering) -> bool:
    """New processing for this offering waits: its backend is down and it recovers by itself.

    Never in the embedded mode (eager tasks): no beat runs the probe there and no reconciler sends a
    released order, so a parked order would stay executing for good (module docstring).
    """
    if offering.backend_healthy or current_app.conf.task_always_eager:
        return False
    return auto_resubmit_enabled(offering)


def parked_orders() -> QuerySet[Order]:
    """Executing orders waiting for their backend: no claim and nothing due (processing.py `_park`).

    Every other executing order of an automated type has a claim or a time the reconciler sends it at.
    """
    return Order.objects.filter(
        state=S.EXECUTING,
        processing_attempt__isnull=True,
        processing_due_at__isnull=True,
        offering__type__in=automated_type_names(),
    )


def release_parked_orders(*, offering: Offering | None = None) -> int:
    """Make parked orders due for the reconciler: those of `offering`, or (the periodic safety net) of every
    offering that no longer parks (recovered, option turned off), e.g. an order parked in the instant its
    offering recovered."""
    parked = parked_orders()
    if offering is not None:
        parked = parked.filter(offering=offering)
    else:
        offering_ids = set(parked.values_list("offering_id", flat=True).distinct())
        if not offering_ids:
            return 0
        still = {o.pk for o in Offering.objects.filter(pk__in=offering_ids) if parks_new_work(o)}
        parked = parked.filter(offering_id__in=offering_ids - still)
    return parked.update(processing_due_at=timezone.now())


def outage_window_start(offering: Offering) -> datetime.datetime:
    """Orders that erred transiently since this time are the outage's: the first one marked it unhealthy,
    the ones failing at the same time may have erred up to one retry cycle earlier."""
    since = offering.backend_unhealthy_since or timezone.now()
    return since - datetime.timedelta(seconds=settings.MARKETPLACE["RECOVERY_LOOKBACK_SECONDS"])


def orders_to_recover(offering: Offering) -> QuerySet[Order]:
    """Orders of the offering that erred transiently during the outage. Those already resubmitted
    automatically as often as allowed stay in the selection: the job reports them (attempt_limit)."""
    return Order.objects.filter(
        offering=offering, state=S.ERRED, error_is_transient=True, error_updated_at__gte=outage_window_start(offering)
    )


@dataclass(frozen=True)
class ProbeOutcome:
    offering_uuid: str
    up: bool | None
    detail: str = ""
    job_uuid: str = ""


def offering_backend_recovered(*, offering: Offering, resubmit: bool = True) -> Job | None:
    """The backend answers again: mark it healthy, release parked orders, resubmit the outage's failures.

    Once per outage: the healthy flag is set by a conditional update on the outage's start, in the same
    transaction as the recovery job, so two probe runs (or a probe and an order going through) racing on
    one outage start one job; the loser changes nothing and returns None.
    """
    since = offering.backend_unhealthy_since
    job = None
    with transaction.atomic():
        won = Offering.objects.filter(pk=offering.pk, backend_healthy=False, backend_unhealthy_since=since).update(
            backend_healthy=True, backend_unhealthy_since=None, backend_checked_at=timezone.now(), backend_last_error=""
        )
        if not won:
            return None
        if resubmit and auto_resubmit_enabled(offering):
            selection = orders_to_recover(offering)
            if selection.exists():
                job, _ = bulk_retry_start(
                    actor=None,
                    orders=selection,
                    reason=RECOVERY_REASON,
                    params={"offering_uuid": offering.uuid.hex, "outage_since": since.isoformat() if since else ""},
                    automatic=True,
                    run_inline_up_to=0,  # always a job: rate-capped, visible, resumable
                )
    released = release_parked_orders(offering=offering)
    logger.info(
        "backend of offering %s recovered: %d parked order(s) released, recovery job %s",
        offering.uuid.hex, released, job.uuid.hex if job else "-",
    )  # fmt: skip
    return job


def offering_backend_answered(*, offering: Offering) -> Job | None:
    """An order of the offering went through its backend: if it was marked unhealthy, the outage is over."""
    if offering.backend_healthy:
        return None
    return offering_backend_recovered(offering=offering)


def probe_unhealthy_backends(*, limit: int = 50) -> list[ProbeOutcome]:
    """Probe each unhealthy offering's backend once (least recently checked first); recover those that
    answer; then release orders left parked for offerings that no longer park (the safety net)."""
    outcomes = []
    unhealthy = Offering.objects.filter(backend_healthy=False).order_by(
        F("backend_checked_at").asc(nulls_first=True), "pk"
    )
    for offering in unhealthy[:limit]:
        spec = get_offering_type(offering.type)
        result = spec.probe(offering) if spec else None
        if result is None:  # nothing to probe: the type cannot tell, so the next order tells; no resubmit
            offering_backend_recovered(offering=offering, resubmit=False)
            outcomes.append(ProbeOutcome(offering.uuid.hex, None, "not probeable"))
            continue
        if not result.up:
            Offering.objects.filter(pk=offering.pk, backend_healthy=False).update(
                backend_checked_at=timezone.now(), backend_last_error=result.detail[:2000]
            )
            outcomes.append(ProbeOutcome(offering.uuid.hex, False, result.detail))
            continue
        job = offering_backend_recovered(offering=offering)
        outcomes.append(ProbeOutcome(offering.uuid.hex, True, result.detail, job.uuid.hex if job else ""))
    release_parked_orders()
    return outcomes
