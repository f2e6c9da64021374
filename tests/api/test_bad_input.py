"""Bad input gets a clear 4xx with field-level messages and changes nothing (orders, resources and order
events are counted before and after)."""

from __future__ import annotations

import datetime as dt
import uuid as uuidlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests import factories as f
from tests.api import (
    ORDERS,
    PDF,
    create_body,
    make_order,
    offering_link,
    ok_resource,
    order_url,
    project_link,
    snapshot,
)

MISSING = "Invalid hyperlink - Object does not exist."


def messages_of(value) -> list[str]:
    """Field messages: a list of strings, or per key of a dict field (e.g. {"cpu": ["..."]})."""
    if isinstance(value, dict):
        return [m for v in value.values() for m in messages_of(v)]
    assert isinstance(value, list), value
    return value


def refused(response, field: str | None, counts, status: int = 400) -> None:
    assert response.status_code == status, response.content
    if field:
        messages = messages_of(response.json()[field])
        assert messages and all(isinstance(m, str) and m for m in messages), messages
    assert snapshot() == counts


@pytest.mark.parametrize(
    "change, field",
    [
        ({"limits": "ten"}, "limits"),
        ({"limits": {"cpu": -1}}, "limits"),
        ({"limits": {"cpu": "x"}}, "limits"),
        ({"limits": {"cpu": 1.5}}, "limits"),
        ({"limits": {"gpu": 1}}, "limits"),  # not a component of the offering
        ({"attributes": ["name", "x"]}, "attributes"),
        ({"attributes": "name=x"}, "attributes"),
        ({"attributes": {"name": "x" * 151}}, "attributes"),
        ({"start_date": "tomorrow"}, "start_date"),
        ({"start_date": "2001-01-01"}, "start_date"),  # in the past
        ({"callback_url": "not a url"}, "callback_url"),
        ({"slug": "not a slug!"}, "slug"),
        ({"offering": "not-a-link"}, "offering"),
        ({"offering": "http://testserver/api/marketplace-public-offerings/12345/"}, "offering"),
        ({"offering": 42}, "offering"),
        ({"plan": "http://testserver/api/marketplace-public-offerings/x/plans/y/"}, "plan"),
        ({"offering": None}, "offering"),
    ],
)
def test_create_with_a_bad_field_is_400_naming_it(world, api, change, field):
    counts = snapshot()

    response = api.as_user(world.user("consumer_owner")).post(ORDERS, create_body(world, **change), format="json")

    refused(response, field, counts)


@pytest.mark.parametrize("value", ["http://testserver/api/projects/xyz/", 7, None, ""])
def test_create_with_a_malformed_project_is_400(world, api, value):
    counts = snapshot()

    response = api.as_user(world.user("consumer_owner")).post(ORDERS, {**create_body(world), "project": value},
                                                               format="json")  # fmt: skip

    refused(response, "project", counts)


@pytest.mark.parametrize("field", ["offering", "project"])
def test_create_without_a_required_field_is_400_naming_it(world, api, field):
    body = create_body(world)
    del body[field]
    counts = snapshot()

    response = api.as_user(world.user("consumer_owner")).post(ORDERS, body, format="json")

    refused(response, field, counts)


def test_create_without_a_plan_on_a_shared_offering_is_400(world, api):
    body = create_body(world)
    del body["plan"]
    counts = snapshot()

    refused(api.as_user(world.user("consumer_owner")).post(ORDERS, body, format="json"), "plan", counts)


def test_create_with_a_plan_of_another_offering_is_400(world, api):
    counts = snapshot()
    body = create_body(world, "slurm", plan=create_body(world, "basic")["plan"])

    response = api.as_user(world.user("consumer_owner")).post(ORDERS, body, format="json")

    refused(response, "plan", counts)


def test_private_offering_of_another_organisation_cannot_be_ordered(world, api):
    private = f.OfferingFactory(customer=world.other_customer, shared=False, type="Marketplace.Basic")
    counts = snapshot()

    response = api.as_user(world.user("consumer_owner")).post(
        ORDERS, create_body(world, offering=offering_link(private), plan=None), format="json"
    )

    refused(response, "offering", counts)


def test_a_project_the_user_cannot_see_reads_exactly_like_a_missing_one(world, api):
    counts = snapshot()
    api.as_user(world.user("consumer_owner"))

    hidden = api.post(ORDERS, create_body(world, project=world.other_project), format="json")
    missing = api.post(ORDERS, {**create_body(world), "project": project_link(world.project).replace(
        world.project.uuid.hex, uuidlib.uuid4().hex)}, format="json")  # fmt: skip

    refused(hidden, "project", counts)
    assert hidden.json() == missing.json() == {"project": [MISSING]}
    assert "Other" not in hidden.content.decode()


def test_non_json_body_with_a_json_content_type_is_400(world, api):
    order = make_order(world, "pending-provider")
    counts = snapshot()
    api.as_user(world.user("consumer_owner"))

    created = api.post(ORDERS, "{not json", content_type="application/json")
    acted = api.as_user(world.user("provider_owner")).post(
        order_url(order, "approve_by_provider"), "[1,", content_type="application/json"
    )

    refused(created, None, counts)
    refused(acted, None, counts)
    assert "JSON" in created.json()["detail"]
    order.refresh_from_db()
    assert order.state == "pending-provider"


@pytest.mark.parametrize(
    "action, state, kind, user, expected",
    [
        ("approve_by_provider", "pending-provider", "slurm", "provider_owner", 200),
        ("reject_by_provider", "pending-provider", "slurm", "provider_owner", 200),
        ("reject_by_consumer", "pending-consumer", "slurm", "consumer_owner", 200),
        ("set_state_erred", "executing", "slurm", "provider_owner", 200),
        ("cancel", "executing", "basic", "consumer_owner", 202),
        ("set_consumer_info", "pending-provider", "slurm", "consumer_owner", 200),
        ("set_provider_info", "pending-provider", "slurm", "provider_owner", 200),
    ],
)
def test_action_post_without_body_or_content_type_is_treated_as_empty(world, api, action, state, kind, user, expected):
    order = make_order(world, state, kind)

    response = api.as_user(world.user(user)).generic("POST", order_url(order, action))

    assert response.status_code == expected, response.content


def test_set_backend_id_without_body_is_400_and_changes_nothing(world, api):
    order = make_order(world, "executing", backend_id="kept")
    counts = snapshot()

    response = api.as_user(world.user("provider_owner")).generic("POST", order_url(order, "set_backend_id"))

    refused(response, "backend_id", counts)
    order.refresh_from_db()
    assert order.backend_id == "kept"


@pytest.mark.parametrize(
    "body, field",
    [
        ({"limits": "ten"}, "limits"),
        ({"limits": {"cpu": -1}}, "limits"),
        ({"limits": {"cpu": "x"}}, "limits"),
        ({"attributes": ["x"]}, "attributes"),
        ({"start_date": "tomorrow"}, "start_date"),
        ({"start_date": (dt.date.today() - dt.timedelta(days=2)).isoformat()}, "start_date"),
    ],
)
def test_update_with_bad_input_is_400_and_the_order_is_unchanged(world, api, body, field):
    order = make_order(world, "pending-consumer", limits={"cpu": 2}, attributes={"name": "kept"})
    counts = snapshot()

    response = api.as_user(world.user("consumer_owner")).patch(order_url(order), body, format="json")

    refused(response, field, counts)
    order.refresh_from_db()
    assert (order.limits, order.attributes, order.start_date) == ({"cpu": 2}, {"name": "kept"}, None)


@pytest.mark.parametrize(
    "upload",
    [
        SimpleUploadedFile("po.txt", b"just text", content_type="text/plain"),
        SimpleUploadedFile("po.pdf", b"GIF89a not a pdf", content_type="application/pdf"),
        SimpleUploadedFile("big.pdf", PDF + b"0" * (10 * 1024 * 1024), content_type="application/pdf"),
    ],
    ids=["text", "pdf-name-not-content", "over-10-mb"],
)
def test_attachment_that_is_not_a_small_pdf_is_400_and_the_order_is_unchanged(world, api, upload):
    order = make_order(world, "pending-consumer")
    counts = snapshot()
    api.as_user(world.user("consumer_owner"))

    attached = api.post(order_url(order, "update_attachment"), {"attachment": upload}, format="multipart")
    upload.seek(0)
    message = api.post(
        order_url(order, "set_consumer_info"),
        {"consumer_message": "see file", "consumer_message_attachment": upload},
        format="multipart",
    )

    refused(attached, "attachment", counts)
    refused(message, "consumer_message_attachment", counts)
    order.refresh_from_db()
    assert not order.attachment and not order.consumer_message_attachment and order.consumer_message == ""


def test_attachment_given_as_a_string_is_400(world, api):
    order = make_order(world, "pending-consumer")
    counts = snapshot()

    response = api.as_user(world.user("consumer_owner")).post(
        order_url(order, "update_attachment"), {"attachment": "po.pdf"}, format="json"
    )

    refused(response, "attachment", counts)


@pytest.mark.parametrize(
    "body, field",
    [({"error_message": ["x"]}, "error_message"), ({"error_traceback": {"a": 1}}, "error_traceback")],
)
def test_set_state_erred_with_wrong_types_is_400(world, api, body, field):
    order = make_order(world, "executing")
    counts = snapshot()

    response = api.as_user(world.user("provider_owner")).post(order_url(order, "set_state_erred"), body, format="json")

    refused(response, field, counts)
    order.refresh_from_db()
    assert order.state == "executing"


@pytest.mark.parametrize(
    "action, body, field",
    [
        ("update_limits", {"limits": {"cpu": -1}}, "limits"),
        ("update_limits", {"limits": {"cpu": "x"}}, "limits"),
        ("update_limits", {"limits": "lots"}, "limits"),
        ("update_limits", {}, "limits"),
        ("terminate", {"attributes": ["x"]}, "attributes"),
        ("switch_plan", {}, "plan"),
        ("switch_plan", {"plan": "no-such-plan"}, "plan"),
        ("switch_plan", {"plan": uuidlib.uuid4().hex}, "plan"),
    ],
)
def test_resource_action_with_bad_input_is_400_and_places_no_order(world, api, action, body, field):
    resource = ok_resource(world)
    counts = snapshot()

    response = api.as_user(world.user("consumer_owner")).post(
        f"/api/marketplace-resources/{resource.uuid.hex}/{action}/", body, format="json"
    )

    refused(response, field, counts)
    resource.refresh_from_db()
    assert (resource.state, resource.limits) == ("OK", {"cpu": 5})


@pytest.mark.parametrize("path", ["/api/marketplace-resources/{x}/", "/api/marketplace-provider-resources/{x}/"])
@pytest.mark.parametrize("key", ["nope", "0123456789abcdef0123456789abcdeg", "0123"])
def test_malformed_resource_uuid_in_the_path_is_404(world, api, path, key):
    assert api.as_user(world.user("staff")).get(path.format(x=key)).status_code == 404
