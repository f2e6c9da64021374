"""Seed the seven roles and their default grants (DESIGN §3). Staff edit them in the admin afterwards."""

from django.db import migrations

from permissions.constants import DEFAULT_GRANTS, RoleName


def seed(apps, schema_editor):
    Role = apps.get_model("permissions", "Role")
    RolePermission = apps.get_model("permissions", "RolePermission")
    for name in RoleName:
        role, _ = Role.objects.get_or_create(name=name.value, defaults={"description": name.label})
        for permission in DEFAULT_GRANTS[name]:
            RolePermission.objects.get_or_create(role=role, permission=str(permission))


def unseed(apps, schema_editor):
    apps.get_model("permissions", "Role").objects.filter(name__in=[r.value for r in RoleName]).delete()


class Migration(migrations.Migration):
    dependencies = [("permissions", "0001_initial")]
    operations = [migrations.RunPython(seed, unseed)]
