"""API contract of customers, projects, users/me and version: who sees which organisation and project."""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path

import pytest
from django.utils import timezone
from waldur_api_client.models.customer import Customer as CustomerModel
from waldur_api_client.models.project import Project as ProjectModel
from waldur_api_client.models.user_me import UserMe
from waldur_api_client.models.version import Version

from permissions.models import UserProfile
from tests import factories as f

PROJECT_VERSION = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())["project"]["version"]


def uuids(response) -> set[str]:
    return {item["uuid"] for item in response.json()}


# --- customers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        ("consumer_owner", {"customer"}),
        ("project_member", {"customer"}),  # through the project
        ("provider_owner", {"provider"}),
        ("other_owner", {"other_customer"}),
        ("stranger", set()),
        ("staff", {"customer", "other_customer", "provider"}),
        ("support", {"customer", "other_customer", "provider"}),
    ],
)
def test_customers_are_the_organisations_the_caller_has_a_role_in(world, api, user, expected):
    response = api.as_user(world.user(user)).get("/api/customers/")
    assert response.status_code == 200
    assert uuids(response) == {getattr(world, name).uuid.hex for name in expected}
    assert response.headers["X-Result-Count"] == str(len(expected))


def test_customer_of_someone_else_is_not_found(world, api):
    client = api.as_user(world.user("other_owner"))
    assert client.get(f"/api/customers/{world.customer.uuid.hex}/").status_code == 404
    own = client.get(f"/api/customers/{world.other_customer.uuid}/")
    assert own.status_code == 200
    body = own.json()
    assert body["uuid"] == world.other_customer.uuid.hex and body["name"] == "Other Org"
    assert set(body) >= {"url", "uuid", "name", "slug", "abbreviation", "blocked", "archived", "created"}
    CustomerModel.from_dict(body)


def test_customers_filter_by_name_and_query(world, api):
    client = api.as_user(world.user("staff"))
    assert uuids(client.get("/api/customers/", {"name": "consumer"})) == {world.customer.uuid.hex}
    assert uuids(client.get("/api/customers/", {"query": "other-org"})) == {world.other_customer.uuid.hex}
    assert uuids(client.get("/api/customers/", {"query": str(world.provider.uuid)})) == {world.provider.uuid.hex}


def test_a_customer_reached_through_two_projects_is_listed_once(world, api):
    member = world.user("project_member")
    f.grant_role(member, "PROJECT.MEMBER", f.ProjectFactory(customer=world.customer))
    response = api.as_user(member).get("/api/customers/")
    assert [item["uuid"] for item in response.json()] == [world.customer.uuid.hex]


# --- projects -----------------------------------------------------------------------------------


def test_projects_are_scoped_to_the_callers_roles(world, api):
    owner = api.as_user(world.user("consumer_owner")).get("/api/projects/")
    assert uuids(owner) == {world.project.uuid.hex}
    [body] = owner.json()
    assert body["customer_uuid"] == world.customer.uuid.hex
    assert body["customer"].endswith(f"/api/customers/{world.customer.uuid.hex}/")
    ProjectModel.from_dict(body)

    other = api.as_user(world.user("other_owner"))
    assert other.get(f"/api/projects/{world.project.uuid.hex}/").status_code == 404
    assert other.get(f"/api/projects/{world.other_project.uuid}/").status_code == 200


def test_removed_projects_are_not_listed(world, api):
    f.ProjectFactory(customer=world.customer, is_removed=True)
    assert uuids(api.as_user(world.user("consumer_owner")).get("/api/projects/")) == {world.project.uuid.hex}


def test_projects_filter_by_customer_uuid_hex_or_dashed_and_reject_garbage(world, api):
    client = api.as_user(world.user("staff"))
    for key in (world.other_customer.uuid.hex, str(world.other_customer.uuid)):
        assert uuids(client.get("/api/projects/", {"customer_uuid": key})) == {world.other_project.uuid.hex}
    assert uuids(client.get("/api/projects/", {"query": "consumer"})) == {world.project.uuid.hex}
    assert client.get("/api/projects/", {"customer_uuid": "nope"}).status_code == 400


# --- users/me -----------------------------------------------------------------------------------


def test_me_describes_the_caller_and_their_roles(world, api):
    user = world.user("consumer_owner")
    response = api.as_user(user).get("/api/users/me/")
    assert response.status_code == 200
    body = response.json()
    profile = UserProfile.objects.get(user=user)
    assert body["uuid"] == profile.uuid.hex
    assert body["username"] == "consumer-owner"
    assert body["full_name"] == user.get_full_name()
    assert body["is_staff"] is False and body["is_support"] is False
    assert body["permissions"] == [
        {
            "role_name": "CUSTOMER.OWNER",
            "scope_type": "customer",
            "scope_uuid": world.customer.uuid.hex,
            "scope_name": "Consumer Org",
            "customer_uuid": world.customer.uuid.hex,
            "customer_name": "Consumer Org",
            "project_name": None,
            "expiration_time": None,
        }
    ]
    parsed = UserMe.from_dict(body)
    assert parsed.uuid.hex == profile.uuid.hex
    assert parsed.permissions[0].scope_uuid.hex == world.customer.uuid.hex


def test_me_lists_project_and_offering_roles_with_their_organisation_and_skips_expired_ones(world, api):
    user = world.user("offering_manager")
    expired = f.grant_role(user, "PROJECT.MEMBER", world.other_project)
    expired.expiration_time = timezone.now() - dt.timedelta(days=1)
    expired.save()
    f.grant_role(user, "PROJECT.ADMIN", world.project)
    body = api.as_user(user).get("/api/users/me/").json()
    by_scope = {p["scope_type"]: p for p in body["permissions"]}
    assert set(by_scope) == {"offering", "project"}
    assert by_scope["offering"]["scope_uuid"] == world.slurm.uuid.hex
    assert by_scope["offering"]["customer_uuid"] == world.provider.uuid.hex
    assert by_scope["project"]["project_uuid"] == world.project.uuid.hex
    assert by_scope["project"]["customer_name"] == "Consumer Org"
    UserMe.from_dict(body)


def test_me_creates_the_profile_once_and_answers_only_the_requested_fields(world, api):
    user = world.user("stranger")
    assert not UserProfile.objects.filter(user=user).exists()
    client = api.as_user(user)
    first = client.get("/api/users/me/", {"field": "uuid"})
    assert first.status_code == 200
    assert set(first.json()) == {"uuid"}
    assert client.get("/api/users/me/?field=uuid").json() == first.json()
    assert UserProfile.objects.filter(user=user).count() == 1
    UserMe.from_dict(first.json())


def test_me_url_resolves_to_the_caller_and_other_users_are_not_found(world, api):
    client = api.as_user(world.user("consumer_owner"))
    me = client.get("/api/users/me/").json()
    assert client.get(me["url"]).json()["uuid"] == me["uuid"]
    other = api.as_user(world.user("other_owner")).get("/api/users/me/").json()
    assert api.as_user(world.user("consumer_owner")).get(other["url"]).status_code == 404
    assert api.as_user(world.user("staff")).get(other["url"]).status_code == 200


def test_support_user_is_flagged(world, api):
    body = api.as_user(world.user("support")).get("/api/users/me/").json()
    assert body["is_support"] is True and body["is_staff"] is False


def test_me_needs_a_token(db, api):
    assert api.as_user(None).get("/api/users/me/").status_code == 401


# --- version ------------------------------------------------------------------------------------


def test_version_is_public_and_parses_with_the_real_client(db, api):
    for client in (api.as_user(None), api.as_user(f.UserFactory())):
        response = client.get("/api/version/")
        assert response.status_code == 200
        assert Version.from_dict(response.json()).version == PROJECT_VERSION


def test_version_ignores_a_stale_token(db, api):
    api.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert api.get("/api/version/").status_code == 200


def test_offering_manager_sees_the_provider_organisation_of_the_offering(world, api):
    response = api.as_user(world.user("offering_manager")).get(f"/api/customers/{world.provider.uuid.hex}/")
    assert response.status_code == 200
    assert response.json()["uuid"] == world.provider.uuid.hex
