"""Celery tasks that process orders. Thin: ids in, one call out."""

from celery import shared_task
from django.conf import settings

from orders import processing


def retry_delay(retries: int) -> float:
    """Exponential backoff for transient backend failures: base × 2^retries, capped."""
    options = settings.MARKETPLACE
    return min(options["PROCESSING_RETRY_BASE_SECONDS"] * 2**retries, options["PROCESSING_RETRY_MAX_SECONDS"])


@shared_task(name="tasks.processing.process_order", bind=True, acks_late=True, reject_on_worker_lost=True)
def process_order(self, order_id: int, attempt: int) -> str:
    """Process an executing order; transient backend failures are retried, then the order errs."""
    try:
        return processing.process_order(order_id=order_id, attempt=attempt)
    except processing.TransientBackendError as exc:
        if self.request.retries >= settings.MARKETPLACE["PROCESSING_MAX_RETRIES"]:
            return processing.give_up_order(order_id=order_id, attempt=attempt, error=str(exc))
        raise self.retry(exc=exc, countdown=retry_delay(self.request.retries), max_retries=None) from exc
