"""The demo world that `manage.py seed_demo` builds: people in every role, a provider with one offering of
each type, and a few orders in different states, placed through the order services like real ones.

Every object is looked up by a stable key before it is created, so seeding twice changes nothing.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
from django.db import models
from rest_framework.authtoken.models import Token

from offerings.models import Category, Offering, OfferingComponent, Plan, PlanComponent, ServiceProvider
from offerings.registry import BASIC, SLURM, WEBHOOK
from orders import services
from orders.models import Order
from permissions.models import Customer, Project, Role, UserRole
from permissions.roles import forget_grants

STAFF_PASSWORD = "demo-staff"
# Nothing listens on the discard port: approving the demo webhook order shows a fulfilment outage.
WEBHOOK_URL = "http://127.0.0.1:9/"

# key → (role, scope key in Demo.scopes); the key is also the username
ROLE_USERS: dict[str, tuple[str, str]] = {
    "consumer_owner": ("CUSTOMER.OWNER", "customer"),
    "project_admin": ("PROJECT.ADMIN", "project"),
    "project_manager": ("PROJECT.MANAGER", "project"),
    "project_member": ("PROJECT.MEMBER", "project"),
    "provider_owner": ("CUSTOMER.OWNER", "provider"),
    "service_manager": ("CUSTOMER.MANAGER", "provider"),
    "offering_manager": ("OFFERING.MANAGER", "slurm"),
    "other_owner": ("CUSTOMER.OWNER", "other_customer"),
}
USER_KEYS = ("staff", *ROLE_USERS)

OFFERINGS: dict[str, tuple[str, str, dict[str, Any]]] = {
    # key → (type, name, plugin_options)
    "basic": (BASIC, "Demo virtual machine", {}),
    "slurm": (SLURM, "Demo SLURM cluster", {}),
    "webhook": (WEBHOOK, "Demo object storage", {"webhook_url": WEBHOOK_URL, "webhook_timeout_seconds": 5}),
}
# (type, name, measured unit, max value, price per unit); limit-billed, which every client understands
COMPONENTS = (("cpu", "CPU", "k-Hours", 1000, "0.5"), ("mem", "Memory", "GB", 4096, "0.1"))
DEMO_LIMITS = {"cpu": 10, "mem": 32}


@dataclass
class Demo:
    scopes: dict[str, models.Model] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    offerings: dict[str, Offering] = field(default_factory=dict)
    plans: dict[str, Plan] = field(default_factory=dict)
    created: int = 0  # rows created by this run (orders count with their resources and events as one)
    staff_password_current: bool = True

    def get_or_create(self, model: type[models.Model], defaults: dict | None = None, **lookup: Any) -> Any:
        obj, created = model.objects.get_or_create(defaults=defaults or {}, **lookup)
        self.created += created
        return obj

    def role_of(self, key: str) -> str:
        if key == "staff":
            return "staff (superuser)"
        role, scope = ROLE_USERS[key]
        return f"{role} of {self.scopes[scope]}"

    def as_json(self) -> dict[str, Any]:
        """The machine-readable summary documented in DESIGN §9."""
        s = self.scopes
        return {
            "users": {key: {"username": self.users[key].username, "token": self.tokens[key]} for key in USER_KEYS},
            "customer_uuid": s["customer"].uuid.hex,
            "other_customer_uuid": s["other_customer"].uuid.hex,
            "provider_customer_uuid": s["provider"].uuid.hex,
            "project_uuid": s["project"].uuid.hex,
            "other_project_uuid": s["other_project"].uuid.hex,
            "offerings": {
                key: {"uuid": o.uuid.hex, "plan_uuid": self.plans[key].uuid.hex, "type": o.type}
                for key, o in self.offerings.items()
            },
        }


def seed(demo: Demo | None = None) -> Demo:
    """Build (or find) the whole demo world; call inside a transaction."""
    demo = demo or Demo()
    seed_organisations(demo)
    seed_catalogue(demo)
    seed_people(demo)
    if not Order.objects.filter(project=demo.scopes["project"]).exists():
        seed_orders(demo)
    return demo


def seed_organisations(demo: Demo) -> None:
    s = demo.scopes
    s["customer"] = demo.get_or_create(Customer, slug="demo-university", defaults={"name": "Demo University"})
    s["other_customer"] = demo.get_or_create(Customer, slug="other-institute", defaults={"name": "Other Institute"})
    s["provider"] = demo.get_or_create(Customer, slug="demo-hpc-centre", defaults={"name": "Demo HPC Centre"})
    s["project"] = demo.get_or_create(
        Project, customer=s["customer"], slug="demo-project",
        defaults={"name": "Demo project", "description": "Research project of Demo University."},
    )  # fmt: skip
    s["other_project"] = demo.get_or_create(
        Project, customer=s["other_customer"], slug="other-project", defaults={"name": "Other project"}
    )
    demo.get_or_create(
        ServiceProvider, customer=s["provider"], defaults={"description": "Computing and storage for research."}
    )


def seed_catalogue(demo: Demo) -> None:
    category = demo.get_or_create(Category, title="Computing", defaults={"description": "Demo offerings."})
    for key, (type_, name, options) in OFFERINGS.items():
        if type_ == WEBHOOK:
            options = {**options, "webhook_secret": secrets.token_urlsafe(32)}  # kept once created
        offering = demo.get_or_create(
            Offering, customer=demo.scopes["provider"], slug=f"demo-{key}",
            defaults={"name": name, "type": type_, "category": category, "plugin_options": options},
        )  # fmt: skip
        plan = demo.get_or_create(
            Plan, offering=offering, name="Standard", defaults={"unit": Plan.Units.MONTH, "unit_price": 10}
        )
        for type_key, label, unit, max_value, price in COMPONENTS:
            component = demo.get_or_create(
                OfferingComponent, offering=offering, type=type_key,
                defaults={
                    "name": label, "measured_unit": unit, "max_value": max_value,
                    "billing_type": OfferingComponent.BillingTypes.LIMIT,
                },
            )  # fmt: skip
            demo.get_or_create(PlanComponent, plan=plan, component=component, defaults={"price": price})
        demo.offerings[key], demo.plans[key] = offering, plan
        demo.scopes[key] = offering


def seed_people(demo: Demo) -> None:
    staff = demo.get_or_create(
        User, username="staff", defaults={"is_staff": True, "is_superuser": True, "email": "staff@example.org"}
    )
    if not staff.password:  # only on first seeding: a password changed since stays changed
        staff.set_password(STAFF_PASSWORD)
        staff.save(update_fields=["password"])
    else:
        demo.staff_password_current = staff.check_password(STAFF_PASSWORD)
    demo.users["staff"] = staff
    for key, (role_name, scope_key) in ROLE_USERS.items():
        user = demo.get_or_create(User, username=key, defaults={"email": f"{key}@example.org"})
        if not user.password:  # these people sign in with their tokens
            user.set_unusable_password()
            user.save(update_fields=["password"])
        scope = demo.scopes[scope_key]
        demo.get_or_create(
            UserRole, user=user, role=Role.objects.get(name=role_name),
            content_type=ContentType.objects.get_for_model(scope), object_id=scope.pk,
        )  # fmt: skip
        forget_grants(user)
        demo.users[key] = user
    for key, user in demo.users.items():
        demo.tokens[key] = demo.get_or_create(Token, user=user).key


def seed_orders(demo: Demo) -> None:
    """Orders in several states, each moved by the person who would move it. None reaches a webhook."""
    u, project = demo.users, demo.scopes["project"]

    def place(author: str, kind: str, name: str, on: Project = project) -> Order:
        demo.created += 1
        return services.order_create(
            actor=u[author], project=on, offering=demo.offerings[kind], plan=demo.plans[kind],
            limits=DEMO_LIMITS, attributes={"name": name},
        )  # fmt: skip

    # done: the provider owner provisioned a VM by hand
    done = place("consumer_owner", "basic", "analysis-vm")
    services.order_approve_by_provider(order=done, actor=u["provider_owner"])
    services.order_set_state_done(order=done, actor=u["provider_owner"], backend_id="vm-0001")
    # pending-provider: the owner now wants the VM gone (a Terminate order)
    demo.created += 1
    services.resource_terminate(actor=u["consumer_owner"], resource=Order.objects.get(pk=done.pk).resource)
    # executing: a project admin's allocation, approved by the owner and the offering manager; the site
    # agent has not reported yet
    executing = place("project_admin", "slurm", "climate-allocation")
    services.order_approve_by_consumer(order=executing, actor=u["consumer_owner"])
    services.order_approve_by_provider(order=executing, actor=u["offering_manager"])
    # erred: the site agent (acting as the offering manager) reported a failure; retry is possible
    erred = place("consumer_owner", "slurm", "gpu-allocation")
    services.order_approve_by_provider(order=erred, actor=u["offering_manager"])
    services.order_set_state_erred(
        order=erred, actor=u["offering_manager"], error_message="sacctmgr: account quota of the cluster exceeded"
    )
    # rejected by the provider's service manager
    rejected = place("project_manager", "basic", "big-vm")
    services.order_approve_by_consumer(order=rejected, actor=u["consumer_owner"])
    services.order_reject_by_provider(
        order=rejected, actor=u["service_manager"], comment="No capacity for this size; please order less."
    )
    # canceled by its author before the provider looked at it
    services.order_cancel(order=place("consumer_owner", "basic", "spare-vm"), actor=u["consumer_owner"])
    # pending-provider: waits for the provider
    place("consumer_owner", "basic", "web-vm")
    # pending-consumer: a member's order waits for an approver; approving it POSTs to the (dead) webhook
    place("project_member", "webhook", "dataset-bucket")
    # another organisation's order, invisible to Demo University's people
    place("other_owner", "basic", "other-vm", on=demo.scopes["other_project"])
