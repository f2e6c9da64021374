"""What a newcomer meets: the landing page at /, the API root at /api/, and OPTIONS describing an endpoint
the way DRF's metadata does (permissions/drf.py)."""

from __future__ import annotations

import pytest

from marketplace.version import project_version
from tests.api import ORDERS, make_order, order_url

ROOT = "http://testserver/api/"


def test_the_landing_page_links_the_docs_the_admin_and_the_version(client):
    response = client.get("/")

    assert response.status_code == 200
    page = response.content.decode()
    for href in ("/api/docs/", "/api/redoc/", "/api/schema/", "/api/", "/admin/", "/api/version/"):
        assert f'href="{href}"' in page, href
    assert project_version() in page


def test_the_api_root_lists_every_collection_and_each_link_answers(world, api):
    body = api.get("/api/").json()

    for name in ("marketplace-orders", "marketplace-resources", "marketplace-public-offerings", "customers",
                 "projects", "marketplace-site-agent-identities", "marketplace-order-jobs"):  # fmt: skip
        assert body[name] == f"{ROOT}{name}/", name
    assert body["docs"] == f"{ROOT}docs/" and body["version"] == f"{ROOT}version/"
    client = api.as_user(world.user("project_member"))
    for name, url in body.items():
        assert client.get(url).status_code == 200, name


@pytest.mark.parametrize("user", ["staff", "project_member", "other_owner"])
def test_options_on_the_order_list_answers_drf_metadata(world, api, user):
    response = api.as_user(world.user(user)).options(ORDERS)

    assert response.status_code == 200
    body = response.json()
    assert body["name"] and "application/json" in body["renders"] and "application/json" in body["parses"]
    assert "offering" in body["actions"]["POST"]


def test_options_on_an_order_offers_the_put_form_only_to_who_may_update_it(world, api):
    order = make_order(world, "pending-consumer")

    author = api.as_user(world.user("consumer_owner")).options(order_url(order))
    provider = api.as_user(world.user("provider_owner")).options(order_url(order))

    assert author.status_code == provider.status_code == 200
    assert "PUT" in author.json()["actions"]
    assert "actions" not in provider.json()


def test_options_needs_authentication_and_tells_nothing_about_orders_one_cannot_see(world, api):
    order = make_order(world, "pending-consumer")
    client = api.as_user(world.user("other_owner"))

    invisible = client.options(order_url(order))
    missing = client.options(f"{ORDERS}{'0' * 32}/")

    assert api.as_user(None).options(ORDERS).status_code == 401
    assert invisible.status_code == missing.status_code == 200  # DRF: OPTIONS describes the route, not the row
    assert invisible.json() == missing.json() and "actions" not in invisible.json()
