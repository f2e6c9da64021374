"""API-level tests of /api/marketplace-orders/ and the resource endpoints, and helpers they share."""

from __future__ import annotations

import uuid as uuidlib

from django.core.files.base import ContentFile

from orders.models import Order, OrderEvent, Resource
from orders.states import OrderType, ResourceState
from tests.factories import OrderFactory, ResourceFactory

ROOT = "http://testserver/api/"
ORDERS = "/api/marketplace-orders/"
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"

# The users of the `world` fixture, in the column order of the permission tables.
USERS = (
    "staff", "support", "stranger", "consumer_owner", "customer_support", "project_admin",
    "project_manager", "project_member", "provider_owner", "service_manager", "offering_manager", "other_owner",
)  # fmt: skip


def order_url(order: Order, action: str | None = None, *, spelling: str = "hex") -> str:
    """`/api/marketplace-orders/<uuid>/[<action>/]` with the uuid as hex, dashed or upper-case hex."""
    key = {"hex": order.uuid.hex, "dashed": str(order.uuid), "upper": order.uuid.hex.upper()}[spelling]
    return f"{ORDERS}{key}/" + (f"{action}/" if action else "")


def offering_link(offering) -> str:
    return f"{ROOT}marketplace-public-offerings/{offering.uuid.hex}/"


def project_link(project) -> str:
    return f"{ROOT}projects/{project.uuid.hex}/"


def plan_link(plan) -> str:
    return f"{ROOT}marketplace-public-offerings/{plan.offering.uuid.hex}/plans/{plan.uuid.hex}/"


def create_body(world, kind: str = "slurm", *, project=None, **extra) -> dict:
    """A valid POST /api/marketplace-orders/ body for `world.<kind>` in the world's consumer project."""
    offering = world.offering(kind)
    body = {
        "offering": offering_link(offering),
        "project": project_link(project or world.project),
        "plan": plan_link(world.plans[kind]),
        "attributes": {"name": f"alloc-{uuidlib.uuid4().hex[:6]}"},
        "limits": {"cpu": 10},
    }
    return {**body, **extra}


def make_order(world, state: str = "pending-consumer", kind: str = "slurm", *, project=None, **kwargs) -> Order:
    """An order of `world.<kind>` (or kwargs["offering"]) in the world's consumer project, in `state`."""
    kwargs.setdefault("offering", world.offering(kind))
    kwargs.setdefault("plan", world.plans.get(kind))
    return OrderFactory(state=state, project=project or world.project, **kwargs)


def with_attachment(order: Order) -> Order:
    order.attachment.save("po.pdf", ContentFile(PDF), save=True)
    return order


def ok_resource(world, kind: str = "slurm", *, project=None, **kwargs) -> Resource:
    """A provisioned resource (state OK, limits cpu=5) of `world.<kind>` in the consumer project."""
    kwargs.setdefault("offering", world.offering(kind))
    kwargs.setdefault("plan", world.plans.get(kind))
    kwargs.setdefault("limits", {"cpu": 5})
    return ResourceFactory(state=ResourceState.OK, project=project or world.project, **kwargs)


def snapshot() -> tuple[int, int, int]:
    """How many orders, resources and order events exist: a refused request changes none of them."""
    return Order.objects.count(), Resource.objects.count(), OrderEvent.objects.count()


def bulk_orders(world, count: int, *, kind: str = "slurm", project=None, state: str = "pending-provider") -> list:
    """`count` Create orders (each with its resource) inserted in two statements, for list-size tests."""
    project = project or world.project
    offering, plan = world.offering(kind), world.plans[kind]
    resources = Resource.objects.bulk_create(
        [
            Resource(name=f"bulk-{i}", slug=f"bulk-{i}", project=project, offering=offering, plan=plan)
            for i in range(count)
        ]
    )
    return Order.objects.bulk_create(
        [
            Order(
                type=OrderType.CREATE, state=state, project=project, offering=offering, plan=plan,
                resource=resource, limits={"cpu": i}, attributes={"name": resource.name}, slug=f"bulk-{i}",
                created_by=world.user("project_member"),
            )
            for i, resource in enumerate(resources)
        ]
    )  # fmt: skip


def listed_uuids(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [row["uuid"] for row in response.json()]
