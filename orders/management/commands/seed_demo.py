"""`manage.py seed_demo`: idempotent demo data for the embedded mode, with an API token for each person.

`--json` prints one JSON object for scripts (DESIGN §9); otherwise a table for people.
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand
from django.db import transaction

from orders.management.commands._demo_data import STAFF_PASSWORD, USER_KEYS, Demo, seed
from orders.models import Order


class Command(BaseCommand):
    help = "Create demo organisations, people in every role (with API tokens), offerings and orders."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--json", action="store_true", help="Print one JSON object (users, tokens, uuids).")

    def handle(self, *args, **options) -> None:
        with transaction.atomic():
            demo = seed()
        if options["json"]:
            self.stdout.write(json.dumps(demo.as_json(), indent=2))
        else:
            self.print_table(demo)

    def print_table(self, demo: Demo) -> None:
        out = self.stdout
        if demo.created:
            out.write(self.style.SUCCESS(f"Demo data seeded ({demo.created} objects created)."))
        else:
            out.write("Demo data already present; nothing created.")
        orders = Order.objects.filter(project__customer=demo.scopes["customer"]).count()
        out.write(f"{len(demo.offerings)} offerings (basic, slurm, webhook), {orders} orders of Demo University.\n")
        rows = [(key, demo.role_of(key), demo.tokens[key]) for key in USER_KEYS]
        width_user = max(len(r[0]) for r in rows)
        width_role = max(len(r[1]) for r in rows)
        out.write(f"{'username':<{width_user}}  {'role':<{width_role}}  token")
        for username, role, token in rows:
            out.write(f"{username:<{width_user}}  {role:<{width_role}}  {token}")
        password = STAFF_PASSWORD if demo.staff_password_current else "(changed since it was seeded)"
        out.write(f"\nAdmin at /admin/: username staff, password {password}")
        out.write('API: send "Authorization: Token <token>" to /api/marketplace-orders/ on the server\'s address')
