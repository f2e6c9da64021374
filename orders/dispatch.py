"""The one place that hands work to Celery: by task name, after the surrounding transaction commits.

The domain never imports tasks/ (DESIGN §2); tests check every name here is a registered task.
"""

from __future__ import annotations

import datetime

from celery import current_app
from django.conf import settings
from django.db import transaction

PROCESS_ORDER = "tasks.processing.process_order"
SEND_ORDER_CALLBACK = "tasks.callbacks.send_order_callback"
TASK_NAMES = (PROCESS_ORDER, SEND_ORDER_CALLBACK)


def reconcile_after() -> datetime.timedelta:
    """How long an executing order may wait for a worker to claim it before the reconciler re-sends it."""
    return datetime.timedelta(seconds=settings.MARKETPLACE["RECONCILE_AFTER_SECONDS"])


def _send(name: str, *args) -> None:
    app = current_app
    app.loader.import_default_modules()  # registers CELERY_IMPORTS in web processes too (idempotent)
    app.tasks[name].apply_async(args=args)  # honours task_always_eager in the embedded mode


def enqueue_processing(*, order_id: int, attempt: int) -> None:
    """Process the order once the current transaction has committed."""
    transaction.on_commit(lambda: _send(PROCESS_ORDER, order_id, attempt))


def enqueue_callback(*, order_id: int, state: str) -> None:
    """Tell the order's callback_url about its new state once committed."""
    transaction.on_commit(lambda: _send(SEND_ORDER_CALLBACK, order_id, state))
