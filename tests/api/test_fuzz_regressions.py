"""Every 500 found by fuzzing the API (schemathesis, hypothesis, hand-written probes) is now a clear 4xx in
JSON that names the parameter or field at fault, and changes nothing. They run on SQLite and PostgreSQL;
PostgreSQL is where most of them failed (NUL characters, UTC offsets, lone surrogates)."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, override_settings
from django.urls import get_resolver

from orders.models import Order, Resource
from orders.resource_views import ProviderResourceViewSet, ResourceViewSet
from orders.views import OrderViewSet
from tests.api import ORDERS, PDF, USERS, create_body, make_order, ok_resource, order_url, snapshot

RESOURCES = "/api/marketplace-resources/"
PROVIDER_RESOURCES = "/api/marketplace-provider-resources/"
LISTS = [ORDERS, RESOURCES, PROVIDER_RESOURCES]


def refused(response, field: str | None, counts=None, status: int = 400) -> dict:
    """A JSON 4xx; with `field`, the body names it with non-empty messages; nothing changed."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    if field:
        messages = body[field]
        assert messages and all(isinstance(m, str) and m for m in messages), body
    if counts is not None:
        assert snapshot() == counts
    return body


def raw_json(api, method: str, url: str, body) -> object:
    """Send `body` as JSON text exactly as given (json.dumps keeps NUL and lone surrogates escaped)."""
    return getattr(api, method)(url, json.dumps(body), content_type="application/json")


# --- NUL characters in query parameters ---------------------------------------------------------


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize(
    "params, named",
    [
        ({"state": ["pending-consumer", "\x00"]}, "state"),
        ({"offering_type": "\x00"}, "offering_type"),
        ({"offering_type": ["Marketplace.Slurm", "a\x00b"]}, "offering_type"),
        ({"offering_uuid": "\x00"}, "offering_uuid"),
        ({"query": "x\x00"}, "query"),
        ({"o": ["state", "\x00"]}, "o"),
    ],
)
def test_nul_in_a_query_parameter_is_400_naming_the_parameter(world, api, path, params, named):
    response = api.as_user(world.user("staff")).get(path, params)

    refused(response, named)


@pytest.mark.parametrize(
    "params, named",
    [
        ({"offering_slug": ["slurm", "\x00"]}, "offering_slug"),
        ({"type": ["Create", "\x00"]}, "type"),
        ({"resource_name": "a\x00"}, "resource_name"),
        ({"project_uuid": "\x00"}, "project_uuid"),
        ({"resource": "\x00"}, "resource"),
        ({"can_approve_as_consumer": "\x00"}, "can_approve_as_consumer"),
    ],
)
def test_nul_in_an_order_filter_is_400_naming_it(world, api, params, named):
    refused(api.as_user(world.user("staff")).get(ORDERS, params), named)


@pytest.mark.parametrize(
    "query, status",
    [("?st%00ate=x", 200), ("?field=uuid&field=%00", 200), ("?page=%00", 404), ("?page_size=%00", 200)],
)
def test_nul_in_a_parameter_no_filter_reads_is_ignored_like_any_unknown_value(world, api, query, status):
    response = api.as_user(world.user("staff")).get(ORDERS + query)

    assert response.status_code == status, response.content  # 404: "Invalid page.", as for ?page=x


def test_nul_in_a_list_filter_on_an_order_action_is_ignored_and_the_action_runs(world, api):
    order = make_order(world, "pending-consumer")

    response = api.as_user(world.user("consumer_owner")).post(order_url(order, "approve_by_consumer") + "?state=%00")

    assert response.status_code == 200, response.content


# --- date-times with UTC offsets -----------------------------------------------------------------


@pytest.mark.parametrize(
    "name, value",
    [
        ("created", "2024-01-01T00:00:00+99:00"),
        ("created", "0000-01-01T00:00:00"),
        ("created", "10000-01-01T00:00:00"),
        ("created", "9999-12-31T23:59:59-23:59"),  # past year 9999 in UTC
        ("created_before", "0001-01-01T00:00:00+23:59"),  # before year 1 in UTC
        ("modified", "9999-12-31T23:59:59-23:59"),
        ("modified_before", "0001-01-01T00:00:00+01:00"),
    ],
)
def test_a_date_time_filter_outside_what_can_be_stored_is_400_naming_it(world, api, name, value):
    response = api.as_user(world.user("staff")).get(ORDERS, {name: value})

    refused(response, name)


@pytest.mark.parametrize("offset", ["+20:00", "+23:59", "-16:30"])
def test_a_date_time_filter_with_an_offset_postgresql_cannot_store_is_compared_in_utc(world, api, offset):
    order = make_order(world, "pending-consumer")
    api.as_user(world.user("staff"))

    after = api.get(ORDERS, {"created": f"2000-01-01T00:00:00{offset}"})
    before = api.get(ORDERS, {"created_before": f"2000-01-01T00:00:00{offset}"})

    assert after.status_code == 200, after.content
    assert [row["uuid"] for row in after.json()] == [order.uuid.hex]
    assert before.status_code == 200 and before.json() == []


# --- NUL, lone surrogates and oversized values in attributes and limits -------------------------

BAD_ATTRIBUTES = [
    {"name": "x", "note": "a\x00b"},
    {"name": "x", "a\x00": "key with NUL"},
    {"name": "x", "nested": {"deeper": ["ok", {"k": "\x00"}]}},
    {"name": "x", "note": "\ud800"},
    {"name": "x", "\udfff": 1},
    {"name": "x", "big": "x" * (64 * 1024)},
    {"name": "x", **{f"k{i}": i for i in range(1001)}},
]
BAD_LIMITS = [{"\x00": 1}, {"cpu\udc00": 1}, {"cpu": 2**53}, {"cpu": 10**30}]
IDS_A = ["nul-value", "nul-key", "nul-nested", "surrogate-value", "surrogate-key", "over-64-KiB", "over-1000-keys"]


@pytest.mark.parametrize("attributes", BAD_ATTRIBUTES, ids=IDS_A)
def test_create_with_attributes_the_database_cannot_store_is_400_naming_attributes(world, api, attributes):
    counts = snapshot()

    response = raw_json(api.as_user(world.user("consumer_owner")), "post", ORDERS,
                        create_body(world, attributes=attributes))  # fmt: skip

    refused(response, "attributes", counts)


@pytest.mark.parametrize("limits", BAD_LIMITS, ids=["nul-key", "surrogate-key", "over-2^53", "over-10^30"])
def test_create_with_limits_the_database_cannot_store_is_400_naming_limits(world, api, limits):
    counts = snapshot()

    response = raw_json(api.as_user(world.user("consumer_owner")), "post", ORDERS, create_body(world, limits=limits))

    refused(response, "limits", counts)


def test_create_with_limits_that_price_beyond_the_cost_column_is_400_naming_limits(world, api):
    counts = snapshot()

    response = api.as_user(world.user("consumer_owner")).post(
        ORDERS, create_body(world, limits={"cpu": 10**13}), format="json"
    )

    assert "cost" in refused(response, "limits", counts)["limits"][0]


@pytest.mark.parametrize("method", ["put", "patch"])
@pytest.mark.parametrize(
    "body, field",
    [({"attributes": a}, "attributes") for a in BAD_ATTRIBUTES] + [({"limits": lim}, "limits") for lim in BAD_LIMITS],
)
def test_update_with_attributes_or_limits_the_database_cannot_store_is_400_and_changes_nothing(
    world, api, method, body, field
):
    order = make_order(world, "pending-consumer", limits={"cpu": 2}, attributes={"name": "kept"})
    counts = snapshot()

    response = raw_json(api.as_user(world.user("consumer_owner")), method, order_url(order), body)

    refused(response, field, counts)
    order.refresh_from_db()
    assert (order.limits, order.attributes) == ({"cpu": 2}, {"name": "kept"})


@pytest.mark.parametrize("attributes", BAD_ATTRIBUTES[:5], ids=IDS_A[:5])
def test_provider_approval_with_unstorable_attributes_is_400_and_the_order_waits(world, api, attributes):
    order = make_order(world, "pending-provider")

    response = raw_json(api.as_user(world.user("provider_owner")), "post", order_url(order, "approve_by_provider"),
                        {"attributes": attributes})  # fmt: skip

    refused(response, "attributes")
    order.refresh_from_db()
    assert order.state == "pending-provider"


def test_provider_approval_whose_merged_attributes_exceed_the_cap_is_400(world, api):
    order = make_order(world, "pending-provider", attributes={"name": "x", "a": "y" * 40_000})

    response = api.as_user(world.user("provider_owner")).post(
        order_url(order, "approve_by_provider"), {"attributes": {"b": "z" * 40_000}}, format="json"
    )

    refused(response, "attributes")
    order.refresh_from_db()
    assert order.state == "pending-provider"


@pytest.mark.parametrize(
    "action, body, field",
    [
        ("terminate", {"attributes": {"x": "\x00"}}, "attributes"),
        ("update_limits", {"limits": {"\x00": 1}}, "limits"),
        ("update_limits", {"limits": {"cpu": 2**60}}, "limits"),
    ],
)
def test_resource_action_with_values_the_database_cannot_store_is_400_and_places_no_order(
    world, api, action, body, field
):
    resource = ok_resource(world)
    counts = snapshot()

    response = raw_json(api.as_user(world.user("consumer_owner")), "post", f"{RESOURCES}{resource.uuid.hex}/{action}/",
                        body)  # fmt: skip

    refused(response, field, counts)


@pytest.mark.parametrize("limits", [{"\x00": 1}, {"cpu": 2**60}, {"cpu": -1}])
def test_provider_set_limits_with_values_the_database_cannot_store_is_400(world, api, limits):
    resource = ok_resource(world)

    response = raw_json(api.as_user(world.user("provider_owner")), "post",
                        f"{PROVIDER_RESOURCES}{resource.uuid.hex}/set_limits/", {"limits": limits})  # fmt: skip

    refused(response, "limits")
    resource.refresh_from_db()
    assert resource.limits == {"cpu": 5}


def test_attributes_within_the_caps_are_stored_as_given(world, api):
    attributes = {"name": "fine", "nested": {"list": [1, 2.5, None, True, "é ☃ 𝄞"]}, "empty": ""}

    response = api.as_user(world.user("consumer_owner")).post(
        ORDERS, create_body(world, attributes=attributes), format="json"
    )

    assert response.status_code == 201, response.content
    assert Order.objects.get(uuid=response.json()["uuid"]).attributes == attributes


# --- JSON bodies: nesting, numbers, size ---------------------------------------------------------


@pytest.mark.parametrize("depth", [33, 1000, 100_000])
def test_a_json_body_nested_deeper_than_the_limit_is_400(world, api, depth):
    order = make_order(world, "pending-consumer", attributes={"name": "kept"})
    counts = snapshot()
    body = '{"attributes": {"name": "x", "deep": ' + "[" * depth + "]" * depth + "}}"

    response = api.as_user(world.user("consumer_owner")).patch(order_url(order), body, content_type="application/json")

    assert "nested deeper than 32" in refused(response, None, counts)["detail"]
    order.refresh_from_db()
    assert order.attributes == {"name": "kept"}


def test_a_json_body_nested_to_the_limit_is_accepted(world, api):
    order = make_order(world, "pending-consumer")
    body = '{"attributes": {"name": "x", "deep": ' + "[" * 30 + "]" * 30 + "}}"  # 32 levels in all

    response = api.as_user(world.user("consumer_owner")).patch(order_url(order), body, content_type="application/json")

    assert response.status_code == 200, response.content


@override_settings(API_LIMITS={"JSON_MAX_DEPTH": 4})
def test_the_nesting_limit_is_a_setting(world, api):
    order = make_order(world, "pending-consumer")

    response = api.as_user(world.user("consumer_owner")).patch(
        order_url(order), {"attributes": {"a": {"b": {"c": [1]}}}}, format="json"
    )  # 5 levels

    assert "nested deeper than 4" in refused(response, None)["detail"]


def test_a_number_that_overflows_to_infinity_is_400(world, api):
    order = make_order(world, "pending-consumer")

    response = api.as_user(world.user("consumer_owner")).patch(
        order_url(order), '{"attributes": {"name": "x", "n": 1e999}}', content_type="application/json"
    )

    refused(response, None)


def test_a_json_body_over_the_size_limit_is_413_in_json(world, api):
    order = make_order(world, "pending-consumer", attributes={"name": "kept"})
    body = json.dumps({"attributes": {"name": "x", "big": "y" * 3_000_000}})

    response = api.as_user(world.user("consumer_owner")).patch(order_url(order), body, content_type="application/json")

    assert refused(response, None, status=413)["detail"].startswith("Request body exceeds the limit")
    order.refresh_from_db()
    assert order.attributes == {"name": "kept"}


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000)
def test_a_form_body_over_the_size_limit_is_413_in_json(world, api):
    order = make_order(world, "executing")

    response = api.as_user(world.user("provider_owner")).post(
        order_url(order, "set_state_erred"), {"error_message": "e" * 2000}, format="multipart"
    )

    refused(response, None, status=413)  # under the multipart cap: Django's own check of the fields
    order.refresh_from_db()
    assert order.state == "executing"


@override_settings(API_MAX_MULTIPART_BYTES=64 * 1024)
def test_an_upload_over_the_multipart_limit_is_413_in_json(world, api):
    order = make_order(world, "pending-consumer")
    upload = SimpleUploadedFile("po.pdf", PDF + b"0" * (128 * 1024), content_type="application/pdf")

    response = api.as_user(world.user("consumer_owner")).post(
        order_url(order, "update_attachment"), {"attachment": upload}, format="multipart"
    )

    refused(response, None, status=413)
    order.refresh_from_db()
    assert not order.attachment


# --- rows that vanish between get_object and the service's lock ---------------------------------


def vanish_after_lookup(monkeypatch, viewset, delete):
    """get_object finds the row; a concurrent request deletes it before the service locks it."""
    original = viewset.get_object

    def get_then_vanish(self):
        found = original(self)
        delete(found)
        return found

    monkeypatch.setattr(viewset, "get_object", get_then_vanish)


def vanish_before_the_lock(monkeypatch, viewset, delete):
    """An action that reads its order under the row lock (OrderViewSet.locked_object): a concurrent request
    deletes the row just before that read."""
    original = viewset.lookup_uuid

    def look_up_then_vanish(self):
        value = original(self)
        delete(value)
        return value

    monkeypatch.setattr(viewset, "lookup_uuid", look_up_then_vanish)


LOCKED_IN_THE_VIEW = {"approve_by_consumer", "reject_by_consumer", "approve_by_provider", "set_state_erred", "cancel"}


@pytest.mark.parametrize(
    "action, state, user, body",
    [
        ("approve_by_consumer", "pending-consumer", "consumer_owner", None),
        ("reject_by_consumer", "pending-consumer", "consumer_owner", None),
        ("approve_by_provider", "pending-provider", "provider_owner", None),
        ("set_state_erred", "executing", "provider_owner", None),
        ("cancel", "pending-consumer", "consumer_owner", None),
        ("set_backend_id", "executing", "provider_owner", {"backend_id": "b"}),
        ("set_consumer_info", "pending-provider", "consumer_owner", {"consumer_message": "m"}),
        ("delete_attachment", "pending-consumer", "consumer_owner", None),
    ],
)
def test_an_order_deleted_under_the_lock_is_404_in_json(world, api, monkeypatch, action, state, user, body):
    order = make_order(world, state)
    vanish = vanish_before_the_lock if action in LOCKED_IN_THE_VIEW else vanish_after_lookup
    vanish(monkeypatch, OrderViewSet, lambda _: Order.objects.filter(pk=order.pk).delete())

    response = api.as_user(world.user(user)).post(order_url(order, action), body, format="json")

    refused(response, None, status=404)


@pytest.mark.parametrize("method", ["delete", "patch"])
def test_an_order_deleted_under_the_lock_is_404_for_delete_and_update(world, api, monkeypatch, method):
    order = make_order(world, "pending-consumer")
    vanish_after_lookup(monkeypatch, OrderViewSet, lambda o: Order.objects.filter(pk=o.pk).delete())

    response = getattr(api.as_user(world.user("consumer_owner")), method)(order_url(order), {}, format="json")

    refused(response, None, status=404)


def test_an_attachment_upload_to_an_order_deleted_under_the_lock_is_404(world, api, monkeypatch):
    order = make_order(world, "pending-consumer")
    vanish_after_lookup(monkeypatch, OrderViewSet, lambda o: Order.objects.filter(pk=o.pk).delete())

    response = api.as_user(world.user("consumer_owner")).post(
        order_url(order, "update_attachment"),
        {"attachment": SimpleUploadedFile("po.pdf", PDF, content_type="application/pdf")},
        format="multipart",
    )

    refused(response, None, status=404)


@pytest.mark.parametrize(
    "viewset, path, action, user, body",
    [
        (ResourceViewSet, RESOURCES, "terminate", "consumer_owner", {}),
        (ResourceViewSet, RESOURCES, "update_limits", "consumer_owner", {"limits": {"cpu": 7}}),
        (ProviderResourceViewSet, PROVIDER_RESOURCES, "set_backend_id", "provider_owner", {"backend_id": "b"}),
        (ProviderResourceViewSet, PROVIDER_RESOURCES, "set_limits", "provider_owner", {"limits": {"cpu": 7}}),
    ],
)
def test_a_resource_deleted_under_the_lock_is_404_in_json(world, api, monkeypatch, viewset, path, action, user, body):
    resource = ok_resource(world)
    vanish_after_lookup(monkeypatch, viewset, lambda r: Resource.objects.filter(pk=r.pk).delete())

    response = api.as_user(world.user(user)).post(f"{path}{resource.uuid.hex}/{action}/", body, format="json")

    refused(response, None, status=404)
    assert snapshot() == (0, 0, 0)  # no order placed for the vanished resource


def test_the_resource_of_an_order_deleted_meanwhile_is_404(world, api, monkeypatch):
    order = make_order(world, "pending-consumer")
    vanish_after_lookup(monkeypatch, OrderViewSet, lambda o: Resource.objects.filter(pk=o.resource_id).delete())

    response = api.as_user(world.user("consumer_owner")).get(order_url(order, "resource"))

    refused(response, None, status=404)


@pytest.mark.parametrize("user", USERS)
def test_the_resource_of_an_order_answers_200_or_404_for_every_user(world, api, user):
    order = make_order(world, "executing")

    response = api.as_user(world.user(user)).get(order_url(order, "resource"))

    assert response.status_code in (200, 404), response.content


# --- Django's own error pages under /api/ are JSON -----------------------------------------------


@pytest.mark.parametrize(
    "handler, status",
    [("handler400", 400), ("handler403", 403), ("handler404", 404), ("handler500", 500)],
)
def test_django_error_pages_under_api_are_json_and_the_admin_keeps_html(rf, handler, status):
    view = get_resolver().resolve_error_handler(status)
    args = () if status == 500 else (Exception("x"),)

    api_answer = view(rf.get("/api/marketplace-orders/"), *args)
    admin_answer = view(rf.get("/admin/"), *args)

    assert api_answer.status_code == status and api_answer["Content-Type"] == "application/json"
    assert "detail" in json.loads(api_answer.content)
    assert admin_answer.status_code == status and admin_answer["Content-Type"].startswith("text/html")


def test_an_unexpected_error_under_api_answers_json_500_without_details(world, monkeypatch):
    def explode(self, request, *args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(OrderViewSet, "list", explode)
    client = Client(raise_request_exception=False)
    client.force_login(world.user("staff"))

    response = client.get(ORDERS)

    assert response.status_code == 500
    assert response.json() == {"detail": "Server error."}
    assert "secret" not in response.content.decode()


def test_a_bad_host_header_under_api_is_a_json_400(world, settings):
    settings.ALLOWED_HOSTS = ["good.example"]

    response = Client(raise_request_exception=False).get(ORDERS, HTTP_HOST="evil.example")

    assert response.status_code == 400
    assert response.json() == {"detail": "Bad request."}
