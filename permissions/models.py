"""Who is who: organisations (customers), projects, users' roles on scopes and the roles' grants."""

import uuid

from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import models

from core.models import TimeStamped
from permissions.constants import ROLE_SCOPE, Permission, RoleName


class UserProfile(models.Model):
    """Marketplace flags of a user beyond Django's: support users read everything."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="marketplace_profile")
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    is_support = models.BooleanField(default=False, help_text="Reads everything, changes nothing.")
    civil_number = models.CharField(max_length=50, blank=True)
    organization = models.CharField(max_length=255, blank=True)

    def __str__(self) -> str:
        return f"profile of {self.user}"


class Customer(TimeStamped):
    """An organisation: consumes through its projects and/or provides offerings."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=150)
    slug = models.SlugField(max_length=150, blank=True)
    abbreviation = models.CharField(max_length=12, blank=True)
    blocked = models.BooleanField(default=False)
    archived = models.BooleanField(default=False)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class Project(TimeStamped):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="projects")
    name = models.CharField(max_length=150)
    slug = models.SlugField(max_length=150, blank=True)
    description = models.TextField(blank=True)
    start_date = models.DateField(null=True, blank=True, help_text="Orders wait until the project starts.")
    end_date = models.DateField(null=True, blank=True)
    is_removed = models.BooleanField(default=False)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return f"{self.customer} / {self.name}"

    def clean(self) -> None:
        if self.start_date and self.end_date and self.end_date < self.start_date:
            raise ValidationError({"end_date": "End date must not be before the start date."})


class Role(models.Model):
    name = models.CharField(max_length=50, unique=True, choices=RoleName.choices)
    description = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def scope_kind(self) -> str:
        return ROLE_SCOPE[self.name]


class RolePermission(models.Model):
    """One grant: the role holds the permission on its scope (and, via the chain, below it)."""

    role = models.ForeignKey(Role, on_delete=models.CASCADE, related_name="grants")
    permission = models.CharField(max_length=50, choices=Permission.choices)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["role", "permission"], name="unique_role_permission")]
        ordering = ["role__name", "permission"]

    def __str__(self) -> str:
        return f"{self.role} → {self.permission}"


class UserRole(TimeStamped):
    """A user's role on one scope: a customer, a project or an offering."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="marketplace_roles")
    role = models.ForeignKey(Role, on_delete=models.PROTECT, related_name="user_roles")
    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE)
    object_id = models.PositiveBigIntegerField()
    scope = GenericForeignKey("content_type", "object_id")
    expiration_time = models.DateTimeField(null=True, blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        indexes = [models.Index(fields=["content_type", "object_id"])]
        constraints = [
            models.UniqueConstraint(fields=["user", "role", "content_type", "object_id"], name="unique_user_role_scope")
        ]

    def __str__(self) -> str:
        return f"{self.user} is {self.role} of {self.scope}"

    def clean(self) -> None:
        if self.role_id and self.content_type_id and self.content_type.model != self.role.scope_kind:
            raise ValidationError(
                {"content_type": f"Role {self.role} is granted on a {self.role.scope_kind}, not a "
                 f"{self.content_type.model}."}
            )  # fmt: skip
