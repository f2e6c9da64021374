"""Processing an executing order with its offering type's processor; the processing boundary.

Processors report DONE/PENDING or raise; only this module turns that into order state. The broad
`except` below is the single one in the code base (STYLE.md 15).
"""

from __future__ import annotations

import logging
import traceback

from offerings.processors.base import BackendError, Outcome, TransientBackendError
from offerings.registry import get_offering_type
from orders.models import Order
from orders.services import order_set_state_done, order_set_state_erred
from orders.services.base import record_event
from orders.states import OrderState as S

logger = logging.getLogger(__name__)

__all__ = ["TransientBackendError", "process_order", "give_up_order"]


def _current(order_id: int, attempt: int) -> Order | None:
    order = Order.objects.select_related("offering", "project", "resource", "plan").filter(pk=order_id).first()
    if order is None or order.state != S.EXECUTING or order.attempt != attempt:
        return None  # deleted, finished, or retried since: this message is stale
    return order


def process_order(*, order_id: int, attempt: int) -> str:
    """Run the processor once. Returns what happened; TransientBackendError propagates to the task."""
    order = _current(order_id, attempt)
    if order is None:
        return "skipped"
    offering_type = get_offering_type(order.offering.type)
    if offering_type is None:
        order_set_state_erred(
            order=order,
            actor=None,
            error_message=f"Unknown offering type {order.offering.type!r}: no processor.",
        )
        return "erred"
    try:
        result = offering_type.processor().process(order)
    except TransientBackendError:
        raise
    except BackendError as exc:
        order_set_state_erred(order=order, actor=None, error_message=str(exc), error_traceback=traceback.format_exc())
        return "erred"
    except Exception as exc:  # the processing boundary: nothing leaves an order executing by accident
        logger.exception("processor of order %s crashed", order.uuid.hex)
        order_set_state_erred(
            order=order,
            actor=None,
            error_message=f"{type(exc).__name__}: {exc}",
            error_traceback=traceback.format_exc(),
        )
        return "erred"
    record_event(
        order, kind="processing", actor=None, from_state=order.state, message=result.message,
        payload={"attempt": attempt, "outcome": str(result.outcome), "processor": offering_type.processor.__name__},
    )  # fmt: skip
    if result.outcome == Outcome.DONE and _current(order_id, attempt) is not None:
        order_set_state_done(order=order_id, actor=None, backend_id=result.backend_id or None)
        return "done"
    return "pending"


def give_up_order(*, order_id: int, attempt: int, error: str) -> str:
    """Transient failures outlasted the task's retries: err the order, marked transient."""
    if _current(order_id, attempt) is None:
        return "skipped"
    order_set_state_erred(order=order_id, actor=None, error_message=error, transient=True)
    return "erred"
