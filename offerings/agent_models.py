"""Site-agent bookkeeping: which agents run for an offering, their services and processors."""

import uuid

from django.conf import settings
from django.db import models

from core.models import TimeStamped


class AgentIdentity(TimeStamped):
    """One running waldur-site-agent installation for an offering (name unique per offering)."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    offering = models.ForeignKey("offerings.Offering", on_delete=models.CASCADE, related_name="agent_identities")
    name = models.CharField(max_length=255)
    version = models.CharField(max_length=50, blank=True)
    dependencies = models.JSONField(default=list, blank=True)
    config_file_path = models.CharField(max_length=500, blank=True)
    config_file_content = models.TextField(blank=True)
    last_restarted = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        ordering = ["offering_id", "name"]
        verbose_name_plural = "agent identities"
        constraints = [models.UniqueConstraint(fields=["offering", "name"], name="unique_agent_name_per_offering")]

    def __str__(self) -> str:
        return self.name


class AgentService(TimeStamped):
    class States(models.TextChoices):
        ACTIVE = "Active"
        IDLE = "Idle"
        ERROR = "Error"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    identity = models.ForeignKey(AgentIdentity, on_delete=models.CASCADE, related_name="services")
    name = models.CharField(max_length=255)
    mode = models.CharField(max_length=50, blank=True)
    state = models.CharField(max_length=10, choices=States.choices, default=States.ACTIVE)
    statistics = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["identity_id", "name"]
        constraints = [models.UniqueConstraint(fields=["identity", "name"], name="unique_agent_service_name")]

    def __str__(self) -> str:
        return f"{self.identity} / {self.name}"


class AgentProcessor(TimeStamped):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    service = models.ForeignKey(AgentService, on_delete=models.CASCADE, related_name="processors")
    name = models.CharField(max_length=255)
    backend_type = models.CharField(max_length=255)
    backend_version = models.CharField(max_length=100, blank=True)
    last_run = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["service_id", "name"]
        constraints = [models.UniqueConstraint(fields=["service", "name"], name="unique_agent_processor_name")]

    def __str__(self) -> str:
        return f"{self.service} / {self.name}"
