"""The stuck-order sweep (DESIGN §7): executing orders that outstayed their offering's stuck_after.

Each is flagged once (stuck_since, an OrderEvent saying how long and what it waited for) and, where the
offering errs stuck orders (by default: automated types), moved to erred marked transient so it can be
retried or resubmitted. One order per short transaction, under its row lock, its state checked again.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from offerings.registry import get_offering_type
from offerings.types.spec import format_duration
from orders import selectors
from orders.exceptions import OrderError
from orders.models import Order
from orders.services.base import record_event
from orders.services.provisioning import order_set_state_erred
from orders.states import OrderState as S

logger = logging.getLogger(__name__)

DEFAULT_BATCH = 200


@dataclass
class StuckSweepReport:
    flagged: int = 0  # flagged stuck and left executing (a person or an agent still has to act)
    erred: int = 0  # flagged stuck and moved to erred, transient
    skipped: int = 0  # finished, retried, claimed by a worker or otherwise no longer stuck meanwhile

    def as_dict(self) -> dict[str, int]:
        return {"flagged": self.flagged, "erred": self.erred, "skipped": self.skipped}


def order_mark_stuck(*, order: Order | int, now: datetime.datetime | None = None) -> str:
    """Flag one order stuck if it still is; err it (transient) where its offering says so.

    Returns "flagged", "erred" or "skipped" (no longer executing, already flagged, not yet past its
    stuck_after, being processed by a worker right now, or of an unknown type).
    """
    now = now or timezone.now()
    pk = order if isinstance(order, int) else order.pk
    with transaction.atomic():
        locked = Order.objects.select_for_update(of=("self",)).select_related("offering").filter(pk=pk).first()
        if locked is None or locked.state != S.EXECUTING or locked.stuck_since is not None:
            return "skipped"
        spec = get_offering_type(locked.offering.type)
        if spec is None or locked.state_entered_at is None:
            return "skipped"
        stuck_after = spec.stuck_after_for(locked.offering)
        waited = now - locked.state_entered_at
        if waited < stuck_after or (locked.processing_lease_until and locked.processing_lease_until > now):
            return "skipped"
        locked.stuck_since = now
        locked.save(update_fields=["stuck_since", "modified"])
        erring = spec.err_when_stuck_for(locked.offering)
        record_event(
            locked, kind="stuck", actor=None, from_state=locked.state,
            message=(
                f"Executing for {format_duration(waited)} with no result from {spec.waits_for} "
                f"(stuck after {format_duration(stuck_after)})"
                + ("; moved to erred so it can be retried." if erring else "; left executing.")
            ),
            payload={
                "attempt": locked.attempt, "waited_seconds": int(waited.total_seconds()),
                "stuck_after_seconds": int(stuck_after.total_seconds()), "erred": erring,
            },
        )  # fmt: skip
        if not erring:
            return "flagged"
        order_set_state_erred(
            order=locked,
            actor=None,
            error_message=f"No result from {spec.waits_for} after {format_duration(waited)}; "
            "retry or resubmit the order.",
            transient=True,
        )
        return "erred"


def orders_sweep_stuck(*, now: datetime.datetime | None = None, limit: int | None = None) -> StuckSweepReport:
    """Flag (and where configured err) the executing orders past their stuck_after, a bounded batch."""
    now = now or timezone.now()
    limit = limit or int(settings.MARKETPLACE.get("STUCK_SWEEP_BATCH", DEFAULT_BATCH))
    report = StuckSweepReport()
    for order_id in selectors.orders_possibly_stuck(now=now, limit=limit):
        try:
            outcome = order_mark_stuck(order=order_id, now=now)
        except OrderError as exc:  # raced with a person or the worker; the next sweep looks again
            logger.info("order %s not marked stuck: %s", order_id, exc)
            outcome = "skipped"
        setattr(report, outcome, getattr(report, outcome) + 1)
    return report
