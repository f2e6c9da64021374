"""The one place that hands work to Celery: by task name, after the surrounding transaction commits.

The domain never imports tasks/ (DESIGN §2); tests check every name here is a registered task.

Publishing is best-effort (DESIGN §7, STYLE 24): the order row is the source of truth, so a broker that is
down, hung or slow is logged and left to the reconciler (executing orders) or the redelivery sweep
(deliveries); it never fails or blocks the request that committed the change. In the embedded mode (eager
tasks) the task runs right here, and whatever it raises is logged, not raised into the request.
"""

from __future__ import annotations

import datetime
import functools
import logging
import threading
import time

from celery import current_app
from django.conf import settings
from django.db import connections, transaction
from kombu.exceptions import KombuError

from core import jobs

logger = logging.getLogger(__name__)

PROCESS_ORDER = "tasks.processing.process_order"
SEND_DELIVERY = "tasks.callbacks.send_delivery"
RUN_JOB = "tasks.jobs.run_job"
TASK_NAMES = (PROCESS_ORDER, SEND_DELIVERY, RUN_JOB)


def reconcile_after() -> datetime.timedelta:
    """How long an executing order may wait for a worker to claim it before the reconciler re-sends it."""
    return datetime.timedelta(seconds=settings.MARKETPLACE["RECONCILE_AFTER_SECONDS"])


def _send(name: str, *args) -> None:
    """Publish (or, eagerly, run) one task; never raises into the caller: failures are logged."""
    app = current_app
    _register_tasks(app)
    task = app.tasks[name]
    if app.conf.task_always_eager:
        result = task.apply(args=args, throw=False)  # retries run inline; nothing propagates
        if result.failed():
            logger.error("task %s%r failed in the embedded mode: %r\n%s", name, args, result.result, result.traceback)
        return
    try:
        task.apply_async(args=args, retry=True)  # bounded by CELERY_TASK_PUBLISH_RETRY_POLICY and socket timeouts
    except publish_errors(app.conf.broker_url) as exc:
        logger.warning("task %s%r not handed to the broker (%r); the periodic sweep sends it again", name, args, exc)


@functools.cache
def _register_tasks(app) -> None:
    """Import CELERY_IMPORTS in web processes too, once: Celery's Django fixup runs the system checks on
    every import_default_modules() call (≈ 40 ms), far too much to pay on each hand-off."""
    app.loader.import_default_modules()


@functools.cache
def publish_errors(broker_url: str) -> tuple[type[BaseException], ...]:
    """What publishing to this broker raises when the broker is unreachable, hung or refuses the message."""
    connection = current_app.connection_for_write(broker_url)
    try:
        return (KombuError, OSError, *connection.connection_errors, *connection.channel_errors)
    finally:
        connection.release()


def enqueue_processing(*, order_id: int, attempt: int) -> None:
    """Process the order once the current transaction has committed."""
    transaction.on_commit(lambda: _send(PROCESS_ORDER, order_id, attempt))


def send_processing(*, order_id: int, attempt: int) -> None:
    """Send the order for processing now (the reconciler: the row is already committed)."""
    _send(PROCESS_ORDER, order_id, attempt)


def enqueue_delivery(delivery_id: int) -> None:
    """Send a stored delivery (callback) once committed; the redelivery sweep catches a lost message."""
    transaction.on_commit(lambda: _send(SEND_DELIVERY, delivery_id))


def enqueue_job(*, job_id: int) -> None:
    """Run a job (bulk resubmit, recovery) once committed: in a worker, or in the embedded mode in a
    background thread of this process, so a large selection never runs inside the request."""
    transaction.on_commit(lambda: _send_job(job_id))


def send_job(*, job_id: int) -> None:
    """Hand a committed job to a worker now (resume, the stalled-job sweep)."""
    _send_job(job_id)


def _send_job(job_id: int) -> None:
    if not current_app.conf.task_always_eager:
        _send(RUN_JOB, job_id)
        return
    threading.Thread(target=_run_job_here, args=(job_id,), name=f"job-{job_id}", daemon=True).start()


def _run_job_here(job_id: int) -> None:
    """The embedded mode's worker for one job: chunk after chunk, pausing as the rate cap asks."""
    try:
        runner = jobs.job_claim_runner(job_id)
        while (wait := jobs.job_run_chunk(job_id, runner=runner)) is not None:  # as tasks.jobs.run_job does
            time.sleep(wait)
    except Exception as exc:  # noqa: BLE001 - a thread has no caller to tell; the job row says what happened
        logger.exception("job %s failed in the embedded mode", job_id)
        jobs.job_fail(job=job_id, error=f"{type(exc).__name__}: {exc}")
    finally:
        connections.close_all()
