"""Celery tasks that process orders. Thin: ids in, one call out.

Transient backend failures are retried by Celery's autoretry with exponential backoff (settings
PROCESSING_RETRY_*); the bound is counted in the order row (orders/processing.py), so it also holds when
the reconciler sends an order again. ProcessingTask writes each retry into the order's history with the
countdown Celery chose.
"""

from celery import Task, shared_task
from django.conf import settings

from orders import processing

OPTIONS = settings.MARKETPLACE


class ProcessingTask(Task):
    def retry(self, args=None, kwargs=None, exc=None, throw=True, eta=None, countdown=None, **options):
        if self.request.is_eager:
            countdown = 0  # the embedded mode retries at once, inside the request
        names = ("order_id", "attempt")
        call = {**dict(zip(names, self.request.args or (), strict=False)), **(self.request.kwargs or {})}
        processing.record_retry(**call, reason=str(exc), countdown=countdown or 0)
        return super().retry(args, kwargs, exc, throw, eta, countdown, **options)


@shared_task(
    name="tasks.processing.process_order",
    base=ProcessingTask,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(processing.TransientBackendError,),
    retry_backoff=OPTIONS["PROCESSING_RETRY_BASE_SECONDS"],
    retry_backoff_max=OPTIONS["PROCESSING_RETRY_MAX_SECONDS"],
    retry_jitter=OPTIONS["PROCESSING_RETRY_JITTER"],
    max_retries=OPTIONS["PROCESSING_MAX_RETRIES"],  # the row's counter gives up first (see the docstring)
)
def process_order(order_id: int, attempt: int) -> str:
    """Process an executing order for this attempt; a duplicate or stale message does nothing."""
    return processing.process_order(order_id=order_id, attempt=attempt)
