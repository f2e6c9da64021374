"""Domain errors. marketplace/exception_handler.py maps them to HTTP answers; the admin shows the text."""

from __future__ import annotations

from collections.abc import Iterable


class OrderError(Exception):
    status_code = 400
    default_message = "The request cannot be carried out."

    def __init__(self, message: str | None = None, *, field_errors: dict | None = None) -> None:
        self.message = message or self.default_message
        self.field_errors = field_errors
        super().__init__(self.message)


class ActionNotPermitted(OrderError):
    """The caller may see the object but not do this to it (403)."""

    status_code = 403
    default_message = "You do not have permission to perform this action."


class OfferingTypeNotSupported(OrderError):
    """The order's offering type does not support the action (405)."""

    status_code = 405

    def __init__(self, offering_type: str, action: str) -> None:
        super().__init__(f"Offerings of type {offering_type} do not support the action '{action}'.")


class OrderStateConflict(OrderError):
    """The order is not in a state the action starts from (409)."""

    status_code = 409

    def __init__(self, action: str, current: str, valid: Iterable[str], *, reason: str = "") -> None:
        self.valid_states = sorted(valid)
        why = f"The {reason}." if reason else f"Valid states for operation: {', '.join(self.valid_states)}."
        super().__init__(f"Cannot {action.replace('_', ' ')} an order in state {current}. {why}")


class ResourceStateConflict(OrderError):
    status_code = 409


class OrderValidationError(OrderError):
    """Bad input to a service (400), with field-level messages where known."""

    status_code = 400
