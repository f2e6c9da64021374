"""Seeding the seven roles and their default grants; used by the data migration and by test set-up
(transactional tests flush migrated data)."""

from __future__ import annotations

from permissions.constants import DEFAULT_GRANTS, RoleName


def seed_default_roles(role_model=None, grant_model=None) -> None:
    """Create missing roles and grants; existing ones (and staff edits) are left alone."""
    if role_model is None or grant_model is None:
        from permissions.models import Role, RolePermission

        role_model, grant_model = Role, RolePermission
    for name in RoleName:
        role, created = role_model.objects.get_or_create(name=name.value, defaults={"description": name.label})
        if created:
            grant_model.objects.bulk_create([grant_model(role=role, permission=str(p)) for p in DEFAULT_GRANTS[name]])
