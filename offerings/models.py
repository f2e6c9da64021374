"""The catalogue: providers, categories, offerings with components, and plans with prices."""

import uuid

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models

from core.models import TimeStamped
from offerings.registry import get_offering_type
from permissions.models import Customer, Project


class ServiceProvider(TimeStamped):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    customer = models.OneToOneField(Customer, on_delete=models.CASCADE, related_name="service_provider")
    description = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"provider {self.customer}"


class Category(TimeStamped):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    title = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    icon = models.URLField(blank=True)

    class Meta:
        ordering = ["title", "id"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.title


class Offering(TimeStamped):
    class States(models.TextChoices):
        DRAFT = "Draft"
        ACTIVE = "Active"
        PAUSED = "Paused"
        ARCHIVED = "Archived"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="offerings", help_text="The provider organisation."
    )
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="offerings")
    name = models.CharField(max_length=150)
    slug = models.SlugField(max_length=150, blank=True)
    description = models.TextField(blank=True)
    type = models.CharField(max_length=100, help_text="Offering type, e.g. Marketplace.Basic.")
    state = models.CharField(max_length=20, choices=States.choices, default=States.ACTIVE)
    shared = models.BooleanField(default=True, help_text="Accessible to all customers.")
    billable = models.BooleanField(default=True, help_text="Purchase and usage is invoiced.")
    project = models.ForeignKey(
        Project, null=True, blank=True, on_delete=models.SET_NULL, related_name="private_offerings",
        help_text="A private offering may be bound to one project.",
    )  # fmt: skip
    plugin_options = models.JSONField(default=dict, blank=True)
    backend_id = models.CharField(max_length=255, blank=True)
    # Backend health (automatic recovery, DESIGN §7): a transient failure marks it unhealthy; the type's probe
    # marks it healthy again, and then the orders that erred transiently during the outage are resubmitted.
    backend_healthy = models.BooleanField(default=True, editable=False)
    backend_unhealthy_since = models.DateTimeField(null=True, blank=True, editable=False)
    backend_checked_at = models.DateTimeField(null=True, blank=True, editable=False)
    backend_last_error = models.TextField(blank=True, editable=False)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """Plugin options must be an object whose declared options (by the type) have the declared types."""
        if not isinstance(self.plugin_options, dict):
            raise ValidationError({"plugin_options": "Plugin options must be a JSON object."})
        spec = get_offering_type(self.type)
        errors = spec.option_errors(self.plugin_options) if spec else {}
        if errors:
            raise ValidationError({"plugin_options": [f"{name}: {error}." for name, error in sorted(errors.items())]})

    @property
    def is_private(self) -> bool:
        return not self.shared


class OfferingComponent(models.Model):
    class BillingTypes(models.TextChoices):
        FIXED = "fixed"
        USAGE = "usage"
        LIMIT = "limit"
        ONE = "one"
        FEW = "few"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    offering = models.ForeignKey(Offering, on_delete=models.CASCADE, related_name="components")
    type = models.CharField(max_length=50, help_text="Internal name, e.g. cpu.")
    name = models.CharField(max_length=150)
    description = models.CharField(max_length=255, blank=True)
    measured_unit = models.CharField(max_length=30, blank=True)
    billing_type = models.CharField(max_length=10, choices=BillingTypes.choices, default=BillingTypes.LIMIT)
    unit_factor = models.PositiveIntegerField(default=1)
    limit_amount = models.PositiveIntegerField(null=True, blank=True)
    min_value = models.PositiveIntegerField(null=True, blank=True)
    max_value = models.PositiveIntegerField(null=True, blank=True)
    default_limit = models.PositiveIntegerField(null=True, blank=True)
    article_code = models.CharField(max_length=30, blank=True)

    class Meta:
        ordering = ["offering_id", "type"]
        constraints = [models.UniqueConstraint(fields=["offering", "type"], name="unique_component_type")]

    def __str__(self) -> str:
        return f"{self.offering} / {self.type}"

    def clean(self) -> None:
        if self.min_value is not None and self.max_value is not None and self.min_value > self.max_value:
            raise ValidationError({"max_value": "Maximum must not be below the minimum."})


class Plan(TimeStamped):
    class Units(models.TextChoices):
        MONTH = "month"
        QUARTER = "quarter"
        HALF_MONTH = "half_month"
        DAY = "day"
        HOUR = "hour"
        QUANTITY = "quantity"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    offering = models.ForeignKey(Offering, on_delete=models.CASCADE, related_name="plans")
    name = models.CharField(max_length=150)
    description = models.TextField(blank=True)
    article_code = models.CharField(max_length=30, blank=True)
    unit = models.CharField(max_length=20, choices=Units.choices, default=Units.MONTH)
    unit_price = models.DecimalField(max_digits=22, decimal_places=7, default=0, validators=[MinValueValidator(0)])
    init_price = models.DecimalField(max_digits=22, decimal_places=7, default=0, validators=[MinValueValidator(0)])
    switch_price = models.DecimalField(max_digits=22, decimal_places=7, default=0, validators=[MinValueValidator(0)])
    archived = models.BooleanField(default=False, help_text="Forbids creation of new resources.")
    max_amount = models.PositiveIntegerField(
        null=True, blank=True, help_text="How many resources may use this plan at once."
    )
    backend_id = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["offering_id", "name", "id"]

    def __str__(self) -> str:
        return f"{self.offering} / {self.name}"


class PlanComponent(models.Model):
    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="components")
    component = models.ForeignKey(OfferingComponent, on_delete=models.CASCADE, related_name="plan_components")
    amount = models.PositiveIntegerField(default=0)
    price = models.DecimalField(max_digits=22, decimal_places=10, default=0, validators=[MinValueValidator(0)])

    class Meta:
        constraints = [models.UniqueConstraint(fields=["plan", "component"], name="unique_plan_component")]

    def __str__(self) -> str:
        return f"{self.plan} / {self.component.type}"

    def clean(self) -> None:
        if self.plan_id and self.component_id and self.plan.offering_id != self.component.offering_id:
            raise ValidationError({"component": "The component belongs to another offering."})


from offerings.agent_models import AgentIdentity, AgentProcessor, AgentService  # noqa: E402
from offerings.offering_users import OfferingUser  # noqa: E402

__all__ = [
    "AgentIdentity", "AgentProcessor", "AgentService", "Category", "Offering", "OfferingComponent", "OfferingUser",
    "Plan", "PlanComponent", "ServiceProvider",
]  # fmt: skip
