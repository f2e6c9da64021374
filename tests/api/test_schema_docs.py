"""The API documentation: every operation has a summary and a description, declares 401 and the 4xx codes
its view can answer; order actions are described from the action table; the API description draws every
transition of the order state machine and states the routing rules; order create has request examples."""

from __future__ import annotations

import io
from collections import Counter

import pytest
import yaml
from django.core.management import call_command

from orders.actions import ACTIONS
from orders.api_docs import fsm_edges
from orders.models import Order

METHODS = ("get", "post", "put", "patch", "delete")
ORDERS = "/api/marketplace-orders/"


@pytest.fixture(scope="module")
def schema() -> dict:
    out = io.StringIO()
    call_command("spectacular", "--format", "openapi", stdout=out)
    return yaml.safe_load(out.getvalue())


def operations(schema: dict):
    for path, ops in schema["paths"].items():
        for method, operation in ops.items():
            if method in METHODS:
                yield method, path, operation


def ids(schema: dict) -> list[str]:
    return [f"{m} {p}" for m, p, _ in operations(schema)]


def test_every_operation_has_a_summary_and_a_description_saying_who_may_call_it(schema):
    missing = [
        f"{method} {path}"
        for method, path, op in operations(schema)
        if not op.get("summary", "").strip() or "**Who may call it:** " not in op.get("description", "")
    ]

    assert missing == []


def test_no_boilerplate_description_is_shared_by_many_operations(schema):
    shared = Counter(op["description"] for _, _, op in operations(schema))

    assert [(text[:80], n) for text, n in shared.items() if n > 3] == []
    assert not any("routes accept hex or dashed" in op["description"] for _, _, op in operations(schema))


def test_every_authenticated_operation_declares_401(schema):
    undeclared = [
        f"{method} {path}"
        for method, path, op in operations(schema)
        if {} not in op.get("security", [{}]) and "401" not in op["responses"]
    ]

    assert undeclared == []


def test_every_operation_declares_the_4xx_codes_its_shape_implies(schema):
    """A path with an object uuid can be a 404; a request body can be a 400; an order action whose state is
    restricted can be a 409, whose offering type may not support it a 405, whose policy may refuse a 403."""
    missing = []
    for method, path, op in operations(schema):
        codes = {int(c) for c in op["responses"]}
        implied = set()
        if "{uuid}" in path:
            implied.add(404)
        if op.get("requestBody") and method in ("post", "put", "patch") and "properties" in str(op["requestBody"]):
            implied.add(400)
        if implied - codes:
            missing.append((method, path, sorted(implied - codes)))

    assert missing == []


def _order_action_operations(schema: dict):
    for name, action in ACTIONS.items():
        if name in ("release_project", "release_start_date"):  # run by the periodic sweep, no route
            continue
        if name == "update":
            yield action, [schema["paths"][f"{ORDERS}{{uuid}}/"][m] for m in ("put", "patch")]
        elif name == "destroy":
            yield action, [schema["paths"][f"{ORDERS}{{uuid}}/"]["delete"]]
        else:
            yield action, [schema["paths"][f"{ORDERS}{{uuid}}/{name}/"]["post"]]


def test_every_order_action_names_its_valid_states_and_declares_403_404_and_its_refusals(schema):
    for action, ops in _order_action_operations(schema):
        for op in ops:
            codes = {int(c) for c in op["responses"]}
            assert {401, 403, 404} <= codes, action.name
            if action.transition or action.states:
                assert 409 in codes, action.name
                assert all(f"`{s}`" in op["description"] for s in action.valid_states()), action.name
            if action.type_flag:
                assert 405 in codes, action.name
            assert "Pending order" not in op["summary"]


def test_order_action_descriptions_follow_the_state_machine(schema):
    retry = schema["paths"][f"{ORDERS}{{uuid}}/retry/"]["post"]["description"]
    cancel = schema["paths"][f"{ORDERS}{{uuid}}/cancel/"]["post"]["description"]

    assert "`erred`" in retry and "`executing`" in retry
    assert "`pending-consumer`" in cancel and "`done`" not in cancel.split("**Moves")[0]


def test_the_lifecycle_diagram_draws_every_transition_of_the_order_state_machine(schema):
    description = schema["info"]["description"]
    transitions = Order._meta.get_field("state").get_all_transitions(Order)

    assert "```mermaid\nstateDiagram-v2" in description
    for t in transitions:
        targets = getattr(t.target, "allowed_states", None) or [t.target]
        for target in targets:
            arrow = f"{t.source.replace('-', '_')} --> {target.replace('-', '_')} : {t.name}"
            assert arrow in description, arrow
    assert len(fsm_edges()) >= len(list(transitions))


def test_the_api_description_states_who_must_approve_what(schema):
    description = " ".join(schema["info"]["description"].split())

    assert "owners' orders skip the consumer review" in description
    assert "webhook orders skip the provider review" in description
    assert "disable_autoapprove" in description and "pending-project" in description


def test_order_create_has_examples_with_hyperlinks_and_with_bare_uuids(schema):
    create = schema["paths"][ORDERS]["post"]
    examples = create["requestBody"]["content"]["application/json"]["examples"]
    values = [e["value"] for e in examples.values()]

    assert any(v["offering"].startswith("https://") and v["project"].startswith("https://") for v in values)
    assert any("/" not in v["offering"] and "/" not in v["project"] and "/" not in v["plan"] for v in values)
    assert "hyperlink or a bare uuid" in create["description"]


def test_the_create_body_documents_that_references_take_a_hyperlink_or_a_uuid(schema):
    body = schema["components"]["schemas"]["OrderCreateRequest"]["properties"]

    for field in ("offering", "project", "plan"):
        assert "hyperlink" in body[field]["description"] and "uuid" in body[field]["description"], field
