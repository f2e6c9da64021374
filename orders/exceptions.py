"""Domain errors of orders. They subclass core's DomainError, which carries the HTTP status and code."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from core.errors import Conflict, DomainError, InvalidInput, NotFound, NotPermitted


class OrderError(DomainError):
    """Any refusal of an order action."""


class OrderNotFound(OrderError, NotFound):
    """The order is gone (deleted or unlinked by a concurrent request) or not visible (404)."""

    default_message = "No Order matches the given query."


class ResourceNotFound(OrderError, NotFound):
    """The resource is gone (its never-provisioned Create order was deleted meanwhile) or not visible (404)."""

    default_message = "No Resource matches the given query."


class ActionNotPermitted(OrderError, NotPermitted):
    """The caller may see the object but not do this to it (403)."""


class OfferingTypeNotSupported(OrderError):
    """The order's offering type does not support the action (405)."""

    status_code = 405
    code = "type_not_supported"

    def __init__(self, offering_type: str, action: str) -> None:
        super().__init__(f"Offerings of type {offering_type} do not support the action '{action}'.")


class OrderStateConflict(OrderError, Conflict):
    """The order is not in a state the action starts from (409)."""

    code = "invalid_state"

    def __init__(self, action: str, current: str, valid: Iterable[str], *, reason: str = "") -> None:
        self.valid_states = sorted(valid)
        why = f"The {reason}." if reason else f"Valid states for operation: {', '.join(self.valid_states)}."
        super().__init__(f"Cannot {action.replace('_', ' ')} an order in state {current}. {why}")

    def extra(self) -> dict[str, Any]:
        return {"valid_states": self.valid_states}


class OrderChanged(OrderError, Conflict):
    """The order changed since it was selected for a bulk action (409): it is left alone."""

    code = "changed"


class ResourceStateConflict(OrderError, Conflict):
    code = "invalid_resource_state"


class OrderValidationError(OrderError, InvalidInput):
    """Bad input to a service (400), with field-level messages where known."""
