"""/api/marketplace-orders/ refusals: 403, 404, 405, 409 and the documented check order
404 → 403 → 405 → 409 (DESIGN §4). A refused request changes nothing."""

from __future__ import annotations

import uuid as uuidlib

import pytest

from orders.models import Order
from tests.api import ORDERS, make_order, order_url, snapshot


def post(api, user, order, action, body=None):
    return api.as_user(user).post(order_url(order, action), body or {}, format="json")


def assert_unchanged(order: Order, counts) -> None:
    state = order.state
    order.refresh_from_db()
    assert order.state == state
    assert snapshot() == counts


def test_visible_order_without_the_right_is_403(world, api):
    order = make_order(world, "pending-provider")
    counts = snapshot()

    response = post(api, world.user("project_member"), order, "approve_by_provider")

    assert response.status_code == 403
    assert isinstance(response.json()["detail"], str)
    assert_unchanged(order, counts)


@pytest.mark.parametrize(
    "method, path",
    [
        ("get", "{orders}{missing}/"),
        ("post", "{orders}{missing}/approve_by_consumer/"),
        ("get", "{orders}not-a-uuid/"),
        ("get", "{orders}0123456789abcdef0123456789abcdeg/"),
        ("get", "{orders}{hex}0/"),
        ("get", "{orders}{hex_short}/"),
        ("get", "{orders}{dashed_wrong}/"),
        ("post", "{orders}{hex_short}/approve_by_consumer/"),
        ("post", "{orders}not-a-uuid/approve_by_consumer/"),
    ],
)
def test_unknown_or_malformed_uuid_is_404(world, api, method, path):
    order = make_order(world)
    hex_ = order.uuid.hex
    url = path.format(
        orders=ORDERS, missing=uuidlib.uuid4().hex, hex=hex_, hex_short=hex_[:-1],
        dashed_wrong=f"{hex_[:4]}-{hex_[4:]}",
    )  # fmt: skip

    response = getattr(api.as_user(world.user("staff")), method)(url)

    assert response.status_code == 404
    order.refresh_from_db()
    assert order.state == "pending-consumer"


@pytest.mark.parametrize("path", ["not-a-uuid/", "not-a-uuid/approve_by_consumer/", "%C2%84/"])
def test_404_for_a_malformed_uuid_path_is_json(world, api, path):
    response = api.as_user(world.user("staff")).get(f"{ORDERS}{path}")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert "detail" in response.json()


@pytest.mark.parametrize("user", ["stranger", "other_owner"])
@pytest.mark.parametrize("method, action", [("get", None), ("post", "approve_by_consumer"), ("delete", None),
                                            ("patch", None), ("get", "events"), ("get", "resource")])  # fmt: skip
def test_invisible_order_is_404_for_every_method(world, api, user, method, action):
    order = make_order(world, "pending-consumer")
    counts = snapshot()

    response = getattr(api.as_user(world.user(user)), method)(order_url(order, action), {}, format="json")

    assert response.status_code == 404
    assert_unchanged(order, counts)


@pytest.mark.parametrize(
    "user, action, kind, state",
    [
        ("consumer_owner", "cancel", "slurm", "pending-consumer"),
        ("staff", "cancel", "slurm", "executing"),
        ("provider_owner", "set_state_executing", "basic", "pending-provider"),
        ("provider_owner", "set_state_executing", "webhook", "pending-provider"),
    ],
)
def test_action_the_offering_type_does_not_support_is_405(world, api, user, action, kind, state):
    order = make_order(world, state, kind)
    counts = snapshot()

    response = post(api, world.user(user), order, action)

    assert response.status_code == 405
    assert world.offering(kind).type in response.json()["detail"]
    assert_unchanged(order, counts)


@pytest.mark.parametrize(
    "user, action, state, valid",
    [
        ("provider_owner", "approve_by_provider", "executing", ["pending-provider"]),
        ("provider_owner", "set_state_done", "pending-provider", ["executing"]),
        ("consumer_owner", "destroy", "executing", ["pending-consumer", "pending-provider"]),
        ("consumer_owner", "approve_by_consumer", "pending-provider", ["pending-consumer"]),
        ("provider_owner", "retry", "done", ["erred"]),
        ("provider_owner", "set_state_erred", "done", None),
        ("consumer_owner", "update", "pending-provider", ["pending-consumer"]),
        ("consumer_owner", "set_consumer_info", "executing", ["pending-consumer", "pending-provider"]),
    ],
)
def test_wrong_state_is_409_naming_the_valid_states(world, api, user, action, state, valid):
    order = make_order(world, state)
    counts = snapshot()
    api.as_user(world.user(user))

    if action == "destroy":
        response = api.delete(order_url(order))
    elif action == "update":
        response = api.patch(order_url(order), {"limits": {"cpu": 1}}, format="json")
    else:
        response = api.post(order_url(order, action))

    assert response.status_code == 409, response.content
    message = response.json()["detail"]
    assert "Valid states for operation:" in message
    for name in valid or ["pending-consumer", "executing", "erred"]:
        assert name in message
    if valid:
        assert response.json()["valid_states"] == valid
    assert_unchanged(order, counts)


# --- the order of the checks: 404 → 403 → 405 → 409 ----------------------------------------------
# Each request below would fail several checks; the first one in the documented order decides.


@pytest.mark.parametrize(
    "user, kind, state, expected",
    [
        ("other_owner", "slurm", "done", 404),  # invisible, no right, type, state
        ("project_member", "slurm", "done", 403),  # no right, type and state also wrong
        ("customer_support", "basic", "done", 403),  # no right, state wrong
        ("consumer_owner", "slurm", "done", 405),  # type and state wrong
        ("consumer_owner", "basic", "done", 409),  # state wrong only
        ("consumer_owner", "basic", "executing", 202),  # nothing wrong
    ],
)
def test_cancel_checks_run_in_the_documented_order(world, api, user, kind, state, expected):
    order = make_order(world, state, kind)

    response = post(api, world.user(user), order, "cancel")

    assert response.status_code == expected, response.content


@pytest.mark.parametrize(
    "user, kind, state, expected",
    [
        ("stranger", "basic", "done", 404),
        ("consumer_owner", "basic", "done", 403),  # consumer side has no provider right
        ("service_manager", "basic", "done", 405),  # basic offers no set_state_executing
        ("service_manager", "slurm", "done", 409),
        ("service_manager", "slurm", "erred", 200),
    ],
)
def test_set_state_executing_checks_run_in_the_documented_order(world, api, user, kind, state, expected):
    order = make_order(world, state, kind)

    response = post(api, world.user(user), order, "set_state_executing")

    assert response.status_code == expected, response.content


def test_unlink_by_a_non_staff_user_is_403_and_keeps_the_order(world, api):
    order = make_order(world, "executing")

    response = post(api, world.user("provider_owner"), order, "unlink")

    assert response.status_code == 403
    assert Order.objects.filter(pk=order.pk).exists()


def test_support_may_read_but_not_act(world, api):
    order = make_order(world, "pending-provider")
    counts = snapshot()
    api.as_user(world.user("support"))

    read = api.get(order_url(order))
    acted = api.post(order_url(order, "approve_by_provider"))

    assert (read.status_code, acted.status_code) == (200, 403)
    assert_unchanged(order, counts)


@pytest.mark.parametrize("user, expected", [("stranger", 404), ("project_member", 403)], ids=["invisible", "no-right"])
def test_bad_body_does_not_outrank_404_and_403(world, api, user, expected):
    order = make_order(world, "executing")
    api.as_user(world.user(user))

    answers = {
        "set_backend_id": api.post(order_url(order, "set_backend_id"), {}, format="json").status_code,
        "set_state_erred": api.post(
            order_url(order, "set_state_erred"), {"error_message": ["x"]}, format="json"
        ).status_code,
        "patch": api.patch(order_url(order), {"limits": "lots"}, format="json").status_code,
    }

    assert answers == {"set_backend_id": expected, "set_state_erred": expected, "patch": expected}


@pytest.mark.parametrize("method, action", [("post", "events"), ("post", "resource"), ("get", "approve_by_consumer")])
def test_a_method_the_endpoint_does_not_serve_is_405(world, api, method, action):
    order = make_order(world, "pending-consumer")

    response = getattr(api.as_user(world.user("consumer_owner")), method)(order_url(order, action))

    assert response.status_code == 405
