"""The order as the published clients parse it (clients.md §A.5, §C.2, Appendix F)."""

from __future__ import annotations

import re

import pytest

from tests.api import ORDERS, create_body, make_order, order_url
from tests.factories import OrderFactory, PlanFactory

# Every key of clients.md Appendix F: the 95 OrderDetails keys waldur-api-client 8.1.2 knows.
APPENDIX_F_KEYS = (
    "offering", "offering_name", "offering_uuid", "offering_description", "offering_image",
    "offering_thumbnail", "offering_type", "offering_shared", "offering_billable", "offering_plugin_options",
    "provider_name", "provider_uuid", "provider_slug", "provider_description", "category_title",
    "category_uuid", "category_icon", "plan", "plan_unit", "plan_name", "plan_uuid", "plan_description",
    "attributes", "limits", "uuid", "created", "modified", "resource_uuid", "resource_type", "resource_name",
    "cost", "state", "output", "output_updated_at", "marketplace_resource_uuid", "error_message",
    "error_traceback", "error_updated_at", "callback_url", "completed_at", "request_comment", "attachment",
    "type", "start_date", "slug", "url", "consumer_reviewed_by", "consumer_reviewed_by_full_name",
    "consumer_reviewed_by_username", "consumer_reviewed_at", "provider_reviewed_by",
    "provider_reviewed_by_full_name", "provider_reviewed_by_username", "provider_reviewed_at",
    "created_by_username", "created_by_full_name", "created_by_civil_number", "created_by_email",
    "created_by_organization", "created_by_organization_country", "created_by_organization_registry_code",
    "created_by_organization_vat_code", "created_by_organization_address", "customer_name", "customer_uuid",
    "customer_slug", "project_name", "project_uuid", "project_description", "project_slug", "old_plan_name",
    "new_plan_name", "old_plan_uuid", "new_plan_uuid", "old_cost_estimate", "new_cost_estimate",
    "can_terminate", "fixed_price", "activation_price", "termination_comment", "backend_id", "order_subtype",
    "provider_message", "provider_message_url", "provider_message_attachment", "provider_message_updated_at",
    "consumer_message", "consumer_message_attachment", "consumer_message_updated_at",
    "consumer_rejection_comment", "provider_rejection_comment", "auto_approved", "auto_approved_by_rule_uuid",
    "auto_approved_cost_limit_snapshot", "issue",
)  # fmt: skip
# Keys the clients crash on when null or "" (clients.md §0.5): present and valid, or absent.
STRICT_UUID_KEYS = (
    "uuid", "offering_uuid", "provider_uuid", "category_uuid", "customer_uuid", "project_uuid",
    "marketplace_resource_uuid",
)  # fmt: skip
STRICT_KEYS = (*STRICT_UUID_KEYS, "created", "modified", "state", "type")
DICT_KEYS = ("attributes", "limits", "offering_plugin_options")
ORDER_STATES = {"pending-consumer", "pending-provider", "pending-project", "pending-start-date", "executing",
                "done", "erred", "canceled", "rejected"}  # fmt: skip
ORDER_TYPES = {"Create", "Update", "Terminate", "Restore"}
HEX = re.compile(r"^[0-9a-f]{32}$")


def test_appendix_f_lists_95_keys():
    assert len(APPENDIX_F_KEYS) == len(set(APPENDIX_F_KEYS)) == 95


def test_full_retrieve_has_every_key_the_client_knows(world, api):
    order = make_order(world, "pending-provider")

    body = api.as_user(world.user("provider_owner")).get(order_url(order)).json()

    assert set(APPENDIX_F_KEYS) - set(body) == set()
    assert {"available_transitions", "attempt"} <= set(body)


def test_created_order_has_every_key_the_client_knows(world, api):
    body = api.as_user(world.user("project_admin")).post(ORDERS, create_body(world), format="json").json()

    assert set(APPENDIX_F_KEYS) - set(body) == set()


@pytest.mark.parametrize("with_plan", [True, False], ids=["with-plan", "no-plan-no-reviewers"])
def test_strict_keys_are_valid_never_null_or_empty(world, api, with_plan):
    order = make_order(world, "pending-consumer", plan=world.plans["slurm"] if with_plan else None)

    for body in (
        api.as_user(world.user("consumer_owner")).get(order_url(order)).json(),
        next(row for row in api.get(ORDERS).json() if row["uuid"] == order.uuid.hex),
    ):
        for key in STRICT_KEYS:
            assert body.get(key) not in (None, ""), key
        for key in STRICT_UUID_KEYS:
            assert HEX.match(body[key]), (key, body[key])
        for key in DICT_KEYS:
            assert isinstance(body[key], dict), key
        assert body["state"] in ORDER_STATES and body["type"] in ORDER_TYPES
        assert body["plan_uuid"] is None or HEX.match(body["plan_uuid"])
        assert body["consumer_reviewed_by"] is None and body["provider_reviewed_at"] is None


@pytest.mark.parametrize("state", sorted(ORDER_STATES))
def test_every_state_is_rendered_as_its_exact_wire_string(world, api, state):
    order = make_order(world, state)

    assert api.as_user(world.user("staff")).get(order_url(order)).json()["state"] == state


@pytest.mark.parametrize("order_type", sorted(ORDER_TYPES))
def test_every_type_is_rendered_as_its_exact_wire_string(world, api, order_type):
    order = make_order(world, "executing", type=order_type)

    assert api.as_user(world.user("staff")).get(order_url(order)).json()["type"] == order_type


def test_links_have_the_waldur_form(world, api):
    order = make_order(world, "pending-consumer")
    off, plan = world.slurm.uuid.hex, world.plans["slurm"].uuid.hex

    body = api.as_user(world.user("consumer_owner")).get(order_url(order, spelling="dashed")).json()

    assert body["url"] == f"http://testserver/api/marketplace-orders/{order.uuid.hex}/"
    assert body["offering"] == f"http://testserver/api/marketplace-public-offerings/{off}/"
    assert body["plan"] == f"http://testserver/api/marketplace-public-offerings/{off}/plans/{plan}/"


def test_order_without_plan_has_null_plan_link_and_fields(world, api):
    order = make_order(world, "pending-consumer", plan=None)

    body = api.as_user(world.user("consumer_owner")).get(order_url(order)).json()

    assert (body["plan"], body["plan_uuid"], body["plan_name"], body["new_plan_uuid"]) == (None, None, None, None)


def test_reviewers_are_named_once_the_order_is_reviewed(world, api):
    order = make_order(world, "pending-consumer")
    api.as_user(world.user("consumer_owner")).post(order_url(order, "approve_by_consumer"))
    api.as_user(world.user("provider_owner")).post(order_url(order, "approve_by_provider"))

    body = api.get(order_url(order)).json()

    assert body["consumer_reviewed_by_username"] == "consumer-owner"
    assert body["provider_reviewed_by_username"] == "provider-owner"
    assert body["consumer_reviewed_at"] and body["provider_reviewed_at"]


@pytest.mark.parametrize(
    "user, shown",
    [("staff", True), ("support", True), ("consumer_owner", False), ("provider_owner", False),
     ("offering_manager", False), ("project_member", False)],
)  # fmt: skip
def test_error_traceback_is_shown_to_staff_and_support_only(world, api, user, shown):
    order = make_order(world, "erred", error_message="boom", error_traceback="Traceback: secret internals")

    retrieved = api.as_user(world.user(user)).get(order_url(order)).json()
    listed = api.get(ORDERS).json()[0]

    expected = "Traceback: secret internals" if shown else ""
    assert retrieved["error_traceback"] == listed["error_traceback"] == expected
    assert retrieved["error_message"] == "boom"


@pytest.mark.parametrize(
    "user, transitions",
    [
        ("provider_owner", ["approve_by_provider", "reject_by_provider", "set_state_executing", "set_state_erred"]),
        ("offering_manager", ["approve_by_provider", "reject_by_provider", "set_state_executing", "set_state_erred"]),
        ("service_manager", ["approve_by_provider", "reject_by_provider", "set_state_executing", "set_state_erred"]),
        ("consumer_owner", ["destroy"]),
        ("project_admin", ["destroy"]),
        ("project_member", []),
        ("customer_support", []),
        ("support", []),
        ("staff", ["approve_by_provider", "reject_by_provider", "set_state_executing", "set_state_erred", "destroy"]),
    ],
)
def test_available_transitions_list_what_the_caller_may_do_now(world, api, user, transitions):
    order = make_order(world, "pending-provider")

    body = api.as_user(world.user(user)).get(order_url(order)).json()

    assert sorted(body["available_transitions"]) == sorted(transitions)


@pytest.mark.parametrize(
    "state, kind, user, transitions",
    [
        ("pending-consumer", "basic", "consumer_owner",
         ["approve_by_consumer", "reject_by_consumer", "cancel", "destroy"]),
        ("pending-consumer", "basic", "project_admin", ["cancel", "destroy"]),
        ("executing", "basic", "provider_owner", ["set_state_done", "set_state_erred"]),
        ("executing", "basic", "consumer_owner", ["cancel"]),
        ("erred", "slurm", "provider_owner", ["set_state_executing", "set_state_erred", "retry"]),
        ("erred", "slurm", "service_manager", ["set_state_executing", "set_state_erred"]),
        ("done", "slurm", "staff", []),
    ],
)  # fmt: skip
def test_available_transitions_follow_state_type_and_right(world, api, state, kind, user, transitions):
    order = make_order(world, state, kind)

    body = api.as_user(world.user(user)).get(order_url(order)).json()

    assert sorted(body["available_transitions"]) == sorted(transitions)


def test_available_transitions_agree_with_what_the_api_then_allows(world, api):
    order = make_order(world, "pending-provider")
    api.as_user(world.user("offering_manager"))

    offered = api.get(order_url(order)).json()["available_transitions"]
    answer = api.post(order_url(order, offered[0]))

    assert offered[0] == "approve_by_provider" and answer.status_code == 200


def test_sparse_fields_return_only_the_requested_keys(world, api):
    order = make_order(world, "executing")
    api.as_user(world.user("provider_owner"))

    retrieved = api.get(order_url(order), {"field": ["uuid", "state"]}).json()
    listed = api.get(f"{ORDERS}?field=uuid&field=state&field=no_such_key").json()

    assert retrieved == {"uuid": order.uuid.hex, "state": "executing"}
    assert listed == [{"uuid": order.uuid.hex, "state": "executing"}]


def test_update_order_names_its_subtype_and_old_plan(world, api):
    new_plan = PlanFactory(offering=world.slurm, name="bigger")
    order = OrderFactory(
        state="pending-provider", type="Update", offering=world.slurm, project=world.project, plan=new_plan,
        old_plan=world.plans["slurm"],
    )  # fmt: skip

    body = api.as_user(world.user("provider_owner")).get(order_url(order)).json()

    assert body["order_subtype"] == "plan_switch"
    assert (body["old_plan_uuid"], body["new_plan_uuid"]) == (world.plans["slurm"].uuid.hex, new_plan.uuid.hex)
