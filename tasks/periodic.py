"""Periodic (beat) tasks."""

import logging

from celery import shared_task

from orders import selectors, services
from orders.exceptions import OrderError

logger = logging.getLogger(__name__)


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
