"""`manage.py seed_demo`: the demo world, its JSON summary for scripts (DESIGN §9), and idempotency."""

from __future__ import annotations

import io
import json
import re

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from rest_framework.authtoken.models import Token

from offerings.models import Offering, OfferingComponent, Plan
from orders.models import Order, OrderEvent, Resource
from permissions.constants import Permission as P
from permissions.models import Customer, Project, UserRole
from permissions.roles import grants_of

USER_KEYS = {
    "staff", "consumer_owner", "project_admin", "project_manager", "project_member", "provider_owner",
    "service_manager", "offering_manager", "other_owner",
}  # fmt: skip
TOP_KEYS = {
    "users", "customer_uuid", "other_customer_uuid", "provider_customer_uuid", "project_uuid",
    "other_project_uuid", "offerings",
}  # fmt: skip
HEX32 = re.compile(r"^[0-9a-f]{32}$")


def seed_json() -> dict:
    out = io.StringIO()
    call_command("seed_demo", "--json", stdout=out)
    return json.loads(out.getvalue())  # fails unless stdout is exactly one JSON document


def counts() -> dict[str, int]:
    models = (User, Token, UserRole, Customer, Project, Offering, OfferingComponent, Plan, Order, OrderEvent)
    return {m.__name__: m.objects.count() for m in (*models, Resource)}


@pytest.mark.django_db
def test_json_output_has_exactly_the_documented_keys_and_hex_uuids():
    data = seed_json()

    assert set(data) == TOP_KEYS
    assert set(data["users"]) == USER_KEYS
    assert all(set(entry) == {"username", "token"} for entry in data["users"].values())
    assert set(data["offerings"]) == {"basic", "slurm", "webhook"}
    assert all(set(entry) == {"uuid", "plan_uuid", "type"} for entry in data["offerings"].values())
    uuids = [data[key] for key in TOP_KEYS - {"users", "offerings"}]
    uuids += [value for entry in data["offerings"].values() for value in (entry["uuid"], entry["plan_uuid"])]
    assert all(HEX32.match(value) for value in uuids), uuids


@pytest.mark.django_db
def test_every_printed_token_authenticates_its_user():
    data = seed_json()

    for key, entry in data["users"].items():
        token = Token.objects.select_related("user").get(key=entry["token"])
        assert token.user.username == entry["username"] == key


@pytest.mark.django_db
def test_uuids_point_at_the_consumer_provider_and_projects():
    data = seed_json()

    customer = Customer.objects.get(uuid=data["customer_uuid"])
    other_customer = Customer.objects.get(uuid=data["other_customer_uuid"])
    provider = Customer.objects.get(uuid=data["provider_customer_uuid"])
    assert customer.name == "Demo University"
    assert len({customer.pk, other_customer.pk, provider.pk}) == 3
    assert provider.service_provider is not None
    assert Project.objects.get(uuid=data["project_uuid"]).customer == customer
    assert Project.objects.get(uuid=data["other_project_uuid"]).customer == other_customer


@pytest.mark.django_db
def test_offerings_have_their_types_active_plans_and_limit_billed_components():
    data = seed_json()
    provider = Customer.objects.get(uuid=data["provider_customer_uuid"])
    expected = {"basic": "Marketplace.Basic", "slurm": "Marketplace.Slurm", "webhook": "Marketplace.Webhook"}

    for key, entry in data["offerings"].items():
        offering = Offering.objects.get(uuid=entry["uuid"])
        plan = Plan.objects.get(uuid=entry["plan_uuid"])
        assert entry["type"] == offering.type == expected[key]
        assert offering.customer == provider and offering.state == Offering.States.ACTIVE
        assert plan.offering == offering and not plan.archived
        components = {c.type: c for c in offering.components.all()}
        assert set(components) == {"cpu", "mem"}
        assert {c.billing_type for c in components.values()} == {"limit"}
        assert (components["cpu"].measured_unit, components["mem"].measured_unit) == ("k-Hours", "GB")
        assert {pc.component.type for pc in plan.components.all()} == {"cpu", "mem"}
        assert all(pc.price > 0 for pc in plan.components.all())


@pytest.mark.django_db
def test_webhook_offering_points_at_a_dead_local_port_and_has_a_secret():
    data = seed_json()

    options = Offering.objects.get(uuid=data["offerings"]["webhook"]["uuid"]).plugin_options
    assert options["webhook_url"] == "http://127.0.0.1:9/"
    assert len(options["webhook_secret"]) >= 16


@pytest.mark.django_db
def test_seeding_twice_creates_nothing_and_prints_the_same_tokens():
    first = seed_json()
    before = counts()
    webhook_options = Offering.objects.get(uuid=first["offerings"]["webhook"]["uuid"]).plugin_options

    second = seed_json()

    assert second == first
    assert counts() == before
    assert Offering.objects.get(uuid=first["offerings"]["webhook"]["uuid"]).plugin_options == webhook_options


@pytest.mark.django_db
def test_each_person_holds_their_role():
    data = seed_json()
    users = {key: User.objects.get(username=entry["username"]) for key, entry in data["users"].items()}
    project = Project.objects.get(uuid=data["project_uuid"])
    slurm = Offering.objects.get(uuid=data["offerings"]["slurm"]["uuid"])
    expected = {
        "consumer_owner": ("CUSTOMER.OWNER", Customer.objects.get(uuid=data["customer_uuid"])),
        "project_admin": ("PROJECT.ADMIN", project),
        "project_manager": ("PROJECT.MANAGER", project),
        "project_member": ("PROJECT.MEMBER", project),
        "provider_owner": ("CUSTOMER.OWNER", Customer.objects.get(uuid=data["provider_customer_uuid"])),
        "service_manager": ("CUSTOMER.MANAGER", Customer.objects.get(uuid=data["provider_customer_uuid"])),
        "offering_manager": ("OFFERING.MANAGER", slurm),
        "other_owner": ("CUSTOMER.OWNER", Customer.objects.get(uuid=data["other_customer_uuid"])),
    }

    for key, (role, scope) in expected.items():
        (user_role,) = UserRole.objects.filter(user=users[key])
        assert (user_role.role.name, user_role.scope) == (role, scope), key
    assert users["staff"].is_staff and users["staff"].is_superuser
    assert users["staff"].check_password("demo-staff")
    assert not UserRole.objects.filter(user=users["staff"]).exists()
    assert grants_of(users["offering_manager"]).has(P.ORDER_APPROVE, [("offering", slurm.pk)])
    assert not grants_of(users["project_member"]).has(P.ORDER_APPROVE, [("project", project.pk)])


@pytest.mark.django_db
def test_demo_orders_exist_in_several_states_each_with_its_events():
    data = seed_json()
    orders = Order.objects.filter(project__uuid=data["project_uuid"])

    states = set(orders.values_list("state", flat=True))
    assert {"pending-consumer", "pending-provider", "executing", "done", "erred", "rejected", "canceled"} <= states
    assert {o.offering.type for o in orders} == {"Marketplace.Basic", "Marketplace.Slurm", "Marketplace.Webhook"}
    assert all(o.events.filter(kind="create").exists() for o in orders)
    assert orders.get(state="erred").error_message
    assert Order.objects.filter(project__uuid=data["other_project_uuid"]).exists()


@pytest.mark.django_db
def test_no_demo_webhook_order_reaches_processing():
    data = seed_json()

    webhook_orders = Order.objects.filter(offering__uuid=data["offerings"]["webhook"]["uuid"])
    assert webhook_orders.exists()
    assert not webhook_orders.exclude(state__in=["pending-consumer", "pending-provider"]).exists()


@pytest.mark.django_db
def test_reseeding_leaves_the_orders_people_have_worked_on_alone():
    data = seed_json()
    Order.objects.exclude(state="done").delete()  # people cleaned up; one order of the demo project is left

    seed_json()

    assert list(Order.objects.filter(project__uuid=data["project_uuid"]).values_list("state", flat=True)) == ["done"]


@pytest.mark.django_db
def test_human_output_lists_every_user_with_token_and_the_admin_login():
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    text = out.getvalue()

    for token in Token.objects.select_related("user"):
        assert re.search(rf"^{token.user.username}\s+.+\s+{token.key}$", text, re.MULTILINE)
    assert "/admin/" in text and "password demo-staff" in text
    assert ":8000" not in text  # no address of its own: the server that serves it prints that (bin/serve)
