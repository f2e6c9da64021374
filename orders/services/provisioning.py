"""Provisioning outcomes reported by providers, site agents and the processing pipeline, and retry."""

from __future__ import annotations

from typing import Any

from orders.exceptions import OrderChanged
from orders.models import Order
from orders.services.base import run_transition


def order_set_state_executing(*, order: Order | int, actor: Any) -> Order:
    """A provider or site agent takes the order into provisioning."""
    return run_transition(order, action="set_state_executing", actor=actor, fire=lambda o: o.set_state_executing())


def order_set_state_done(*, order: Order | int, actor: Any, backend_id: str | None = None) -> Order:
    """Provisioning finished: the order is done and its resource follows (OK / Terminated)."""

    def fire(o: Order) -> None:
        if backend_id:
            o.resource.backend_id = backend_id
            o.resource.save(update_fields=["backend_id", "modified"])
        o.set_state_done()

    return run_transition(order, action="set_state_done", actor=actor, fire=fire)


def order_set_state_erred(
    *,
    order: Order | int,
    actor: Any,
    error_message: str = "",
    error_traceback: str = "",
    transient: bool = False,
) -> Order:
    """Provisioning failed; the error is kept on the order (and the resource) until a retry."""
    return run_transition(
        order,
        action="set_state_erred",
        actor=actor,
        fire=lambda o: o.set_state_erred(message=error_message, traceback=error_traceback, transient=transient),
        message=error_message,
        payload={"transient": transient} if transient else None,
    )


def order_retry(
    *,
    order: Order | int,
    actor: Any,
    reason: str = "",
    expected_attempt: int | None = None,
    job_uuid: str = "",
    automatic: bool = False,
) -> Order:
    """Retry an erred order (seed 000): clear its error, attempt + 1, resubmit to processing.

    The error is cleared on the order but kept in the retry's event: what failed stays on record. A bulk
    run passes the attempt it selected (`expected_attempt`): an order retried by someone else meanwhile is
    refused (OrderChanged) rather than retried twice; `reason` and `job_uuid` go into the event.
    """
    evidence: dict[str, Any] = {}

    def fire(o: Order) -> None:
        if expected_attempt is not None and o.attempt != expected_attempt:
            raise OrderChanged(f"The order is at attempt {o.attempt}, not {expected_attempt} as when it was selected.")
        evidence.update(
            previous_attempt=o.attempt,
            error_message=o.error_message,
            error_traceback=o.error_traceback,
            error_is_transient=o.error_is_transient,
        )
        if reason:
            evidence["reason"] = reason
        if job_uuid:
            evidence["job"] = job_uuid
        if automatic:
            evidence["automatic"] = True
            o.auto_resubmits += 1
        o.retry()

    return run_transition(order, action="retry", actor=actor, fire=fire, message=reason, payload=evidence)
