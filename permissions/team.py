"""Who works in a project: its users with project roles (the provider's site agent adds them to accounts)."""

from __future__ import annotations

from django.contrib.contenttypes.models import ContentType
from django.db.models import Q, QuerySet
from django.utils import timezone

from permissions.models import Project, UserProfile, UserRole


def project_team(project: Project) -> QuerySet[UserRole]:
    """Active, unexpired project roles of the project, with their users and profiles."""
    ensure_profiles(project)
    return (
        UserRole.objects.filter(
            content_type=ContentType.objects.get_for_model(Project), object_id=project.pk, is_active=True
        )
        .filter(Q(expiration_time__isnull=True) | Q(expiration_time__gt=timezone.now()))
        .select_related("user", "user__marketplace_profile", "role")
        .order_by("user__username", "role__name")
    )


def ensure_profiles(project: Project) -> None:
    """Team members are identified by their profile uuid; create the profiles that are missing."""
    user_ids = UserRole.objects.filter(
        content_type=ContentType.objects.get_for_model(Project), object_id=project.pk
    ).values_list("user_id", flat=True)
    missing = set(user_ids) - set(UserProfile.objects.filter(user_id__in=user_ids).values_list("user_id", flat=True))
    UserProfile.objects.bulk_create([UserProfile(user_id=pk) for pk in missing], ignore_conflicts=True)
