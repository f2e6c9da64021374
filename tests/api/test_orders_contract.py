"""/api/marketplace-orders/: the exact success status and body of every endpoint (clients.md §A.2, §C.3),
authentication and the no-redirect rule. Representation details: test_orders_representation.py; error
codes and their order: test_orders_errors.py."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from orders.models import Order, Resource
from tests.api import ORDERS, PDF, bulk_orders, create_body, make_order, order_url, with_attachment


def links_of(response) -> dict[str, str]:
    """rel → url of a Link header, parsed the way waldur-api-client parses it (split on ',' then ';')."""
    links = {}
    for part in response.headers.get("Link", "").split(","):
        url, rel = part.split(";")
        links[re.search(r'rel="(\w+)"', rel).group(1)] = url.strip()[1:-1]
    return links


def test_create_answers_201_with_the_full_order_and_creates_its_resource(world, api):
    response = api.as_user(world.user("project_member")).post(ORDERS, create_body(world), format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    order = Order.objects.get(uuid=body["uuid"])
    assert body["type"] == "Create" and body["state"] == "pending-consumer"
    assert body["url"] == f"http://testserver/api/marketplace-orders/{order.uuid.hex}/"
    assert body["marketplace_resource_uuid"] == order.resource.uuid.hex
    assert order.resource.state == "Creating"
    assert body["limits"] == {"cpu": 10} and body["attributes"]["name"].startswith("alloc-")
    assert len(body) >= 95


def test_list_is_a_bare_array_with_count_and_link_headers(world, api):
    bulk_orders(world, 25)
    api.as_user(world.user("staff"))

    first = api.get(ORDERS, {"page_size": 10})
    middle = api.get(ORDERS, {"page_size": 10, "page": 2})
    last = api.get(ORDERS, {"page_size": 10, "page": 3})

    assert first.status_code == middle.status_code == last.status_code == 200
    assert isinstance(first.json(), list) and len(first.json()) == 10 and len(last.json()) == 5
    assert first.headers["X-Result-Count"] == "25"
    assert set(links_of(first)) == {"first", "next", "last"}
    assert set(links_of(middle)) == {"first", "prev", "next", "last"}
    assert set(links_of(last)) == {"first", "prev", "last"}
    for url in links_of(middle).values():
        assert url.startswith("http://testserver/api/marketplace-orders/?") and "page_size=10" in url
    assert "page=3" in links_of(middle)["next"] and "page=1" in links_of(middle)["prev"]
    assert "page=3" in links_of(first)["last"]


def test_single_page_list_has_first_and_last_links_only(world, api):
    make_order(world)

    response = api.as_user(world.user("staff")).get(ORDERS)

    assert response.headers["X-Result-Count"] == "1"
    assert set(links_of(response)) == {"first", "last"}


def test_link_urls_keep_repeated_filters_and_contain_no_raw_comma(world, api):
    bulk_orders(world, 3)

    response = api.as_user(world.user("staff")).get(
        f"{ORDERS}?state=pending-provider&state=executing&offering_type=Marketplace.Slurm,Marketplace.Basic&page_size=1"
    )

    links = links_of(response)
    assert len(response.headers["Link"].split(",")) == len(links) == 3  # first, next, last
    assert "state=pending-provider&state=executing" in links["next"] and "page=2" in links["next"]
    assert "offering_type=Marketplace.Slurm%2CMarketplace.Basic" in links["next"]
    assert len(api.get(links["next"]).json()) == 1


def test_head_answers_the_count_with_an_empty_body(world, api):
    bulk_orders(world, 4)
    make_order(world, "executing")

    response = api.as_user(world.user("provider_owner")).head(ORDERS, {"state": "executing"})

    assert response.status_code == 200
    assert response.headers["X-Result-Count"] == "1"
    assert response.content == b""


@pytest.mark.parametrize("spelling", ["hex", "dashed", "upper"])
def test_retrieve_accepts_hex_dashed_and_upper_case_uuids(world, api, spelling):
    order = make_order(world)

    response = api.as_user(world.user("consumer_owner")).get(order_url(order, spelling=spelling))

    assert response.status_code == 200
    assert response.json()["uuid"] == order.uuid.hex


def test_retrieve_accepts_an_upper_case_dashed_uuid(world, api):
    order = make_order(world)

    response = api.as_user(world.user("consumer_owner")).get(f"{ORDERS}{str(order.uuid).upper()}/")

    assert response.status_code == 200


@pytest.mark.parametrize(
    "action, user, state, kind, detail",
    [
        ("approve_by_consumer", "consumer_owner", "pending-consumer", "slurm", "Order is pending provider approval."),
        ("approve_by_provider", "provider_owner", "pending-provider", "slurm",
         "Order has been approved and is being processed."),
        ("set_consumer_info", "consumer_owner", "pending-provider", "slurm", None),
        ("set_provider_info", "provider_owner", "pending-provider", "slurm", None),
    ],
)  # fmt: skip
def test_approve_and_info_actions_answer_200_with_a_detail_string(world, api, action, user, state, kind, detail):
    order = make_order(world, state, kind)

    response = api.as_user(world.user(user)).post(order_url(order, action))

    assert response.status_code == 200, response.content
    assert isinstance(response.json()["detail"], str) and response.json()["detail"]
    if detail:
        assert response.json()["detail"] == detail


def test_approve_by_provider_answers_only_once_the_order_is_executing(world, api):
    order = make_order(world, "pending-provider")

    api.as_user(world.user("offering_manager")).post(order_url(order, "approve_by_provider"), {}, format="json")

    assert api.get(order_url(order) + "?field=uuid&field=state").json() == {
        "uuid": order.uuid.hex,
        "state": "executing",
    }


@pytest.mark.parametrize("spelling", ["hex", "dashed"])
def test_set_backend_id_answers_200_with_a_status_string(world, api, spelling):
    order = make_order(world, "executing")

    response = api.as_user(world.user("provider_owner")).post(
        order_url(order, "set_backend_id", spelling=spelling), {"backend_id": "job-1"}, format="json"
    )

    assert response.status_code == 200
    assert isinstance(response.json()["status"], str)
    order.refresh_from_db()
    assert order.backend_id == "job-1"


def test_set_backend_id_without_backend_id_is_400_naming_the_field(world, api):
    order = make_order(world, "executing")

    response = api.as_user(world.user("provider_owner")).post(order_url(order, "set_backend_id"), {}, format="json")

    assert response.status_code == 400
    assert "backend_id" in response.json()


def test_cancel_answers_202_and_cancels(world, api):
    order = make_order(world, "pending-provider", "basic")

    response = api.as_user(world.user("project_admin")).post(order_url(order, "cancel"))

    assert response.status_code == 202
    order.refresh_from_db()
    assert order.state == "canceled"


def test_destroy_answers_204_and_removes_the_order_and_its_unprovisioned_resource(world, api):
    order = make_order(world, "pending-consumer")

    response = api.as_user(world.user("project_manager")).delete(order_url(order))

    assert response.status_code == 204 and response.content == b""
    assert not Order.objects.filter(pk=order.pk).exists()
    assert not Resource.objects.filter(pk=order.resource_id).exists()


def test_unlink_answers_204_and_removes_the_order_for_staff(world, api):
    order = make_order(world, "executing")

    response = api.as_user(world.user("staff")).post(order_url(order, "unlink"))

    assert response.status_code == 204
    assert not Order.objects.filter(pk=order.pk).exists()


def test_update_attachment_answers_200_with_the_file_url_and_delete_attachment_204(world, api):
    order = make_order(world, "pending-consumer")
    api.as_user(world.user("project_member"))

    upload = SimpleUploadedFile("po.pdf", PDF, content_type="application/pdf")
    uploaded = api.post(order_url(order, "update_attachment"), {"attachment": upload}, format="multipart")
    deleted = api.post(order_url(order, "delete_attachment"))

    assert uploaded.status_code == 200, uploaded.content
    assert uploaded.json()["attachment"].startswith("http://testserver/")
    assert deleted.status_code == 204
    order.refresh_from_db()
    assert not order.attachment


def test_delete_attachment_of_an_order_with_an_attachment_answers_204(world, api):
    order = with_attachment(make_order(world, "pending-provider"))

    response = api.as_user(world.user("consumer_owner")).post(order_url(order, "delete_attachment"))

    assert response.status_code == 204


@pytest.mark.parametrize(
    "action, before, after, user",
    [
        ("set_state_executing", "pending-provider", "executing", "offering_manager"),
        ("set_state_done", "executing", "done", "provider_owner"),
        ("set_state_erred", "executing", "erred", "service_manager"),
        ("retry", "erred", "executing", "offering_manager"),
        ("reject_by_consumer", "pending-consumer", "rejected", "consumer_owner"),
        ("reject_by_provider", "pending-provider", "rejected", "provider_owner"),
    ],
)
def test_state_actions_answer_200(world, api, action, before, after, user):
    order = make_order(world, before)

    response = api.as_user(world.user(user)).post(order_url(order, action))

    assert response.status_code == 200, response.content
    order.refresh_from_db()
    assert order.state == after


def test_set_state_erred_accepts_a_dashed_uuid_and_stores_the_error(world, api):
    order = make_order(world, "executing")

    response = api.as_user(world.user("provider_owner")).post(
        order_url(order, "set_state_erred", spelling="dashed"),
        {"error_message": "disk full", "error_traceback": "Traceback ..."},
        format="json",
    )

    assert response.status_code == 200
    order.refresh_from_db()
    assert (order.state, order.error_message, order.error_traceback) == ("erred", "disk full", "Traceback ...")


@pytest.mark.parametrize("method", ["put", "patch"])
def test_put_and_patch_answer_200_with_limits_attributes_and_start_date(world, api, method):
    order = make_order(world, "pending-consumer")
    body = {"limits": {"cpu": 7}, "attributes": {"name": "renamed"}, "start_date": None}

    response = getattr(api.as_user(world.user("consumer_owner")), method)(order_url(order), body, format="json")

    assert response.status_code == 200, response.content
    assert response.json() == body
    order.refresh_from_db()
    assert order.limits == {"cpu": 7} and order.attributes == {"name": "renamed"}


def test_events_list_the_transitions_with_actor_and_states(world, api):
    api.as_user(world.user("consumer_owner"))
    created = api.post(ORDERS, create_body(world), format="json").json()
    api.as_user(world.user("provider_owner")).post(f"{ORDERS}{created['uuid']}/approve_by_provider/")

    response = api.get(f"{ORDERS}{created['uuid']}/events/")

    assert response.status_code == 200
    assert "X-Result-Count" in response.headers and "Link" in response.headers
    rows = [(e["kind"], e["actor_username"], e["from_state"], e["to_state"]) for e in response.json()]
    assert rows == [
        ("create", "consumer-owner", "", "pending-provider"),
        ("approve_by_provider", "provider-owner", "pending-provider", "executing"),
        ("processing", None, "executing", "executing"),  # Basic: handed over as it enters executing
    ]


def test_events_of_a_consumer_approval_name_the_approver(world, api):
    order = make_order(world, "pending-consumer")
    api.as_user(world.user("consumer_owner")).post(order_url(order, "approve_by_consumer"))

    events = api.get(order_url(order, "events")).json()

    assert [(e["kind"], e["actor_username"], e["from_state"], e["to_state"]) for e in events] == [
        ("approve_by_consumer", "consumer-owner", "pending-consumer", "pending-provider")
    ]


def test_resource_answers_200_with_the_orders_resource(world, api):
    order = make_order(world, "executing")

    response = api.as_user(world.user("project_member")).get(order_url(order, "resource"))

    assert response.status_code == 200
    assert response.json()["uuid"] == order.resource.uuid.hex
    assert response.json()["state"] == "Creating"


def test_offering_answers_200_with_the_orders_offering(world, api):
    order = make_order(world, "executing")

    response = api.as_user(world.user("project_member")).get(order_url(order, "offering"))

    assert response.status_code == 200
    assert response.json()["uuid"] == world.slurm.uuid.hex


@pytest.mark.parametrize("header", [None, "Token not-a-real-token", "Bearer abc"])
def test_requests_without_a_valid_token_are_401(world, api, header):
    order = make_order(world)
    api.as_user(None)
    if header:
        api.credentials(HTTP_AUTHORIZATION=header)

    responses = [api.get(ORDERS), api.get(order_url(order)), api.post(order_url(order, "approve_by_consumer"))]

    assert [r.status_code for r in responses] == [401, 401, 401]
    assert all("detail" in r.json() for r in responses)


@pytest.mark.parametrize(
    "path",
    ["/api/marketplace-orders", "/api/marketplace-orders/{hex}", "/api/marketplace-orders/{hex}/approve_by_consumer"],
)
def test_a_path_without_trailing_slash_is_404_never_a_redirect(world, api, path):
    order = make_order(world)
    api.as_user(world.user("staff"))

    get = api.get(path.format(hex=order.uuid.hex))
    post = api.post(path.format(hex=order.uuid.hex))

    assert (get.status_code, post.status_code) == (404, 404)
    order.refresh_from_db()
    assert order.state == "pending-consumer"
