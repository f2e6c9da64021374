"""Telling an order's callback_url about state changes (DESIGN §7): a delivery row per change.

The row is written in the transaction of the change; core.deliveries sends it (signed, retried with
backoff, every attempt stored). A failing receiver never affects the order or the request that changed it.
"""

from __future__ import annotations

from django.conf import settings

from core.deliveries import delivery_create
from core.models import Delivery
from orders import dispatch
from orders.models import Order

TOPIC_STATE_CHANGED = "order.state_changed"


def order_url(order: Order) -> str:
    return f"{settings.MARKETPLACE.get('PUBLIC_URL', '').rstrip('/')}/api/marketplace-orders/{order.uuid.hex}/"


def record_state_change_callback(order: Order) -> Delivery:
    """Write the delivery of the order's new state (inside the transaction) and send it after commit."""
    delivery = delivery_create(
        topic=TOPIC_STATE_CHANGED,
        subject_type="order",
        subject_uuid=order.uuid,
        url=order.callback_url,
        payload={"uuid": order.uuid.hex, "state": order.state, "url": order_url(order)},
    )
    dispatch.enqueue_delivery(delivery_id=delivery.pk)
    return delivery
