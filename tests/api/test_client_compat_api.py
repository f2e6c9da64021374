"""API contract of the endpoints added for the published clients (python-waldur-client 0.6, waldur-api-client
8.1.3): Waldur's filter meanings, scoping (404 for what one cannot see, 403 for what one cannot do) and
the status codes of the new provider actions, in-process and fast."""

from __future__ import annotations

import pytest

from offerings.models import OfferingUser
from orders.models import Resource
from tests.factories import OfferingFactory, ProjectFactory, ResourceFactory, grant_role

pytestmark = pytest.mark.django_db


def uuids(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [row["uuid"] for row in response.json()]


def test_public_offerings_by_project_are_those_orderable_in_it(world, api):
    bound = OfferingFactory(customer=world.provider, category=world.basic.category, shared=False, project=world.project)
    foreign = OfferingFactory(customer=world.other_customer, category=world.basic.category, shared=False)
    api.as_user(world.user("staff"))

    found = uuids(
        api.get("/api/marketplace-public-offerings/", {"project_uuid": world.project.uuid.hex, "page_size": 50})
    )

    assert bound.uuid.hex in found and world.basic.uuid.hex in found and foreign.uuid.hex not in found
    api.as_user(world.user("project_admin"))  # another organisation's project: nothing, not its offerings
    assert uuids(api.get("/api/marketplace-public-offerings/", {"project_uuid": world.other_project.uuid.hex})) == []


def test_customers_and_projects_resolve_an_exact_name(world, api):
    ProjectFactory(customer=world.customer, name="Consumer project (old)")
    api.as_user(world.user("consumer_owner"))

    assert len(uuids(api.get("/api/projects/", {"name": "Consumer project"}))) == 2
    assert uuids(api.get("/api/projects/", {"name_exact": "Consumer project"})) == [world.project.uuid.hex]
    assert uuids(api.get("/api/customers/", {"name_exact": "Consumer Org"})) == [world.customer.uuid.hex]
    assert uuids(api.get("/api/customers/", {"name_exact": "Consumer"})) == []


def test_users_are_found_by_username_among_the_people_one_works_with(world, api):
    api.as_user(world.user("project_admin"))
    member = api.get("/api/users/", {"username": "project-member"}).json()
    assert [u["username"] for u in member] == ["project-member"]
    assert [u["username"] for u in api.get("/api/users/", {"name_exact": "provider-owner"}).json()] == []

    api.as_user(world.user("stranger"))
    assert [u["username"] for u in api.get("/api/users/").json()] == ["stranger"]
    assert api.get(f"/api/users/{member[0]['uuid']}/").status_code == 404


def test_roles_list_their_grants(world, api):
    roles = {r["name"]: r for r in api.as_user(world.user("stranger")).get("/api/roles/", {"page_size": 50}).json()}

    assert roles["OFFERING.MANAGER"]["content_type"] == "offering"
    assert "RESOURCE.SET_BACKEND_ID" in roles["OFFERING.MANAGER"]["permissions"]
    assert api.get("/api/roles/PROJECT.MEMBER/").json()["permissions"] == ["ORDER.CREATE", "ORDER.LIST"]


def test_offering_users_are_managed_by_the_provider_and_seen_by_their_owner(world, api):
    member = world.user("project_member")
    api.as_user(member)
    api.get("/api/users/me/")  # the profile (and so the uuid) exists from first sight
    body = {"offering": world.slurm.uuid.hex, "user": member.marketplace_profile.uuid.hex, "username": "pm"}

    assert api.post("/api/marketplace-offering-users/", body, format="json").status_code == 403
    created = api.as_user(world.user("offering_manager")).post("/api/marketplace-offering-users/", body, format="json")
    assert (created.status_code, created.json()["state"]) == (201, "OK")
    url = f"/api/marketplace-offering-users/{created.json()['uuid']}/"

    assert api.as_user(world.user("stranger")).get(url).status_code == 404
    assert api.as_user(member).get(url).status_code == 200  # one's own account
    assert api.delete(url).status_code == 403
    assert api.as_user(world.user("offering_manager")).delete(url).status_code == 204
    assert not OfferingUser.objects.exists()


def test_identity_without_last_restarted_omits_it_and_carries_compatibility(world, api):
    api.as_user(world.user("offering_manager"))
    body = {"offering": world.slurm.uuid.hex, "name": "agent-x"}

    identity = api.post("/api/marketplace-site-agent-identities/", body, format="json").json()

    assert "last_restarted" not in identity
    assert identity["compatibility"] == {"status": "unknown", "message": "The agent has not reported its version."}


@pytest.fixture
def provisioned(world) -> Resource:
    return ResourceFactory(project=world.project, offering=world.basic, plan=world.plans["basic"], state="OK")


def provider_url(resource, action: str = "") -> str:
    return f"/api/marketplace-provider-resources/{resource.uuid.hex}/" + (f"{action}/" if action else "")


def test_provider_actions_are_404_for_consumers_and_403_without_the_right(world, api, provisioned):
    api.as_user(world.user("consumer_owner"))
    assert api.post(provider_url(provisioned, "set_as_erred"), {}, format="json").status_code == 404
    assert api.as_user(world.user("offering_manager")).post(provider_url(provisioned, "terminate")).status_code == 404

    grant_role(world.user("customer_support"), "CUSTOMER.SUPPORT", world.provider)  # sees, may not act
    api.as_user(world.user("customer_support"))
    assert api.post(provider_url(provisioned, "set_as_erred"), {}, format="json").status_code == 403
    assert api.patch(provider_url(provisioned), {"name": "x"}, format="json").status_code == 403


def test_provider_marks_a_resource_erred_and_ok_but_never_revives_a_terminated_one(world, api, provisioned):
    api.as_user(world.user("service_manager"))

    erred = api.post(provider_url(provisioned, "set_as_erred"), {"error_message": "disk"}, format="json")
    assert (erred.status_code, Resource.objects.get(pk=provisioned.pk).error_message) == (200, "disk")
    assert api.post(provider_url(provisioned, "set_as_ok")).json() == {"status": "Resource has been marked as OK."}

    gone = ResourceFactory(project=world.project, offering=world.basic, state="Terminated")
    assert api.post(provider_url(gone, "set_as_ok")).status_code == 409
    assert api.post(provider_url(provisioned, "submit_report"), {"report": []}, format="json").status_code == 403
    api.as_user(world.user("provider_owner"))  # RESOURCE.SET_BACKEND_ID: may report, an empty report is refused
    assert api.post(provider_url(provisioned, "submit_report"), {"report": []}, format="json").status_code == 400


def test_provider_terminate_places_a_terminate_order(world, api, provisioned):
    response = api.as_user(world.user("provider_owner")).post(provider_url(provisioned, "terminate"))

    assert response.status_code == 200
    order = provisioned.orders.get()
    assert (order.uuid.hex, order.type, order.created_by) == (
        response.json()["order_uuid"], "Terminate", world.user("provider_owner"),
    )  # fmt: skip
    assert api.post(provider_url(provisioned, "terminate")).status_code == 409  # one active order at a time


def test_consumer_renames_a_resource_and_updates_its_options(world, api, provisioned):
    api.as_user(world.user("project_member"))  # may order, may not change resources
    url = f"/api/marketplace-resources/{provisioned.uuid.hex}/"
    assert api.patch(url, {"name": "renamed"}, format="json").status_code == 403

    api.as_user(world.user("project_admin"))
    assert api.patch(url, {"name": "renamed"}, format="json").json()["name"] == "renamed"
    assert api.post(f"{url}update_options/", {"options": {"size": "L"}}, format="json").status_code == 200
    assert Resource.objects.get(pk=provisioned.pk).attributes["options"] == {"size": "L"}
    assert api.put(url, {"name": "x"}, format="json").status_code == 405


def test_my_orders_dashboard_lists_and_counts_the_callers_orders(world, api):
    api.as_user(world.user("project_admin"))
    for name in ("a", "b"):
        body = {
            "offering": f"http://testserver/api/marketplace-public-offerings/{world.basic.uuid.hex}/",
            "project": f"http://testserver/api/projects/{world.project.uuid.hex}/",
            "plan": f"http://testserver/api/marketplace-public-offerings/{world.basic.uuid.hex}/plans/"
            f"{world.plans['basic'].uuid.hex}/",
            "attributes": {"name": name},
        }
        assert api.post("/api/marketplace-orders/", body, format="json").status_code == 201

    rows = api.get("/api/marketplace-orders/dashboard-my-orders/").json()
    assert [r["resource_name"] for r in rows] == ["b", "a"]  # newest first
    assert api.head("/api/marketplace-orders/dashboard-my-orders/")["X-Result-Count"] == "2"
    assert (
        api.as_user(world.user("consumer_owner")).head("/api/marketplace-orders/dashboard-my-orders/")["X-Result-Count"]
        == "0"
    )


def test_provider_offering_orders_are_404_for_an_offering_one_does_not_manage(world, api):
    api.as_user(world.user("offering_manager"))  # manages slurm only
    assert api.get(f"/api/marketplace-provider-offerings/{world.slurm.uuid.hex}/orders/").status_code == 200
    assert api.get(f"/api/marketplace-provider-offerings/{world.basic.uuid.hex}/orders/").status_code == 404


def test_service_provider_consumers_are_404_outside_the_provider(world, api, provisioned):
    url = f"/api/marketplace-service-providers/{world.service_provider.uuid.hex}/projects/"
    assert api.as_user(world.user("consumer_owner")).get(url).status_code == 404
    assert uuids(api.as_user(world.user("service_manager")).get(url)) == [world.project.uuid.hex]


@pytest.mark.parametrize(
    "path", ["/api/invoices/", "/api/openstack-instances/abc/", "/api/marketplace-component-usages/set_usage/"]
)
def test_deliberately_not_served_endpoints_answer_a_json_404_with_the_reason(world, api, path):
    response = api.as_user(world.user("staff")).post(path, {}, format="json")

    assert response.status_code == 404
    assert response.json()["code"] == "not_served"
    assert "Compatibility section of the README" in response.json()["detail"]
