"""Shared fixtures: a marketplace world with a user in every role (DESIGN §3)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import pytest
from django.db import connection
from rest_framework.test import APIClient

from permissions.defaults import seed_default_roles
from tests import factories as f

ROLE_USERS = {
    # fixture key → (role, scope attribute of World)
    "consumer_owner": ("CUSTOMER.OWNER", "customer"),
    "customer_support": ("CUSTOMER.SUPPORT", "customer"),
    "project_admin": ("PROJECT.ADMIN", "project"),
    "project_manager": ("PROJECT.MANAGER", "project"),
    "project_member": ("PROJECT.MEMBER", "project"),
    "provider_owner": ("CUSTOMER.OWNER", "provider"),
    "service_manager": ("CUSTOMER.MANAGER", "provider"),
    "offering_manager": ("OFFERING.MANAGER", "slurm"),
    "other_owner": ("CUSTOMER.OWNER", "other_customer"),
}


DEAD_WEBHOOK_URL = "http://127.0.0.1:9/fulfil"  # the discard port: connections are refused


def pytest_configure(config) -> None:
    from django.conf import settings

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # test servers listen on 127.0.0.1; tests of the refusal turn this off themselves
    settings.MARKETPLACE["OUTBOUND_ALLOW_PRIVATE_TARGETS"] = True
    os.environ["OUTBOUND_ALLOW_PRIVATE_TARGETS"] = "true"  # servers and workers started by tests


@dataclass
class World:
    customer: object
    project: object
    other_customer: object
    other_project: object
    provider: object
    service_provider: object
    basic: object
    slurm: object
    webhook: object
    plans: dict = field(default_factory=dict)
    users: dict = field(default_factory=dict)

    def offering(self, kind: str):
        return getattr(self, kind)

    def user(self, key: str):
        return self.users[key]


def build_world() -> World:
    seed_default_roles()  # transactional tests flush what the data migration seeded
    customer = f.CustomerFactory(name="Consumer Org", slug="consumer-org")
    other_customer = f.CustomerFactory(name="Other Org", slug="other-org")
    provider = f.CustomerFactory(name="Provider Org", slug="provider-org")
    category = f.CategoryFactory(title="HPC")
    offerings = {}
    plans = {}
    for kind, type_, options in (
        ("basic", "Marketplace.Basic", {}),
        ("slurm", "Marketplace.Slurm", {}),
        # a webhook offering takes orders only with a webhook_url (its type's validate hook); nothing listens
        ("webhook", "Marketplace.Webhook", {"webhook_url": DEAD_WEBHOOK_URL}),
    ):
        offering = f.OfferingFactory(
            customer=provider, category=category, type=type_, name=kind, slug=kind, plugin_options=options
        )
        component = f.OfferingComponentFactory(offering=offering, type="cpu", name="CPU")
        plan = f.PlanFactory(offering=offering, name=f"{kind} plan")
        f.PlanComponentFactory(plan=plan, component=component, price=1)
        offerings[kind], plans[kind] = offering, plan
    world = World(
        customer=customer,
        project=f.ProjectFactory(customer=customer, name="Consumer project", slug="consumer-project"),
        other_customer=other_customer,
        other_project=f.ProjectFactory(customer=other_customer, name="Other project", slug="other-project"),
        provider=provider,
        service_provider=f.ServiceProviderFactory(customer=provider),
        plans=plans,
        **offerings,
    )
    world.users["staff"] = f.UserFactory(username="staff", is_staff=True)
    world.users["support"] = f.make_support(f.UserFactory(username="support"))
    world.users["stranger"] = f.UserFactory(username="stranger")
    for key, (role, scope) in ROLE_USERS.items():
        user = f.UserFactory(username=key.replace("_", "-"))
        f.grant_role(user, role, getattr(world, scope))
        world.users[key] = user
    return world


@pytest.fixture
def world(db) -> World:
    return build_world()


@pytest.fixture
def api():
    """An API client; `api.as_user(user)` authenticates with the user's token."""

    client = APIClient()

    def as_user(user):
        client.credentials(HTTP_AUTHORIZATION=f"Token {f.token_for(user)}") if user else client.credentials()
        return client

    client.as_user = as_user
    return client


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


requires_postgres = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")),
    reason="needs PostgreSQL (set DATABASE_URL=postgres://...): SQLite has no row locks",
)
