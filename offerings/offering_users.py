"""Offering users: a person's account on one offering's backend (the username the provider's site agent
creates and syncs). Waldur's `marketplace-offering-users`; the agent reads them every cycle."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import models, transaction

from core.models import TimeStamped
from offerings.exceptions import OfferingActionNotPermitted
from permissions.models import UserProfile
from permissions.policies import can_manage_offering


class OfferingUser(TimeStamped):
    class States(models.TextChoices):
        # Waldur's OfferingUserState strings, exactly: the clients parse them as an enum
        REQUESTED = "Requested"
        CREATING = "Creating"
        OK = "OK"
        PENDING_ACCOUNT_LINKING = "Pending account linking"
        PENDING_ADDITIONAL_VALIDATION = "Pending additional validation"
        REQUESTED_DELETION = "Requested deletion"
        DELETING = "Deleting"
        DELETED = "Deleted"
        ERROR_CREATING = "Error creating"
        ERROR_DELETING = "Error deleting"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    offering = models.ForeignKey("offerings.Offering", on_delete=models.CASCADE, related_name="offering_users")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="offering_accounts")
    username = models.CharField(max_length=100, blank=True, help_text="The account name on the provider's side.")
    state = models.CharField(max_length=40, choices=States.choices, default=States.REQUESTED)
    is_restricted = models.BooleanField(default=False, help_text="Restricted accounts are left out of syncs.")

    class Meta:
        ordering = ["offering_id", "user_id"]
        constraints = [models.UniqueConstraint(fields=["offering", "user"], name="unique_offering_user")]

    def __str__(self) -> str:
        return f"{self.offering} / {self.username or self.user}"


def offering_user_create(*, actor: Any, offering: Any, user: Any, username: str = "") -> OfferingUser:
    """The provider registers a person's account on the offering (OK with a username, else Requested)."""
    if not can_manage_offering(actor, offering):
        raise OfferingActionNotPermitted()
    with transaction.atomic():
        UserProfile.objects.get_or_create(user=user)  # users are named by their profile uuid on the wire
        account, created = OfferingUser.objects.select_for_update().get_or_create(offering=offering, user=user)
        account.username = username or account.username
        account.state = OfferingUser.States.OK if account.username else OfferingUser.States.REQUESTED
        account.save()
    return account


def offering_user_delete(*, actor: Any, account: OfferingUser) -> None:
    """The provider removes the account record (the backend account is the provider's business)."""
    if not can_manage_offering(actor, account.offering):
        raise OfferingActionNotPermitted()
    account.delete()
