"""Who sees an offering's plugin options (offerings/types/spec.py): internal ones (the fulfilment URL, the
probe URL) only the provider's staff and platform staff; secret ones are masked for everyone."""

from __future__ import annotations

import pytest

from tests.api import make_order, ok_resource, order_url

PUBLIC = "/api/marketplace-public-offerings/"
PROVIDER = "/api/marketplace-provider-offerings/"
RESOURCES = "/api/marketplace-resources/"
OPTIONS = {
    "webhook_url": "https://fulfil.provider.example/orders",
    "health_url": "https://fulfil.provider.example/health",
    "webhook_secret": "s3cret-hmac-key",
    "webhook_timeout_seconds": 5,
    "resubmit_rate": 2,
}
INSIDER_VIEW = {**OPTIONS, "webhook_secret": "********"}
OUTSIDER_VIEW = {"webhook_timeout_seconds": 5, "resubmit_rate": 2}
# the provider's people (any role on the provider organisation or the offering) and platform staff
INSIDERS = ("staff", "support", "provider_owner", "service_manager")
OUTSIDERS = ("consumer_owner", "project_admin", "project_member", "other_owner", "stranger")


@pytest.fixture
def webhook(world):
    world.webhook.plugin_options = OPTIONS
    world.webhook.save()
    return world.webhook


@pytest.mark.parametrize("user", INSIDERS + OUTSIDERS)
def test_the_public_offering_shows_internal_options_only_to_the_provider_and_staff(world, api, webhook, user):
    response = api.as_user(world.user(user)).get(f"{PUBLIC}{webhook.uuid.hex}/")

    assert response.status_code == 200
    assert response.json()["plugin_options"] == (INSIDER_VIEW if user in INSIDERS else OUTSIDER_VIEW)
    assert "s3cret" not in response.content.decode()


@pytest.mark.parametrize("user", INSIDERS)
def test_the_provider_offering_api_shows_internal_options_with_the_secret_masked(world, api, webhook, user):
    response = api.as_user(world.user(user)).get(f"{PROVIDER}{webhook.uuid.hex}/")

    assert response.status_code == 200
    assert response.json()["plugin_options"] == INSIDER_VIEW


def test_the_offering_manager_of_another_offering_of_the_provider_does_not_see_internal_options(world, api, webhook):
    # offering_manager manages the slurm offering only, not the webhook one
    response = api.as_user(world.user("offering_manager")).get(f"{PUBLIC}{webhook.uuid.hex}/")

    assert response.json()["plugin_options"] == OUTSIDER_VIEW


@pytest.mark.parametrize(("user", "view"), [("project_member", OUTSIDER_VIEW), ("consumer_owner", OUTSIDER_VIEW),
                                            ("provider_owner", INSIDER_VIEW), ("staff", INSIDER_VIEW)])  # fmt: skip
def test_an_orders_offering_plugin_options_follow_the_caller(world, api, webhook, user, view):
    order = make_order(world, "pending-provider", kind="webhook")
    client = api.as_user(world.user(user))

    listed = client.get(f"/api/marketplace-orders/?offering_uuid={webhook.uuid.hex}").json()
    detail = client.get(order_url(order)).json()
    offering = client.get(order_url(order, "offering")).json()

    assert [o["offering_plugin_options"] for o in listed] == [view]
    assert detail["offering_plugin_options"] == view
    assert offering["plugin_options"] == view


@pytest.mark.parametrize(("user", "view"), [("consumer_owner", OUTSIDER_VIEW), ("staff", INSIDER_VIEW)])
def test_a_resources_offering_plugin_options_follow_the_caller(world, api, webhook, user, view):
    resource = ok_resource(world, "webhook")

    body = api.as_user(world.user(user)).get(f"{RESOURCES}{resource.uuid.hex}/").json()

    assert body["offering_plugin_options"] == view
