"""Celery task that sends one stored delivery (a callback); retries are scheduled on the row."""

from celery import shared_task

from core import deliveries


@shared_task(name="tasks.callbacks.send_delivery", acks_late=True, reject_on_worker_lost=True)
def send_delivery(delivery_id: int) -> str:
    """One attempt at a due delivery; a failed one is retried by the redelivery sweep when due."""
    return deliveries.delivery_attempt(delivery_id)
