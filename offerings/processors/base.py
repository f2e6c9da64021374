"""The processor contract. Processors never change order state: they report, and orders/processing maps it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol


class Outcome(StrEnum):
    DONE = "done"  # provisioned: the order completes now
    PENDING = "pending"  # someone else (a person, an agent, a callback) completes it later


@dataclass(frozen=True)
class ProcessResult:
    outcome: Outcome
    backend_id: str = ""
    message: str = ""


class BackendError(Exception):
    """A permanent failure: the order errs and stays erred until someone retries it."""


class TransientBackendError(Exception):
    """The backend could not be reached or answered 5xx: worth trying again later."""


class Processor(Protocol):
    def process(self, order: Any) -> ProcessResult: ...


class ManualProcessor:
    """Nothing to call: a person or a site agent provisions and reports done/erred through the API."""

    def process(self, order: Any) -> ProcessResult:
        return ProcessResult(Outcome.PENDING, message="Waiting for the provider to report the result.")
