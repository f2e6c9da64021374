"""Staff admin for outbound deliveries (callbacks): read-only, with every attempt inline."""

from __future__ import annotations

import uuid

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from core.admin_base import ReadOnlyAdmin, ReadOnlyTabularInline
from core.models import Delivery, DeliveryAttempt


def deliveries_link(subject_uuid: uuid.UUID) -> str:
    """A link to the deliveries about one subject, with their count (an order's admin page shows it)."""
    count = Delivery.objects.filter(subject_uuid=subject_uuid).count()
    url = reverse("admin:core_delivery_changelist") + f"?q={subject_uuid.hex}"
    return format_html('<a href="{}">{} {}</a>', url, count, "delivery" if count == 1 else "deliveries")


class DeliveryAttemptInline(ReadOnlyTabularInline):
    model = DeliveryAttempt
    fields = ("number", "started_at", "duration_ms", "status_code", "error", "response_excerpt")
    readonly_fields = fields
    ordering = ("number",)


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = (
        "created", "topic", "subject_type", "subject_hex", "url", "state", "attempts", "last_status",
        "next_attempt_at", "delivered_at",
    )  # fmt: skip
    list_filter = ("state", "topic", "subject_type", "created")
    search_fields = ("url", "last_error")
    uuid_search_fields = ("subject_uuid", "uuid")
    date_hierarchy = "created"
    fields = (
        "uuid_hex", "topic", "subject_type", "subject_hex", "url", "payload", "state", "attempts", "max_attempts",
        "next_attempt_at", "delivered_at", "last_status", "last_error", "created", "modified",
    )  # fmt: skip
    readonly_fields = fields
    inlines = (DeliveryAttemptInline,)

    @admin.display(description="subject", ordering="subject_uuid")
    def subject_hex(self, obj: Delivery) -> str:
        return obj.subject_uuid.hex
