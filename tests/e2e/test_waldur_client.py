"""python-waldur-client (the REST client behind Waldur's Ansible modules), driven against a live server the
way the `waldur_marketplace` module and a provider playbook use it: names resolved with `name_exact`,
orders placed, approved on both sides, driven to done, resized, terminated, canceled and rejected."""

from __future__ import annotations

import pytest
from waldur_client import MultipleObjectsReturned, ObjectDoesNotExist, WaldurClient, WaldurClientException

from offerings.models import OfferingUser
from orders.models import Order, Resource
from tests.factories import OfferingFactory, ProjectFactory, grant_role, token_for

pytestmark = [pytest.mark.e2e]


@pytest.fixture
def waldur(live_server):
    """waldur(user) → a python-waldur-client WaldurClient speaking HTTP to the live server as `user`."""
    return lambda user: WaldurClient(f"{live_server.url}/api/", token_for(user))


@pytest.fixture
def scene(live_world):
    """The project admin also works in a second project and sees a second offering named like the first
    in another catalogue: names only resolve with `name_exact` and Waldur's `project_uuid`."""
    world = live_world
    second = ProjectFactory(customer=world.customer, name="Consumer project 2")
    grant_role(world.user("project_admin"), "PROJECT.ADMIN", second)
    # private to another organisation: visible to nobody here, and never orderable in the consumer project
    OfferingFactory(customer=world.other_customer, category=world.basic.category, name="basic", shared=False)
    # private, bound to the consumer project: orderable there although not shared
    bound = OfferingFactory(
        customer=world.provider, category=world.basic.category, type="Marketplace.Basic", name="bound-hpc",
        shared=False, project=world.project,
    )  # fmt: skip
    return world, bound


def state_of(order_uuid: str) -> str:
    return Order.objects.get(uuid=order_uuid).state


def test_ansible_module_resolves_project_and_offering_by_name_and_places_the_order(scene, waldur):
    world, bound = scene
    admin = waldur(world.user("project_admin"))

    assert admin._get_project("Consumer project")["uuid"] == world.project.uuid.hex  # not "Consumer project 2"
    assert admin._get_offering("basic", "Consumer project")["uuid"] == world.basic.uuid.hex
    assert admin._get_offering("bound-hpc", world.project.uuid.hex)["uuid"] == bound.uuid.hex
    with pytest.raises(ObjectDoesNotExist):  # bound to the consumer project: not orderable in the other one
        admin._get_offering("bound-hpc", "Consumer project 2")
    with pytest.raises(MultipleObjectsReturned):  # a plain `name` search stays a search
        admin._query_resource("projects", {"name": "Consumer project"})

    order = admin.create_marketplace_order(
        "Consumer project", "basic", plan=world.plans["basic"].uuid.hex, attributes={"name": "vm-1"},
        limits={"cpu": 2},
    )  # fmt: skip

    assert (order["state"], order["project_uuid"], order["offering_uuid"]) == (
        "pending-consumer", world.project.uuid.hex, world.basic.uuid.hex,
    )  # fmt: skip
    assert admin.get_order(order["uuid"])["limits"] == {"cpu": 2}


def test_order_is_approved_on_both_sides_driven_to_done_resized_and_terminated(scene, waldur):
    world, _ = scene
    admin, owner = waldur(world.user("project_admin")), waldur(world.user("consumer_owner"))
    provider = waldur(world.user("provider_owner"))

    def approve_and_finish(order_uuid: str) -> None:
        owner.marketplace_order_approve_by_consumer(order_uuid)
        assert state_of(order_uuid) == "pending-provider"
        pending = provider.marketplace_provider_offering_list_orders(
            world.basic.uuid.hex, {"state": "pending-provider"}
        )
        assert [o["uuid"] for o in pending] == [order_uuid]
        provider.marketplace_order_approve_by_provider(order_uuid)
        assert (
            provider.marketplace_provider_offering_get_order(world.basic.uuid.hex, order_uuid)["state"] == "executing"
        )
        provider.marketplace_order_set_state_done(order_uuid)
        assert state_of(order_uuid) == "done"

    created = admin.create_resource_via_marketplace(
        world.project.uuid.hex, world.basic.uuid.hex, world.plans["basic"].uuid.hex, {"name": "vm-2"}, {"cpu": 2}
    )
    approve_and_finish(created["create_order_uuid"])
    resource_uuid = created["marketplace_resource_uuid"]
    assert admin.get_marketplace_resource(resource_uuid)["state"] == "OK"

    approve_and_finish(admin.marketplace_resource_update_limits_order(resource_uuid, {"cpu": 4}))  # resize
    assert Resource.objects.get(uuid=resource_uuid).limits == {"cpu": 4}

    approve_and_finish(admin.marketplace_resource_terminate_order(resource_uuid))
    assert admin.get_marketplace_resource(resource_uuid)["state"] == "Terminated"
    assert [r["uuid"] for r in admin.list_marketplace_resources(state="Terminated")] == [resource_uuid]


def test_orders_are_canceled_and_rejected_by_either_side(scene, waldur):
    world, _ = scene
    admin, owner = waldur(world.user("project_admin")), waldur(world.user("consumer_owner"))
    provider = waldur(world.user("provider_owner"))
    place = lambda name: admin.create_marketplace_order(  # noqa: E731
        "Consumer project", "basic", plan=world.plans["basic"].uuid.hex, attributes={"name": name}, limits={"cpu": 1}
    )["uuid"]

    canceled, by_consumer, by_provider = place("c"), place("rc"), place("rp")
    admin.marketplace_order_cancel(canceled)
    owner.marketplace_order_reject_by_consumer(by_consumer)
    owner.marketplace_order_approve_by_consumer(by_provider)
    provider.marketplace_order_reject_by_provider(by_provider)

    assert [state_of(u) for u in (canceled, by_consumer, by_provider)] == ["canceled", "rejected", "rejected"]
    with pytest.raises(WaldurClientException, match="403"):  # a consumer cannot review as provider
        admin.marketplace_order_approve_by_provider(place("x"))


def test_provider_playbook_reports_on_a_resource_and_terminates_it(scene, waldur):
    world, _ = scene
    admin, owner = waldur(world.user("project_admin")), waldur(world.user("consumer_owner"))
    provider = waldur(world.user("provider_owner"))
    created = owner.create_resource_via_marketplace(
        world.project.uuid.hex, world.basic.uuid.hex, world.plans["basic"].uuid.hex, {"name": "vm-3"}, {"cpu": 1}
    )
    provider.marketplace_order_approve_by_provider(created["create_order_uuid"])
    provider.marketplace_order_set_state_done(created["create_order_uuid"])
    resource = created["marketplace_resource_uuid"]

    provider.marketplace_provider_resource_set_backend_id(resource, "vm-backend-3")
    provider.marketplace_provider_resource_set_backend_metadata(resource, {"ip": "10.0.0.3"})
    provider.marketplace_provider_resource_submit_report(resource, [{"header": "Access", "body": "ssh vm-3"}])
    provider.marketplace_provider_resource_refresh_last_sync(resource)
    provider.marketplace_provider_resource_set_as_erred(resource, {"error_message": "disk lost"})
    assert admin.get_marketplace_resource(resource)["state"] == "Erred"
    provider.marketplace_provider_resource_set_as_ok(resource)
    provider.update_marketplace_provider_resource(resource, name="vm-3-renamed")
    admin.update_marketplace_resource(resource, end_date="2031-01-31")
    admin.marketplace_resource_update_options(resource, {"size": "L"})
    assert admin.get_marketplace_resource(resource)["attributes"]["options"] == {"size": "L"}

    seen = provider.get_marketplace_provider_resource(resource)
    assert (seen["state"], seen["backend_id"], seen["name"], seen["end_date"]) == (
        "OK", "vm-backend-3", "vm-3-renamed", "2031-01-31",
    )  # fmt: skip
    assert seen["backend_metadata"] == {"ip": "10.0.0.3", "report": [{"header": "Access", "body": "ssh vm-3"}]}
    periods = provider.marketplace_provider_resource_get_plan_periods(resource)
    assert [(p["plan_uuid"], p["end"]) for p in periods] == [(world.plans["basic"].uuid.hex, None)]
    assert admin.marketplace_resource_get_plan_periods(resource) == periods
    assert [m["username"] for m in provider.marketplace_provider_resource_get_team(resource)] == [
        "project-admin", "project-manager", "project-member",
    ]  # fmt: skip

    order_uuid = provider.marketplace_provider_resource_terminate_order(resource)
    owner.marketplace_order_approve_by_consumer(order_uuid)
    provider.marketplace_order_approve_by_provider(order_uuid)
    provider.marketplace_order_set_state_done(order_uuid)
    assert admin.get_marketplace_resource(resource)["state"] == "Terminated"


def test_provider_playbook_looks_up_people_roles_and_offering_accounts(scene, waldur):
    world, _ = scene
    provider, admin = waldur(world.user("provider_owner")), waldur(world.user("project_admin"))
    owner = waldur(world.user("consumer_owner"))
    plan = world.plans["basic"].uuid.hex
    owner.create_resource_via_marketplace(world.project.uuid.hex, world.basic.uuid.hex, plan, {"name": "v"}, {})
    sp = world.service_provider.uuid.hex

    assert [p["uuid"] for p in provider.list_service_provider_projects(sp)] == [world.project.uuid.hex]
    assert {u["username"] for u in provider.list_service_provider_users(sp)} == {
        "project-admin", "project-manager", "project-member",
    }  # fmt: skip
    member = admin.get_user("project-member")  # by username (name_exact)
    assert member["username"] == "project-member"
    assert "PROJECT.ADMIN" in {r["name"] for r in admin.get_roles()}
    assert admin.get_customer("Consumer Org")["uuid"] == world.customer.uuid.hex
    assert admin.get_configuration()["WALDUR_CORE"]["VERSION"]

    account = provider.create_remote_offering_user(world.basic.uuid.hex, member["uuid"], "pm001")
    assert (account["state"], account["username"], account["user_username"]) == ("OK", "pm001", "project-member")
    assert [a["username"] for a in provider.list_remote_offering_users({"offering_uuid": world.basic.uuid.hex})] == [
        "pm001"
    ]
    provider.delete_offering_user(account["uuid"])
    assert not OfferingUser.objects.exists()
    assert provider.list_component_usages(world.basic.uuid.hex) == []


def test_what_is_deliberately_not_served_answers_a_clear_json_404(scene, waldur):
    world, _ = scene
    owner = waldur(world.user("consumer_owner"))

    with pytest.raises(WaldurClientException, match="404.*Not served by this marketplace: /api/invoices/"):
        owner.get_invoice_for_customer(world.customer.uuid.hex, 2030, 1)
