"""Rows the kernel owns: the TimeStamped base, and outbound deliveries (callbacks) with every attempt.

Deliveries are written in the same transaction as the change that causes them (STYLE.md 24); a task
sends one by id, and a periodic sweep sends what is due, so a lost task message delays a delivery but
never loses it.
"""

import uuid

from django.db import models
from django.utils import timezone


class TimeStamped(models.Model):
    created = models.DateTimeField(default=timezone.now, editable=False, db_index=True)
    modified = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class Delivery(TimeStamped):
    """One JSON POST that must reach a receiver (e.g. an order's callback_url), retried until it does."""

    class States(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed (gave up)"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    topic = models.CharField(max_length=50, help_text="What happened, e.g. order.state_changed.")
    subject_type = models.CharField(max_length=30, help_text="The kind of object it is about, e.g. order.")
    subject_uuid = models.UUIDField(db_index=True)
    url = models.URLField(max_length=500)
    payload = models.JSONField(default=dict)
    state = models.CharField(max_length=20, choices=States.choices, default=States.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField(default=8)
    next_attempt_at = models.DateTimeField(null=True, blank=True, default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_status = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created", "-id"]
        verbose_name_plural = "deliveries"
        indexes = [models.Index(fields=["state", "next_attempt_at"])]  # the redelivery sweep

    def __str__(self) -> str:
        return f"{self.topic} → {self.url} ({self.state})"


class DeliveryAttempt(models.Model):
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_rows")
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField(default=timezone.now)
    duration_ms = models.PositiveIntegerField(default=0)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    response_excerpt = models.TextField(blank=True)

    class Meta:
        ordering = ["delivery", "number"]

    def __str__(self) -> str:
        return f"attempt {self.number}: {self.status_code or self.error}"
