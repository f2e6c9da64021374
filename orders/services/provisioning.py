"""Provisioning outcomes reported by providers, site agents and the processing pipeline, and retry."""

from __future__ import annotations

from typing import Any

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


def order_retry(*, order: Order | int, actor: Any) -> Order:
    """Retry an erred order (seed 000): clear its error, attempt + 1, resubmit to processing."""
    return run_transition(order, action="retry", actor=actor, fire=lambda o: o.retry())
