"""Celery tasks that process orders. Thin: ids in, one call out."""

from celery import shared_task

from orders import processing


@shared_task(
    name="tasks.processing.process_order",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=5,
)
def process_order(self, order_id: int, attempt: int) -> str:
    """Process an executing order; transient backend failures retry with exponential backoff."""
    try:
        return processing.process_order(order_id=order_id, attempt=attempt)
    except processing.TransientBackendError as exc:
        if self.request.retries >= self.max_retries:
            return processing.give_up_order(order_id=order_id, attempt=attempt, error=str(exc))
        raise self.retry(exc=exc, countdown=min(2**self.request.retries * 5, 300)) from exc
