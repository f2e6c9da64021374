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


class Job(TimeStamped):
    """Long work on a selection (a bulk resubmit, an automatic recovery): its state, progress and report.

    The selection is snapshotted as JobItem rows when the job is created, so the run applies exactly the
    previewed set; a Celery task works through the pending items in chunks, so a restarted worker resumes
    where the last one stopped (DESIGN §7, STYLE.md 23).
    """

    class States(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        PAUSED = "paused", "Paused"
        DONE = "done", "Done"
        CANCELED = "canceled", "Canceled"
        FAILED = "failed", "Failed"

    ACTIVE_STATES = (States.QUEUED, States.RUNNING)
    FINAL_STATES = (States.DONE, States.CANCELED, States.FAILED)

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=50, help_text="What the job does, e.g. bulk_retry.")
    state = models.CharField(max_length=20, choices=States.choices, default=States.QUEUED, db_index=True)
    created_by = models.ForeignKey(
        "auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="Empty for jobs the system starts (automatic recovery).",
    )  # fmt: skip
    reason = models.TextField(blank=True)
    params = models.JSONField(default=dict, blank=True, help_text="The selection and options it was started with.")
    idempotency_key = models.CharField(max_length=255, blank=True)
    request_fingerprint = models.CharField(max_length=64, blank=True)
    rate_per_second = models.FloatField(null=True, blank=True, help_text="At most this many items per second.")
    total = models.PositiveIntegerField(default=0)
    processed = models.PositiveIntegerField(default=0)
    succeeded = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    summary = models.JSONField(default=dict, blank=True, help_text="Counts by offering and by error group.")
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="Last time a worker made progress.")
    runner = models.CharField(
        max_length=32, blank=True, editable=False,
        help_text="The run that owns the job now; a run superseded (resume, stalled sweep) stops at its next chunk.",
    )  # fmt: skip
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["created_by", "kind", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="core_job_idempotency_key",
            )
        ]
        indexes = [models.Index(fields=["state", "heartbeat_at"])]  # the sweep that resumes stalled jobs

    def __str__(self) -> str:
        return f"{self.kind} {self.uuid.hex[:8]} ({self.state}, {self.processed}/{self.total})"

    @property
    def progress(self) -> float:
        return 1.0 if not self.total else self.processed / self.total


class JobItem(models.Model):
    """One object of a job's selection and what happened to it."""

    class Outcomes(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Succeeded"
        SKIPPED = "skipped", "Skipped"

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="items")
    subject_id = models.BigIntegerField(help_text="Primary key of the object (e.g. the order).")
    subject_uuid = models.UUIDField()
    group = models.CharField(max_length=64, blank=True, help_text="Rate-cap group, e.g. the offering uuid.")
    version = models.PositiveIntegerField(
        null=True, blank=True, help_text="The subject's version when selected (an order's attempt): changed → skip."
    )
    outcome = models.CharField(max_length=20, choices=Outcomes.choices, default=Outcomes.PENDING)
    reason = models.CharField(max_length=50, blank=True, help_text="Coded reason of a skip.")
    detail = models.TextField(blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["job", "id"]
        indexes = [models.Index(fields=["job", "outcome", "id"])]  # the next chunk of pending items

    def __str__(self) -> str:
        return f"{self.subject_uuid.hex}: {self.outcome}{' (' + self.reason + ')' if self.reason else ''}"


class Heartbeat(models.Model):
    """When a background component last showed it is alive (readiness, ops/health.py): "beat" when it
    publishes the heartbeat task, "worker" when a worker runs it or starts (core/heartbeats.py)."""

    name = models.CharField(max_length=50, unique=True)
    seen_at = models.DateTimeField()
    hostname = models.CharField(max_length=255, blank=True)

    def __str__(self) -> str:
        return f"{self.name} seen {self.seen_at.isoformat(timespec='seconds')}"
