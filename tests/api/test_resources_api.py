"""/api/marketplace-resources/ (the consumer's view; changes place orders) and
/api/marketplace-provider-resources/ (the provider's and site agent's view, clients.md §C.5)."""

from __future__ import annotations

import re

import pytest

from orders.models import Order, Resource
from tests import factories as f
from tests.api import ORDERS, listed_uuids, make_order, ok_resource, snapshot

RESOURCES = "/api/marketplace-resources/"
PROVIDER_RESOURCES = "/api/marketplace-provider-resources/"
HEX = re.compile(r"^[0-9a-f]{32}$")


def plan_url(plan) -> str:
    return f"http://testserver/api/marketplace-public-offerings/{plan.offering.uuid.hex}/plans/{plan.uuid.hex}/"


def act(api, user, resource, action: str, body: dict):
    return api.as_user(user).post(f"{RESOURCES}{resource.uuid.hex}/{action}/", body, format="json")


# --- the consumer's view ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "user, visible",
    [("consumer_owner", True), ("customer_support", True), ("project_admin", True), ("project_member", True),
     ("staff", True), ("support", True), ("provider_owner", False), ("service_manager", False),
     ("offering_manager", False), ("other_owner", False), ("stranger", False)],
)  # fmt: skip
def test_consumer_view_shows_resources_to_consumer_roles_only(world, api, user, visible):
    resource = ok_resource(world)
    api.as_user(world.user(user))

    listed = listed_uuids(api.get(RESOURCES))
    retrieved = api.get(f"{RESOURCES}{resource.uuid}/")

    assert (resource.uuid.hex in listed) is visible
    assert retrieved.status_code == (200 if visible else 404)


@pytest.mark.parametrize(
    "action, body, order_type, resource_state",
    [
        ("terminate", {}, "Terminate", "Terminating"),
        ("update_limits", {"limits": {"cpu": 8}}, "Update", "Updating"),
        ("switch_plan", "other-plan", "Update", "Updating"),
    ],
)
def test_resource_action_places_an_order_visible_in_the_orders_list(
    world, api, action, body, order_type, resource_state
):
    resource = ok_resource(world)
    if body == "other-plan":
        body = {"plan": plan_url(f.PlanFactory(offering=world.slurm, name="bigger"))}

    response = act(api, world.user("project_admin"), resource, action, body)

    assert response.status_code == 200, response.content
    assert set(response.json()) == {"order_uuid"} and HEX.match(response.json()["order_uuid"])
    order = api.get(f"{ORDERS}{response.json()['order_uuid']}/").json()
    assert (order["type"], order["marketplace_resource_uuid"]) == (order_type, resource.uuid.hex)
    assert order["uuid"] in listed_uuids(api.get(ORDERS, {"resource_uuid": resource.uuid.hex}))
    resource.refresh_from_db()
    assert resource.state == resource_state


def test_update_limits_order_carries_the_new_and_old_limits(world, api):
    resource = ok_resource(world)

    response = act(api, world.user("consumer_owner"), resource, "update_limits", {"limits": {"cpu": 8}})

    order = Order.objects.get(uuid=response.json()["order_uuid"])
    assert order.limits == {"cpu": 8} and order.attributes["old_limits"] == {"cpu": 5}


def test_switch_plan_order_names_old_and_new_plan(world, api):
    resource = ok_resource(world)
    bigger = f.PlanFactory(offering=world.slurm, name="bigger")

    response = act(api, world.user("consumer_owner"), resource, "switch_plan", {"plan": bigger.uuid.hex})

    order = Order.objects.get(uuid=response.json()["order_uuid"])
    assert (order.plan, order.old_plan) == (bigger, world.plans["slurm"])


@pytest.mark.parametrize("second", ["terminate", "update_limits"])
@pytest.mark.parametrize("resource_left_ok", [False, True])
def test_second_order_while_one_is_active_is_409(world, api, second, resource_left_ok):
    resource = ok_resource(world)
    first = act(api, world.user("consumer_owner"), resource, "update_limits", {"limits": {"cpu": 6}})
    if resource_left_ok:  # only the active order itself can then refuse the second one
        Resource.objects.filter(pk=resource.pk).update(state="OK")
    counts = snapshot()

    response = act(api, world.user("consumer_owner"), resource, second, {"limits": {"cpu": 7}})

    assert first.status_code == 200
    assert response.status_code == 409
    if resource_left_ok:
        assert "Pending order for resource already exists." in response.json()["detail"]
    assert snapshot() == counts


def test_order_on_a_resource_that_is_not_ok_is_409(world, api):
    resource = make_order(world, "executing").resource  # Creating
    counts = snapshot()

    response = act(api, world.user("consumer_owner"), resource, "terminate", {})

    assert response.status_code == 409
    assert snapshot() == counts


def test_update_limits_with_unchanged_limits_is_400(world, api):
    resource = ok_resource(world)
    counts = snapshot()

    response = act(api, world.user("consumer_owner"), resource, "update_limits", {"limits": {"cpu": 5}})

    assert response.status_code == 400
    assert "limits" in response.json()
    assert snapshot() == counts
    resource.refresh_from_db()
    assert resource.state == "OK"


@pytest.mark.parametrize("spelling", ["link", "uuid"])
def test_switch_plan_to_a_plan_of_another_offering_is_400(world, api, spelling):
    resource = ok_resource(world)
    foreign_plan = world.plans["basic"]
    counts = snapshot()

    value = plan_url(foreign_plan) if spelling == "link" else foreign_plan.uuid.hex
    response = act(api, world.user("consumer_owner"), resource, "switch_plan", {"plan": value})

    assert response.status_code == 400
    assert "plan" in response.json()
    assert snapshot() == counts


def test_switch_plan_to_the_current_plan_is_400(world, api):
    resource = ok_resource(world)

    response = act(api, world.user("consumer_owner"), resource, "switch_plan", {"plan": plan_url(resource.plan)})

    assert response.status_code == 400
    assert "plan" in response.json()


@pytest.mark.parametrize("path", [RESOURCES, PROVIDER_RESOURCES])
def test_resource_list_page_beyond_the_last_is_404(world, api, path):
    ok_resource(world)
    api.as_user(world.user("staff"))

    assert api.get(path, {"page": 1}).status_code == 200
    assert api.get(path, {"page": 2}).status_code == 404


# --- the provider's view ------------------------------------------------------------------------

C5_KEYS = ("uuid", "url", "name", "slug", "state", "backend_id", "limits", "attributes", "offering_uuid",
           "offering_plugin_options", "project_uuid", "project_slug", "project_name", "customer_uuid",
           "customer_slug", "customer_name", "plan_uuid", "created", "modified")  # fmt: skip


@pytest.mark.parametrize("spelling", ["hex", "dashed"])
def test_provider_view_has_the_fields_the_site_agent_reads(world, api, spelling):
    resource = make_order(world, "executing").resource
    key = resource.uuid.hex if spelling == "hex" else str(resource.uuid)

    response = api.as_user(world.user("offering_manager")).get(f"{PROVIDER_RESOURCES}{key}/")

    assert response.status_code == 200
    body = response.json()
    assert set(C5_KEYS) - {"plan_uuid"} <= set(body)
    assert body["uuid"] == resource.uuid.hex and body["backend_id"] == ""
    assert isinstance(body["offering_plugin_options"], dict) and isinstance(body["limits"], dict)
    assert body["url"] == f"http://testserver{PROVIDER_RESOURCES}{resource.uuid.hex}/"
    assert (body["project_uuid"], body["project_slug"], body["project_name"]) == (
        world.project.uuid.hex, "consumer-project", "Consumer project",
    )  # fmt: skip
    assert (body["customer_uuid"], body["customer_slug"], body["customer_name"]) == (
        world.customer.uuid.hex, "consumer-org", "Consumer Org",
    )  # fmt: skip
    for key in ("uuid", "offering_uuid", "project_uuid", "customer_uuid"):
        assert HEX.match(body[key]), key


def test_provider_view_omits_a_missing_plan_uuid_rather_than_sending_null(world, api):
    resource = ok_resource(world, plan=None)

    body = api.as_user(world.user("provider_owner")).get(f"{PROVIDER_RESOURCES}{resource.uuid.hex}/").json()

    assert body.get("plan_uuid") is None and body["plan"] is None


@pytest.mark.parametrize("user", ["consumer_owner", "project_admin", "project_member", "customer_support"])
def test_provider_view_is_404_for_consumer_only_users(world, api, user):
    resource = ok_resource(world)
    api.as_user(world.user(user))

    assert resource.uuid.hex not in listed_uuids(api.get(PROVIDER_RESOURCES))
    assert api.get(f"{PROVIDER_RESOURCES}{resource.uuid.hex}/").status_code == 404
    assert api.post(f"{PROVIDER_RESOURCES}{resource.uuid.hex}/set_backend_id/", {"backend_id": "x"}).status_code == 404


@pytest.mark.parametrize("spelling", ["hex", "dashed"])
def test_set_backend_id_and_set_limits_answer_200_with_a_status(world, api, spelling):
    resource = make_order(world, "executing").resource
    key = resource.uuid.hex if spelling == "hex" else str(resource.uuid)
    api.as_user(world.user("offering_manager"))

    backend = api.post(f"{PROVIDER_RESOURCES}{key}/set_backend_id/", {"backend_id": "acct-1"}, format="json")
    limits = api.post(f"{PROVIDER_RESOURCES}{key}/set_limits/", {"limits": {"cpu": 12}}, format="json")

    assert (backend.status_code, limits.status_code) == (200, 200)
    assert isinstance(backend.json()["status"], str) and isinstance(limits.json()["status"], str)
    resource.refresh_from_db()
    assert (resource.backend_id, resource.limits) == ("acct-1", {"cpu": 12})
    assert api.get(f"{PROVIDER_RESOURCES}{key}/").json()["backend_id"] == "acct-1"


@pytest.mark.parametrize(
    "limits",
    [{"cpu": -1}, {"cpu": "x"}, {"cpu": 1.5}, {"cpu": None}, "lots", ["cpu", 1], None],
    ids=["negative", "string", "float", "null", "not-an-object", "list", "null-limits"],
)
def test_set_limits_with_bad_limits_is_400_and_changes_nothing(world, api, limits):
    resource = ok_resource(world)

    response = api.as_user(world.user("provider_owner")).post(
        f"{PROVIDER_RESOURCES}{resource.uuid.hex}/set_limits/", {"limits": limits}, format="json"
    )

    assert response.status_code == 400
    assert "limits" in response.json()
    resource.refresh_from_db()
    assert resource.limits == {"cpu": 5}


def test_set_backend_id_without_backend_id_is_400(world, api):
    resource = ok_resource(world)

    response = api.as_user(world.user("provider_owner")).post(
        f"{PROVIDER_RESOURCES}{resource.uuid.hex}/set_backend_id/", {}, format="json"
    )

    assert response.status_code == 400
    assert "backend_id" in response.json()
    resource.refresh_from_db()
    assert resource.backend_id == ""
