"""Celery task that POSTs order state changes to callback URLs, retried with backoff."""

from celery import shared_task
from django.conf import settings

from orders import callbacks


@shared_task(
    name="tasks.callbacks.send_order_callback",
    bind=True,
    acks_late=True,
    autoretry_for=(callbacks.CallbackFailed,),
    retry_backoff=5,
    retry_backoff_max=600,
    max_retries=6,
)
def send_order_callback(self, order_id: int, state: str) -> str:
    base_url = settings.MARKETPLACE.get("PUBLIC_URL", "")
    return callbacks.send_order_callback(
        order_id=order_id, state=state, attempt=self.request.retries + 1, base_url=base_url
    )
