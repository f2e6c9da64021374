"""Structured logs: the context a log record carries (request id, order uuid, Celery task id) and the JSON
formatter used when LOG_FORMAT=json (README "Monitoring").

The context lives in context variables, set around a request (core/request_id.py), around the processing
of an order (`log_context(order_uuid=...)`) and read from Celery's current task, so a log line written
anywhere below (the outbound HTTP client, a service, Django's own request logger) carries it without being
passed along. `ContextFilter` sits on the handler and copies the context into each record it formats; a
value given explicitly (`extra={"order_uuid": ...}`) wins.

A task published while a request is handled carries that request's id in a message header
(`propagate_request_id`, connected in marketplace/celery.py), so a worker's lines about the order a
request created can be found by the request id too.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Iterator

from celery import current_task
from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

REQUEST_ID_HEADER = "request_id"  # the Celery message header carrying the publishing request's id

_CONTEXT: dict[str, contextvars.ContextVar[str]] = {
    "request_id": contextvars.ContextVar("request_id", default=""),
    "order_uuid": contextvars.ContextVar("order_uuid", default=""),
}


@contextlib.contextmanager
def log_context(**values: object) -> Iterator[None]:
    """Log records written inside carry these values (request_id, order_uuid); uuids are written as hex."""
    tokens = [(_CONTEXT[name], _CONTEXT[name].set(_text(value))) for name, value in values.items()]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def bind(**values: object) -> None:
    """Set context values with no end (a request's id: Django logs a 4xx after the middleware returned;
    core/request_id.py clears it when the request has finished)."""
    for name, value in values.items():
        _CONTEXT[name].set(_text(value))


def current(name: str) -> str:
    return _CONTEXT[name].get()


def _text(value: object) -> str:
    return getattr(value, "hex", None) or str(value or "")


def _task_context() -> dict[str, str]:
    task = current_task
    request = getattr(task, "request", None) if task else None
    task_id = getattr(request, "id", None)
    if not task_id:
        return {}
    found = {"task_id": task_id, "task_name": task.name}
    # a worker makes message headers request attributes; an eager apply(headers=...) keeps them apart
    request_id = getattr(request, REQUEST_ID_HEADER, None) or (getattr(request, "headers", None) or {}).get(
        REQUEST_ID_HEADER
    )
    if request_id:
        found["request_id"] = str(request_id)
    return found


class ContextFilter(logging.Filter):
    """Adds request_id, order_uuid, task_id and task_name to a record when known (never overwrites)."""

    def filter(self, record: logging.LogRecord) -> bool:
        values = _task_context()
        for name, var in _CONTEXT.items():
            if var.get():
                values[name] = var.get()
        for name, value in values.items():
            if not getattr(record, name, None):
                setattr(record, name, value)
        if getattr(record, "order_uuid", None):
            record.order_uuid = _text(record.order_uuid)
        return True


class JsonFormatter(_JsonFormatter):
    """One JSON object per line: time, level, logger, message, the context keys present and any `extra`."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("fmt", "%(asctime)s %(levelname)s %(name)s %(message)s")
        kwargs.setdefault("rename_fields", {"asctime": "time", "levelname": "level", "name": "logger"})
        kwargs.setdefault("datefmt", "%Y-%m-%dT%H:%M:%S%z")
        super().__init__(*args, **kwargs)


def propagate_request_id(headers: dict | None = None, **_: object) -> None:
    """before_task_publish: a task published while a request is handled carries its request id."""
    request_id = current("request_id")
    if request_id and headers is not None:
        headers.setdefault(REQUEST_ID_HEADER, request_id)
