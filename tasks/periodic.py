"""Periodic (beat) tasks."""

import logging

from celery import shared_task
from django.conf import settings

from core import deliveries, heartbeats, jobs
from orders import counts, dispatch, processing, selectors, services
from orders.exceptions import OrderError
from orders.services import recovery
from orders.services.stuck import orders_sweep_stuck
from tasks.callbacks import send_delivery

logger = logging.getLogger(__name__)


@shared_task(name="tasks.periodic.reconcile_executing_orders")
def reconcile_executing_orders() -> int:
    """Send again executing orders of automated types that no worker claimed for their attempt in time."""
    return len(processing.resend_due_orders(limit=settings.MARKETPLACE["RECONCILE_BATCH_SIZE"]))


@shared_task(name="tasks.periodic.release_pending_orders")
def release_pending_orders() -> dict[str, int]:
    """Move on orders whose project has started or whose start date has come."""
    pending_project, pending_start = selectors.orders_due_for_release()
    released = {"project": 0, "start_date": 0}
    for key, queryset, service in (
        ("project", pending_project, services.order_release_project),
        ("start_date", pending_start, services.order_release_start_date),
    ):
        for order_id in queryset.values_list("pk", flat=True):
            try:
                service(order=order_id, actor=None)
                released[key] += 1
            except OrderError as exc:  # raced with a person; the next sweep looks again
                logger.info("order %s not released: %s", order_id, exc)
    return released


@shared_task(name="tasks.periodic.redeliver_due_deliveries")
def redeliver_due_deliveries() -> int:
    """Send the callback deliveries whose next attempt is due, a bounded batch per run, oldest first.

    Each send claims its row, so a delivery queued twice (a slow worker, an overlapping run) is sent once.
    """
    due = deliveries.deliveries_due(limit=settings.MARKETPLACE["CALLBACK_SWEEP_BATCH"])
    for delivery_id in due:
        send_delivery.apply_async(args=[delivery_id])
    return len(due)


@shared_task(name="tasks.periodic.sweep_stuck_orders")
def sweep_stuck_orders() -> dict[str, int]:
    """Flag executing orders past their offering's stuck_after; err those of offerings that say so."""
    return orders_sweep_stuck().as_dict()


@shared_task(name="tasks.periodic.probe_unhealthy_backends")
def probe_unhealthy_backends() -> list[dict]:
    """Ask each unhealthy offering's backend whether it answers; recover the ones that do (one recovery job
    per outage, however many runs overlap) and release orders parked for offerings that no longer park."""
    return [vars(outcome) for outcome in recovery.probe_unhealthy_backends()]


@shared_task(name="tasks.periodic.resume_stalled_jobs")
def resume_stalled_jobs() -> int:
    """Hand out again jobs no worker advanced for a while (a killed worker, a lost message)."""
    stalled = jobs.jobs_stalled()
    for job_id in stalled:
        jobs.job_touch(job_id)
        dispatch.send_job(job_id=job_id)
    return len(stalled)


@shared_task(name="tasks.periodic.compact_order_counts", ignore_result=True)
def compact_order_counts() -> int:
    """Sum the order-count deltas the triggers appended into one row per group (orders/counts.py)."""
    return counts.compact_order_counts()


@shared_task(name=heartbeats.HEARTBEAT_TASK, ignore_result=True)
def heartbeat() -> None:
    """Beat sends this every HEARTBEAT_INTERVAL_SECONDS; a worker running it is the readiness check's proof
    that workers consume the queue (core/heartbeats.py)."""
    heartbeats.heartbeat_record(heartbeats.WORKER)
