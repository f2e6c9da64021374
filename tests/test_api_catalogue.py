"""API contract of the catalogue: categories, public and provider offerings, plans, service providers."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from waldur_api_client.models.base_public_plan import BasePublicPlan
from waldur_api_client.models.marketplace_category import MarketplaceCategory
from waldur_api_client.models.offering_user_attribute_config import OfferingUserAttributeConfig
from waldur_api_client.models.provider_offering_details import ProviderOfferingDetails
from waldur_api_client.models.provider_plan_details import ProviderPlanDetails
from waldur_api_client.models.public_offering_details import PublicOfferingDetails
from waldur_api_client.models.service_provider import ServiceProvider

from offerings.models import Offering
from tests import factories as f

PUBLIC = "/api/marketplace-public-offerings/"
PROVIDER = "/api/marketplace-provider-offerings/"
PLANS = "/api/marketplace-plans/"
PROVIDERS = "/api/marketplace-service-providers/"
AGENT_FIELDS = "?field=components&field=customer_uuid&field=partitions&field=plugin_options"


def dashed(obj) -> str:
    return str(obj.uuid)


def uuids(response) -> set[str]:
    return {item["uuid"] for item in response.json()}


# --- categories ---------------------------------------------------------------------------------


def test_category_counts_only_the_offerings_the_caller_can_see(world, api):
    category = world.basic.category
    f.OfferingFactory(customer=world.provider, category=category, state=Offering.States.DRAFT)

    consumer = api.as_user(world.user("consumer_owner")).get("/api/marketplace-categories/")
    assert consumer.status_code == 200
    assert consumer.headers["X-Result-Count"] == "1"
    [item] = consumer.json()
    assert item["offering_count"] == 3
    assert item["icon"] is None
    MarketplaceCategory.from_dict(item)

    staff = api.as_user(world.user("staff")).get(f"/api/marketplace-categories/{dashed(category)}/")
    assert staff.status_code == 200
    assert staff.json()["offering_count"] == 4


# --- public offerings ---------------------------------------------------------------------------


def test_public_offerings_are_a_bare_array_with_pagination_headers(world, api):
    response = api.as_user(world.user("consumer_owner")).get(PUBLIC, {"page_size": 2})
    assert response.status_code == 200
    assert isinstance(response.json(), list) and len(response.json()) == 2
    assert response.headers["X-Result-Count"] == "3"
    assert 'rel="next"' in response.headers["Link"]


def test_public_offering_has_the_waldur_shape_and_parses_with_the_real_client(world, api):
    response = api.as_user(world.user("consumer_owner")).get(f"{PUBLIC}{world.slurm.uuid.hex}/")
    assert response.status_code == 200
    body = response.json()
    assert body["uuid"] == world.slurm.uuid.hex
    assert body["customer_uuid"] == world.provider.uuid.hex
    assert body["category_uuid"] == world.slurm.category.uuid.hex
    assert body["plugin_options"] == {}
    assert "project_uuid" not in body  # no null uuids on the wire
    for key in ("partitions", "endpoints", "roles", "screenshots", "files", "quotas", "organization_groups"):
        assert body[key] == []
    [component] = body["components"]
    assert component["billing_type"] == "limit" and component["type"] == "cpu"
    [plan] = body["plans"]
    plan_uuid = world.plans["slurm"].uuid.hex
    assert plan["url"].endswith(f"{PUBLIC}{world.slurm.uuid.hex}/plans/{plan_uuid}/")
    assert plan["prices"] == {"cpu": "1.0000000000"} and plan["quotas"] == {"cpu": 0}
    assert plan["unit_price"] == "10.0000000" and plan["is_active"] is True

    parsed = PublicOfferingDetails.from_dict(body)
    assert parsed.customer_uuid.hex == world.provider.uuid.hex
    assert parsed.plans[0].uuid.hex == plan_uuid


def test_sparse_fields_select_offering_keys_and_leave_nested_plans_whole(world, api):
    url = f"{PUBLIC}{world.basic.uuid.hex}/"
    body = api.as_user(world.user("consumer_owner")).get(url, {"field": ["name", "plans"]}).json()
    assert set(body) == {"name", "plans"}
    assert {"url", "uuid", "name", "prices", "components"} <= set(body["plans"][0])


def test_public_offering_is_found_by_hex_and_by_dashed_uuid(world, api):
    client = api.as_user(world.user("project_member"))
    for key in (world.basic.uuid.hex, dashed(world.basic), dashed(world.basic).upper()):
        response = client.get(f"{PUBLIC}{key}/")
        assert response.status_code == 200, key
        assert response.json()["uuid"] == world.basic.uuid.hex


def test_offering_secrets_are_masked_for_providers_and_left_out_for_consumers(world, api):
    world.webhook.plugin_options = {
        "webhook_url": "https://provider.example/hook",
        "webhook_secret": "s3cret",
        "auth": {"user": "bot"},
    }
    world.webhook.save()
    for user, url in (("consumer_owner", PUBLIC), ("provider_owner", PROVIDER), ("staff", PROVIDER)):
        response = api.as_user(world.user(user)).get(f"{url}{world.webhook.uuid.hex}/")
        assert response.status_code == 200
        options = response.json()["plugin_options"]
        insider = user != "consumer_owner"
        assert options.get("webhook_url") == ("https://provider.example/hook" if insider else None)
        assert options.get("webhook_secret") == ("********" if insider else None)
        assert options["auth"] == {"user": "bot"}
        assert "s3cret" not in response.content.decode()


def test_masking_follows_the_type_declaration_not_key_names(world, api):
    """Only options the type declares secret are masked; undeclared keys are shown as stored."""
    world.basic.plugin_options = {"webhook_secret": "not-a-secret-of-basic", "admin_password": "undeclared"}
    world.basic.save()

    options = api.as_user(world.user("consumer_owner")).get(f"{PUBLIC}{world.basic.uuid.hex}/").json()["plugin_options"]

    assert options == {"webhook_secret": "not-a-secret-of-basic", "admin_password": "undeclared"}


@pytest.mark.parametrize("state", [Offering.States.DRAFT, Offering.States.ARCHIVED])
def test_offerings_that_are_not_open_are_hidden_from_consumers_but_not_from_their_provider(world, api, state):
    world.basic.state = state
    world.basic.save()
    consumer = api.as_user(world.user("consumer_owner"))
    assert consumer.get(f"{PUBLIC}{world.basic.uuid.hex}/").status_code == 404
    assert world.basic.uuid.hex not in uuids(consumer.get(PUBLIC))
    assert api.as_user(world.user("provider_owner")).get(f"{PUBLIC}{world.basic.uuid.hex}/").status_code == 200


def test_private_offering_is_visible_to_its_organisation_and_project_only(world, api):
    private = f.OfferingFactory(customer=world.provider, category=world.basic.category, shared=False)
    for_project = f.OfferingFactory(
        customer=world.provider, category=world.basic.category, shared=False, project=world.project
    )
    assert api.as_user(world.user("stranger")).get(f"{PUBLIC}{private.uuid.hex}/").status_code == 404
    assert api.as_user(world.user("service_manager")).get(f"{PUBLIC}{private.uuid.hex}/").status_code == 200
    assert api.as_user(world.user("project_member")).get(f"{PUBLIC}{for_project.uuid.hex}/").status_code == 200
    assert api.as_user(world.user("other_owner")).get(f"{PUBLIC}{for_project.uuid.hex}/").status_code == 404


def test_public_offerings_filter_by_type_and_reject_malformed_uuids(world, api):
    client = api.as_user(world.user("consumer_owner"))
    response = client.get(PUBLIC, {"type": ["Marketplace.Slurm", "Marketplace.Webhook"]})
    assert uuids(response) == {world.slurm.uuid.hex, world.webhook.uuid.hex}
    assert uuids(client.get(PUBLIC, {"customer_uuid": dashed(world.provider)})) == uuids(client.get(PUBLIC))
    assert client.get(PUBLIC, {"customer_uuid": "not-a-uuid"}).status_code == 400
    assert client.get(PUBLIC, {"page": 99}).status_code == 404


# --- nested plans -------------------------------------------------------------------------------


def test_nested_plans_list_orderable_plans_and_retrieve_any_plan_of_the_offering(world, api):
    archived = f.PlanFactory(offering=world.basic, name="old", archived=True)
    client = api.as_user(world.user("consumer_owner"))
    base = f"{PUBLIC}{world.basic.uuid.hex}/plans/"

    listed = client.get(base)
    assert listed.status_code == 200
    assert uuids(listed) == {world.plans["basic"].uuid.hex}
    assert listed.headers["X-Result-Count"] == "1"
    BasePublicPlan.from_dict(listed.json()[0])

    for key in (archived.uuid.hex, dashed(archived)):
        response = client.get(f"{base}{key}/")
        assert response.status_code == 200
        assert response.json()["archived"] is True and response.json()["is_active"] is False
    assert client.get(f"{base}{world.plans['slurm'].uuid.hex}/").status_code == 404


def test_order_plan_hyperlink_resolves_to_the_nested_plan(world, api):
    order = f.OrderFactory(project=world.project, offering=world.basic, plan=world.plans["basic"])
    client = api.as_user(world.user("consumer_owner"))
    plan_link = client.get(f"/api/marketplace-orders/{order.uuid.hex}/").json()["plan"]
    response = client.get(plan_link)
    assert response.status_code == 200
    assert response.json()["uuid"] == world.plans["basic"].uuid.hex
    assert response.json()["url"] == plan_link


def test_plan_is_full_when_its_resources_reach_the_maximum(world, api):
    plan = world.plans["basic"]
    plan.max_amount = 1
    plan.save()
    f.ResourceFactory(project=world.project, offering=world.basic, plan=plan, state="OK")
    f.ResourceFactory(project=world.project, offering=world.basic, plan=plan, state="Terminated")
    body = api.as_user(world.user("consumer_owner")).get(f"{PLANS}{plan.uuid.hex}/").json()
    assert body["resources_count"] == 1
    assert body["is_active"] is False


# --- provider offerings -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        ("provider_owner", {"basic", "slurm", "webhook"}),
        ("service_manager", {"basic", "slurm", "webhook"}),
        ("offering_manager", {"slurm"}),
        ("consumer_owner", set()),
        ("staff", {"basic", "slurm", "webhook"}),
    ],
)
def test_provider_offerings_list_what_the_caller_manages(world, api, user, expected):
    response = api.as_user(world.user(user)).get(PROVIDER)
    assert response.status_code == 200
    assert uuids(response) == {world.offering(kind).uuid.hex for kind in expected}


def test_consumer_cannot_retrieve_a_provider_offering(world, api):
    assert api.as_user(world.user("consumer_owner")).get(f"{PROVIDER}{world.slurm.uuid.hex}/").status_code == 404
    assert api.as_user(world.user("offering_manager")).get(f"{PROVIDER}{world.basic.uuid.hex}/").status_code == 404


def test_site_agent_reads_exactly_the_fields_it_asks_for(world, api):
    f.OfferingComponentFactory(offering=world.slurm, type="mem", name="Memory", billing_type="usage")
    response = api.as_user(world.user("offering_manager")).get(f"{PROVIDER}{dashed(world.slurm)}/{AGENT_FIELDS}")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"components", "customer_uuid", "partitions", "plugin_options"}
    assert body["customer_uuid"] == world.provider.uuid.hex
    assert {c["type"]: c["billing_type"] for c in body["components"]} == {"cpu": "limit", "mem": "usage"}
    parsed = ProviderOfferingDetails.from_dict(body)
    assert [c.type_ for c in parsed.components] == ["cpu", "mem"]


def test_provider_offering_lists_archived_plans_linked_at_marketplace_plans(world, api):
    archived = f.PlanFactory(offering=world.slurm, name="old", archived=True)
    body = api.as_user(world.user("provider_owner")).get(f"{PROVIDER}{world.slurm.uuid.hex}/").json()
    plans = {plan["uuid"]: plan for plan in body["plans"]}
    assert set(plans) == {world.plans["slurm"].uuid.hex, archived.uuid.hex}
    assert plans[archived.uuid.hex]["url"].endswith(f"{PLANS}{archived.uuid.hex}/")
    ProviderOfferingDetails.from_dict(body)


def test_optional_agent_lookups_answer_defaults_to_the_provider_and_404_to_others(world, api):
    client = api.as_user(world.user("offering_manager"))
    base = f"{PROVIDER}{world.slurm.uuid.hex}/"
    config = client.get(f"{base}user-attribute-config/")
    assert config.status_code == 200
    parsed = OfferingUserAttributeConfig.from_dict(config.json())
    assert parsed.exposed_fields == ["username", "full_name", "email"] and parsed.is_default
    for action in ("list_project_service_accounts", "list_course_accounts"):
        response = client.get(f"{base}{action}/", {"page_size": 100})
        assert response.status_code == 200 and response.json() == []
        assert response.headers["X-Result-Count"] == "0"
    assert api.as_user(world.user("consumer_owner")).get(f"{base}user-attribute-config/").status_code == 404


# --- service providers and plans ----------------------------------------------------------------


def test_service_providers_filter_by_customer_uuid_hex_or_dashed(world, api):
    f.ServiceProviderFactory(customer=world.other_customer)
    client = api.as_user(world.user("offering_manager"))
    for key in (world.provider.uuid.hex, dashed(world.provider)):
        response = client.get(PROVIDERS, {"customer_uuid": key, "field": "uuid"})
        assert response.status_code == 200
        assert response.json() == [{"uuid": world.service_provider.uuid.hex}]
    assert client.get(PROVIDERS, {"customer_uuid": "123"}).status_code == 400
    body = client.get(f"{PROVIDERS}{world.service_provider.uuid.hex}/").json()
    assert body["customer_uuid"] == world.provider.uuid.hex
    ServiceProvider.from_dict(body)


def test_service_provider_keys_are_an_empty_list(world, api):
    response = api.as_user(world.user("offering_manager")).get(f"{PROVIDERS}{world.service_provider.uuid.hex}/keys/")
    assert response.status_code == 200
    assert response.json() == []


def test_plan_is_retrieved_by_dashed_uuid_and_parses_as_provider_plan_details(world, api):
    plan = world.plans["slurm"]
    response = api.as_user(world.user("offering_manager")).get(f"{PLANS}{dashed(plan)}/")
    assert response.status_code == 200
    body = response.json()
    assert body["offering_uuid"] == world.slurm.uuid.hex
    assert body["url"].endswith(f"{PLANS}{plan.uuid.hex}/")
    parsed = ProviderPlanDetails.from_dict(body)
    assert parsed.quotas.to_dict() == {"cpu": 0}


def test_plans_of_hidden_offerings_are_not_found(world, api):
    world.basic.state = Offering.States.DRAFT
    world.basic.save()
    plan = world.plans["basic"]
    assert api.as_user(world.user("consumer_owner")).get(f"{PLANS}{plan.uuid.hex}/").status_code == 404
    assert api.as_user(world.user("provider_owner")).get(f"{PLANS}{plan.uuid.hex}/").status_code == 200


# --- wire rules ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/api/marketplace-categories/", PUBLIC, PROVIDER, PLANS, PROVIDERS, "/api/customers/", "/api/projects/"],
)
def test_anonymous_callers_get_401(db, api, path):
    assert api.as_user(None).get(path).status_code == 401


def _queries(client, url: str, page_size: int) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, {"page_size": page_size})
    assert response.status_code == 200
    assert len(response.json()) == page_size
    return len(captured)


def test_catalogue_lists_cost_the_same_number_of_queries_for_5_and_50_rows(world, api):
    for n in range(50):
        offering = f.OfferingFactory(customer=world.provider, category=world.basic.category, name=f"bulk {n:02}")
        components = [f.OfferingComponentFactory(offering=offering, type=t, name=t) for t in ("cpu", "ram")]
        for plan_name in ("small", "large"):
            plan = f.PlanFactory(offering=offering, name=plan_name)
            for component in components:
                f.PlanComponentFactory(plan=plan, component=component)
        f.OrderFactory(project=world.project, offering=offering, plan=plan)
    client = api.as_user(world.user("consumer_owner"))
    for url in (PUBLIC, PLANS, "/api/marketplace-categories/"):
        if url == "/api/marketplace-categories/":
            f.CategoryFactory.create_batch(50)
        assert _queries(client, url, 5) == _queries(client, url, 50), url
    provider = api.as_user(world.user("provider_owner"))
    assert _queries(provider, PROVIDER, 5) == _queries(provider, PROVIDER, 50)
