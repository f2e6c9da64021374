"""The one error base of the domain (STYLE.md 6): every app's domain errors subclass DomainError.

A DomainError carries its HTTP status and a stable machine-readable code; core/exception_handler.py maps
it to a JSON answer, the admin shows its message, tasks log it. Views never catch it for flow.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    status_code = 400
    code = "invalid"
    default_message = "The request cannot be carried out."

    def __init__(self, message: str | None = None, *, field_errors: dict | None = None) -> None:
        self.message = message or self.default_message
        self.field_errors = field_errors
        super().__init__(self.message)

    def body(self) -> dict[str, Any]:
        """The JSON answer: field messages (if any), the detail, the code and what subclasses add."""
        body: dict[str, Any] = {**(self.field_errors or {}), "detail": self.message, "code": self.code}
        body.update(self.extra())
        return body

    def extra(self) -> dict[str, Any]:
        return {}


class NotFound(DomainError):
    """The object does not exist or the caller may not see it (404); also a row deleted under a lock."""

    status_code = 404
    code = "not_found"
    default_message = "Not found."


class NotPermitted(DomainError):
    """The caller may see the object but not do this to it (403)."""

    status_code = 403
    code = "permission_denied"
    default_message = "You do not have permission to perform this action."


class Conflict(DomainError):
    status_code = 409
    code = "conflict"


class InvalidInput(DomainError):
    """Bad input to a service (400), with field-level messages where known."""

    status_code = 400
    code = "invalid"
