"""Seed the seven roles and their default grants (DESIGN §3). Staff edit them in the admin afterwards."""

from django.db import migrations

from permissions.constants import RoleName
from permissions.defaults import seed_default_roles


def seed(apps, schema_editor):
    seed_default_roles(apps.get_model("permissions", "Role"), apps.get_model("permissions", "RolePermission"))


def unseed(apps, schema_editor):
    apps.get_model("permissions", "Role").objects.filter(name__in=[r.value for r in RoleName]).delete()


class Migration(migrations.Migration):
    dependencies = [("permissions", "0001_initial")]
    operations = [migrations.RunPython(seed, unseed)]
