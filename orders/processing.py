"""Processing an executing order with its offering type's processor; the processing boundary and the
hand-off bookkeeping (DESIGN §7).

Processors report DONE/PENDING or raise; only this module turns that into order state. The broad
`except` below is the single one in the code base (STYLE.md 15).

The order row is the source of truth for the hand-off. A task for (order, attempt) first *claims* the
order with one conditional UPDATE: executing, the same attempt, and no live claim of that attempt. The
claim is a lease longer than any backend call, so two deliveries of one attempt never call the backend at
the same time, and the lease of a worker that died runs out. `processing_due_at` says when the reconciler
sends the order again if nothing finishes it first: set on entering executing, at the claim (lease end +
grace), and at a transient failure (the next try + grace); cleared once the attempt is handled (done,
erred, or pending on the provider, a callback or a person), which also makes a late duplicate a no-op.
Where processing calls nothing (ManualProcessor's types: a person or a site agent provisions), the
transition into executing hands the attempt over itself (services/base.py `handed_over_on_entry`) and no
task is sent; a task that still comes for one (the offering's backend was marked down then) makes the claim
and its release one UPDATE that leaves the row as the two would.
"""

from __future__ import annotations

import datetime
import logging
import traceback

from django.conf import settings
from django.db.models import F, IntegerField, Q, QuerySet
from django.utils import timezone

from core.logs import log_context
from core.statements import Param, Statement
from offerings.processors.base import BackendError, Outcome, TransientBackendError
from offerings.registry import get_offering_type
from orders import dispatch, selectors
from orders.exceptions import OrderError
from orders.models import Order
from orders.services import order_set_state_done, order_set_state_erred, recovery
from orders.services.base import record_event, record_processing
from orders.states import OrderState as S

logger = logging.getLogger(__name__)

__all__ = [
    "TransientBackendError",
    "claim_order",
    "give_up_order",
    "process_order",
    "record_retry",
    "resend_due_orders",
]

RETRY_EVENT = "processing_retry"


def lease() -> datetime.timedelta:
    return datetime.timedelta(seconds=settings.MARKETPLACE["PROCESSING_LEASE_SECONDS"])


def _attempt(order_id: int, attempt: int) -> QuerySet[Order]:
    return Order.objects.filter(pk=order_id, state=S.EXECUTING, attempt=attempt)


def _claimed(order_id: int, attempt: int) -> QuerySet[Order]:
    return _attempt(order_id, attempt).filter(processing_attempt=attempt)


def _free(attempt: int, now: datetime.datetime) -> Q:
    """No live claim of this attempt: none yet, one of an earlier attempt, or a lease that ran out of an
    attempt not handled yet."""
    return (
        Q(processing_attempt__isnull=True)
        | ~Q(processing_attempt=attempt)  # a claim left over from an earlier attempt
        | (
            Q(processing_due_at__isnull=False)
            & (Q(processing_lease_until__isnull=True) | Q(processing_lease_until__lte=now))
        )
    )


def claim_order(*, order_id: int, attempt: int) -> bool:
    """Claim the order for this attempt before calling its backend; False: another delivery holds it,
    the attempt was handled already, or the order moved on (a stale or duplicate message)."""
    now = timezone.now()
    until = now + lease()
    claimed = (
        _attempt(order_id, attempt)
        .filter(_free(attempt, now))
        .update(
            processing_attempt=attempt,
            processing_lease_until=until,
            processing_due_at=until + dispatch.reconcile_after(),
        )
    )
    return claimed == 1


_ORDER_AND_OFFERING = Statement(
    lambda: Order.objects.select_related("offering").filter(pk=Param("pk", IntegerField())), prepared=True
)


def process_order(*, order_id: int, attempt: int) -> str:
    """Run the processor once for a claimed attempt. Returns what happened; a transient failure within the
    bound propagates (TransientBackendError) for the task to retry, past the bound the order errs."""
    order = _ORDER_AND_OFFERING.first(pk=order_id)  # what decides the way
    if order is None:
        return "skipped"
    if _calls_nothing(order, attempt):
        with log_context(order_uuid=order.uuid):
            return _hand_over(order, attempt)
    if not claim_order(order_id=order_id, attempt=attempt):
        return "skipped"
    order = Order.objects.select_related("offering", "project", "resource", "plan").filter(pk=order_id).first()
    if order is None:  # the order as the claim left it, with what processors read
        return "skipped"
    with log_context(order_uuid=order.uuid):  # every log line of this processing names the order
        return _process_claimed(order, attempt)


def _calls_nothing(order: Order, attempt: int) -> bool:
    """The attempt's processing calls no backend: the type's processor is ManualProcessor's own (a person
    or a site agent provisions), the order is executing this attempt and its offering does not park work."""
    spec = get_offering_type(order.offering.type)
    return (
        spec is not None
        and spec.calls_nothing
        and order.state == S.EXECUTING
        and order.attempt == attempt
        and not recovery.parks_new_work(order.offering)
    )


def _hand_over(order: Order, attempt: int) -> str:
    """Processing that calls nothing, as claim → process → "pending" leaves the row, in one conditional
    UPDATE: no lease is needed while nothing is called, and a duplicate or stale message still finds the
    attempt handled (or gone) and does nothing."""
    offering_type = get_offering_type(order.offering.type)
    handled = (
        _attempt(order.pk, attempt)
        .filter(_free(attempt, timezone.now()))
        .update(processing_attempt=attempt, processing_lease_until=None, processing_due_at=None)
    )
    if not handled:
        return "skipped"
    result = offering_type.processor().process(order)
    record_processing(order, attempt=attempt, result=result, processor=offering_type.processor)
    recovery.offering_backend_answered(offering=order.offering)
    return "pending"


def _process_claimed(order: Order, attempt: int) -> str:
    order_id = order.pk
    offering_type = get_offering_type(order.offering.type)
    if offering_type is None:
        return _err(order_id, f"Unknown offering type {order.offering.type!r}: no processor.")
    if recovery.parks_new_work(order.offering):
        parked = _park(order, attempt)
        if parked is not None:
            return parked  # else the backend recovered in the meantime: process the order now
    try:
        result = offering_type.processor().process(order)
    except TransientBackendError as exc:
        retries = _count_transient_failure(order_id, attempt)
        if retries is None:
            return "skipped"
        if retries > settings.MARKETPLACE["PROCESSING_MAX_RETRIES"]:
            return give_up_order(order_id=order_id, attempt=attempt, error=str(exc))
        raise
    except BackendError as exc:
        return _err(order_id, str(exc), traceback.format_exc())
    except Exception as exc:  # the processing boundary: nothing leaves an order executing by accident
        logger.exception("processor of order %s (id %s) crashed", order.uuid.hex, order_id)
        return _err(order_id, f"{type(exc).__name__}: {exc}", traceback.format_exc())
    record_processing(order, attempt=attempt, result=result, processor=offering_type.processor)
    if result.outcome == Outcome.DONE:
        if not _claimed(order_id, attempt).exists():
            return "skipped"  # retried, canceled or finished by someone else meanwhile
        try:
            order_set_state_done(order=order_id, actor=None, backend_id=result.backend_id or None)
        except OrderError as exc:
            logger.info("order %s not marked done: %s", order_id, exc)
            return "skipped"
        recovery.offering_backend_answered(offering=order.offering)  # it answered: an outage is over
        return "done"
    # pending on the provider, a callback or a person: this attempt is handled, nothing to re-send
    _claimed(order_id, attempt).update(processing_due_at=None, processing_lease_until=None)
    recovery.offering_backend_answered(offering=order.offering)
    return "pending"


def _park(order: Order, attempt: int) -> str | None:
    """The offering's backend is down and recovers by itself: wait for it instead of burning retries.
    Automatic recovery makes the order due again when the backend's probe answers. Parked only while the
    offering is still unhealthy (checked in the same UPDATE): None when it recovered meanwhile."""
    parked = (
        _claimed(order.pk, attempt)
        .filter(offering__backend_healthy=False)
        .update(processing_attempt=None, processing_lease_until=None, processing_due_at=None)
    )
    if not parked:
        return None if _claimed(order.pk, attempt).exists() else "skipped"
    since = order.offering.backend_unhealthy_since
    record_event(
        order, kind="parked", actor=None, from_state=order.state,
        message="The offering's backend is unavailable"
        + (f" since {since.isoformat(timespec='seconds')}" if since else "")
        + "; processing resumes when it answers again.",
        payload={"attempt": attempt},
    )  # fmt: skip
    return "parked"


def _err(order_id: int, message: str, error_traceback: str = "") -> str:
    try:
        order_set_state_erred(order=order_id, actor=None, error_message=message, error_traceback=error_traceback)
    except OrderError as exc:
        logger.info("order %s not marked erred: %s", order_id, exc)
        return "skipped"
    return "erred"


def _count_transient_failure(order_id: int, attempt: int) -> int | None:
    """Count a transient failure in the row, so the bound holds across redeliveries; None: not ours now."""
    if not _claimed(order_id, attempt).update(processing_retries=F("processing_retries") + 1):
        return None
    return _claimed(order_id, attempt).values_list("processing_retries", flat=True).first()


def record_retry(*, order_id: int, attempt: int, reason: str, countdown: float) -> None:
    """A transient failure will be retried in `countdown` seconds: tell the order's history, release the
    claim for the retry, and make the order due for the reconciler only after the retry had its chance."""
    next_try = timezone.now() + datetime.timedelta(seconds=countdown)
    released = _claimed(order_id, attempt).update(
        processing_lease_until=None, processing_due_at=next_try + dispatch.reconcile_after()
    )
    if not released:
        return
    order = Order.objects.get(pk=order_id)
    max_retries = settings.MARKETPLACE["PROCESSING_MAX_RETRIES"]
    record_event(
        order,
        kind=RETRY_EVENT,
        actor=None,
        from_state=order.state,
        message=f"Transient failure, retry {order.processing_retries} of {max_retries} "
        f"at {next_try.isoformat(timespec='seconds')}: {reason}",
        payload={
            "attempt": attempt,
            "retry": order.processing_retries,
            "max_retries": max_retries,
            "reason": reason,
            "next_try_at": next_try.isoformat(),
        },
    )


def give_up_order(*, order_id: int, attempt: int, error: str) -> str:
    """Transient failures outlasted the retries: err the order, marked transient."""
    if not _attempt(order_id, attempt).exists():
        return "skipped"
    try:
        order = order_set_state_erred(order=order_id, actor=None, error_message=error, transient=True)
    except OrderError as exc:
        logger.info("order %s not marked erred: %s", order_id, exc)
        return "skipped"
    recovery.offering_backend_failed(offering_id=order.offering_id, error=error)
    return "erred"


def resend_due_orders(*, limit: int) -> list[int]:
    """The reconciler: send again the executing orders of automated types whose attempt no worker claimed
    or finished in time (a lost message, a broker outage, a killed worker). Each is pushed back by
    RECONCILE_AFTER first, so an overlapping run or a slow worker does not send it twice."""
    now = timezone.now()
    sent: list[int] = []
    for order_id, attempt in selectors.orders_due_for_reconcile(now=now, limit=limit):
        bumped = _attempt(order_id, attempt).filter(processing_due_at__lte=now)
        if bumped.update(processing_due_at=now + dispatch.reconcile_after()):
            dispatch.send_processing(order_id=order_id, attempt=attempt)
            sent.append(order_id)
    if sent:
        logger.info("reconciler re-sent %d executing order(s): %s", len(sent), sent)
    return sent
