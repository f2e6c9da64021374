"""Who may do what, over HTTP: every role user of the `world` × every order action (DESIGN §3 grants, plus
ORDER.RETRY for owners and offering managers, seed 000).

Each cell puts a fresh order into the state its action needs, so 200/201/202/204 means the action really
happened and 403/404/405 is a refusal (which must change nothing). Columns follow tests.api.USERS:

    st staff · su support · str stranger · co consumer_owner · cs customer_support · pa project_admin ·
    pm project_manager · mem project_member · po provider_owner · sm service_manager ·
    om offering_manager (of the slurm offering) · oo other_owner (owner of the other consumer organisation)
"""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from orders.models import Order
from tests import factories as f
from tests.api import (
    ORDERS,
    PDF,
    USERS,
    create_body,
    listed_uuids,
    make_order,
    ok_resource,
    order_url,
    with_attachment,
)

# action: (state the order is put in, offering kind)
SETUP = {
    "retrieve": ("pending-consumer", "slurm"),
    "create": (None, "slurm"),
    "approve_by_consumer": ("pending-consumer", "slurm"),
    "reject_by_consumer": ("pending-consumer", "slurm"),
    "approve_by_provider": ("pending-provider", "slurm"),
    "reject_by_provider": ("pending-provider", "slurm"),
    "set_state_executing": ("pending-provider", "slurm"),
    "set_state_done": ("executing", "slurm"),
    "set_state_erred": ("executing", "slurm"),
    "retry": ("erred", "slurm"),
    "cancel": ("pending-consumer", "slurm"),  # Marketplace.Slurm does not support cancel: 405 for holders
    "cancel_basic": ("pending-consumer", "basic"),
    "destroy": ("pending-consumer", "slurm"),
    "unlink": ("executing", "slurm"),
    "set_backend_id": ("executing", "slurm"),
    "update": ("pending-consumer", "slurm"),
    "update_attachment": ("pending-consumer", "slurm"),
    "delete_attachment": ("pending-provider", "slurm"),
    "set_consumer_info": ("pending-consumer", "slurm"),
    "set_provider_info": ("pending-provider", "slurm"),
}

# An order of the world's consumer project on the world's offerings.
WORLD_ORDER = {
    #                       st   su   str  co   cs   pa   pm   mem  po   sm   om   oo
    "retrieve":            (200, 200, 404, 200, 200, 200, 200, 200, 200, 200, 200, 404),
    "create":              (201, 403, 400, 201, 403, 201, 201, 201, 400, 400, 400, 400),
    "approve_by_consumer": (200, 403, 404, 200, 403, 403, 403, 403, 403, 403, 403, 404),
    "reject_by_consumer":  (200, 403, 404, 200, 403, 403, 403, 403, 403, 403, 403, 404),
    "approve_by_provider": (200, 403, 404, 403, 403, 403, 403, 403, 200, 200, 200, 404),
    "reject_by_provider":  (200, 403, 404, 403, 403, 403, 403, 403, 200, 200, 200, 404),
    "set_state_executing": (200, 403, 404, 403, 403, 403, 403, 403, 200, 200, 200, 404),
    "set_state_done":      (200, 403, 404, 403, 403, 403, 403, 403, 200, 200, 200, 404),
    "set_state_erred":     (200, 403, 404, 403, 403, 403, 403, 403, 200, 200, 200, 404),
    "retry":               (200, 403, 404, 403, 403, 403, 403, 403, 200, 403, 200, 404),
    "cancel":              (405, 403, 404, 405, 403, 405, 405, 403, 403, 403, 403, 404),
    "cancel_basic":        (202, 403, 404, 202, 403, 202, 202, 403, 403, 403, 404, 404),
    "destroy":             (204, 403, 404, 204, 403, 204, 204, 403, 403, 403, 403, 404),
    "unlink":              (204, 403, 404, 403, 403, 403, 403, 403, 403, 403, 403, 404),
    "set_backend_id":      (200, 403, 404, 403, 403, 403, 403, 403, 200, 403, 200, 404),
    "update":              (200, 403, 404, 200, 403, 403, 403, 403, 403, 403, 403, 404),
    "update_attachment":   (200, 403, 404, 200, 403, 200, 200, 200, 403, 403, 403, 404),
    "delete_attachment":   (204, 403, 404, 204, 403, 204, 204, 204, 403, 403, 403, 404),
    "set_consumer_info":   (200, 403, 404, 200, 403, 403, 403, 403, 403, 403, 403, 404),
    "set_provider_info":   (200, 403, 404, 403, 403, 403, 403, 403, 200, 200, 200, 404),
}  # fmt: skip

# An order of the OTHER organisation's project (world.other_project) on offerings of a provider nobody in
# the world works for: only staff, support and that organisation's owner see it.
OTHER_ORDER = {
    #                       st   su   str  co   cs   pa   pm   mem  po   sm   om   oo
    "retrieve":            (200, 200, 404, 404, 404, 404, 404, 404, 404, 404, 404, 200),
    "create":              (201, 403, 400, 400, 400, 400, 400, 400, 400, 400, 400, 201),
    "approve_by_consumer": (200, 403, 404, 404, 404, 404, 404, 404, 404, 404, 404, 200),
    "reject_by_consumer":  (200, 403, 404, 404, 404, 404, 404, 404, 404, 404, 404, 200),
    "approve_by_provider": (200, 403, 404, 404, 404, 404, 404, 404, 404, 404, 404, 403),
    "reject_by_provider":  (200, 403, 404, 404, 404, 404, 404, 404, 404, 404, 404, 403),
    "set_state_executing": (200, 403, 404, 404, 404, 404, 404, 404, 404, 404, 404, 403),
    "set_state_done":      (200, 403, 404, 404, 404, 404, 404, 404, 404, 404, 404, 403),
    "set_state_erred":     (200, 403, 404, 404, 404, 404, 404, 404, 404, 404, 404, 403),
    "retry":               (200, 403, 404, 404, 404, 404, 404, 404, 404, 404, 404, 403),
    "cancel":              (405, 403, 404, 404, 404, 404, 404, 404, 404, 404, 404, 405),
    "cancel_basic":        (202, 403, 404, 404, 404, 404, 404, 404, 404, 404, 404, 202),
    "destroy":             (204, 403, 404, 404, 404, 404, 404, 404, 404, 404, 404, 204),
    "unlink":              (204, 403, 404, 404, 404, 404, 404, 404, 404, 404, 404, 403),
    "set_backend_id":      (200, 403, 404, 404, 404, 404, 404, 404, 404, 404, 404, 403),
    "update":              (200, 403, 404, 404, 404, 404, 404, 404, 404, 404, 404, 200),
    "update_attachment":   (200, 403, 404, 404, 404, 404, 404, 404, 404, 404, 404, 200),
    "delete_attachment":   (204, 403, 404, 404, 404, 404, 404, 404, 404, 404, 404, 204),
    "set_consumer_info":   (200, 403, 404, 404, 404, 404, 404, 404, 404, 404, 404, 200),
    "set_provider_info":   (200, 403, 404, 404, 404, 404, 404, 404, 404, 404, 404, 403),
}  # fmt: skip


@pytest.fixture
def foreign(world):
    """kind → (offering, plan) of a provider organisation none of the world's users belongs to."""
    provider = f.CustomerFactory(name="Foreign provider", slug="foreign-provider")
    category = world.slurm.category
    offerings = {}
    for kind, type_ in (("slurm", "Marketplace.Slurm"), ("basic", "Marketplace.Basic")):
        offering = f.OfferingFactory(customer=provider, category=category, type=type_, slug=f"foreign-{kind}")
        component = f.OfferingComponentFactory(offering=offering, type="cpu")
        plan = f.PlanFactory(offering=offering)
        f.PlanComponentFactory(plan=plan, component=component)
        offerings[kind] = (offering, plan)
    return offerings


def call(api, user, action: str, order: Order | None, body: dict | None = None):
    api.as_user(user)
    if action == "create":
        return api.post(ORDERS, body, format="json")
    if action == "retrieve":
        return api.get(order_url(order))
    if action == "destroy":
        return api.delete(order_url(order))
    if action == "update":
        return api.patch(order_url(order), {"limits": {"cpu": 3}}, format="json")
    if action == "update_attachment":
        upload = SimpleUploadedFile("po.pdf", PDF, content_type="application/pdf")
        return api.post(order_url(order, action), {"attachment": upload}, format="multipart")
    bodies = {
        "set_backend_id": {"backend_id": "backend-1"},
        "set_consumer_info": {"consumer_message": "note"},
        "set_provider_info": {"provider_message": "note"},
    }
    return api.post(order_url(order, action.removesuffix("_basic")), bodies.get(action, {}), format="json")


def attempt(world, api, username: str, action: str, offerings: dict, project) -> int:
    """One cell: a fresh order in the right state, the request, and 'nothing changed' on refusal."""
    state, kind = SETUP[action]
    offering, plan = offerings[kind]
    user = world.user(username)
    if action == "create":
        body = create_body(world, project=project, offering=f"http://testserver/api/marketplace-public-offerings/"
                           f"{offering.uuid.hex}/", plan=f"http://testserver/api/marketplace-public-offerings/"
                           f"{offering.uuid.hex}/plans/{plan.uuid.hex}/")  # fmt: skip
        before = Order.objects.count()
        response = call(api, user, action, None, body)
        assert Order.objects.count() == before + (response.status_code == 201), (username, action)
        return response.status_code
    order = make_order(world, state, project=project, offering=offering, plan=plan)
    if action == "delete_attachment":
        with_attachment(order)
    response = call(api, user, action, order)
    if response.status_code >= 400:
        assert Order.objects.filter(pk=order.pk, state=state).exists(), (username, action, "changed on refusal")
    return response.status_code


@pytest.mark.parametrize("action", list(WORLD_ORDER))
def test_permission_matrix_on_an_order_of_the_worlds_consumer_project(world, api, action):
    offerings = {kind: (world.offering(kind), world.plans[kind]) for kind in ("slurm", "basic")}

    actual = {user: attempt(world, api, user, action, offerings, world.project) for user in USERS}

    assert actual == dict(zip(USERS, WORLD_ORDER[action], strict=True))


@pytest.mark.parametrize("action", list(OTHER_ORDER))
def test_permission_matrix_on_an_order_of_the_other_organisation(world, api, foreign, action):
    actual = {user: attempt(world, api, user, action, foreign, world.other_project) for user in USERS}

    assert actual == dict(zip(USERS, OTHER_ORDER[action], strict=True))


def test_tables_cover_every_user_and_the_same_actions():
    assert set(WORLD_ORDER) == set(OTHER_ORDER) == set(SETUP)
    assert all(len(row) == len(USERS) for row in (*WORLD_ORDER.values(), *OTHER_ORDER.values()))


def test_list_shows_each_user_exactly_the_orders_they_may_see(world, api, foreign):
    mine = make_order(world, "pending-provider").uuid.hex
    theirs = make_order(world, "pending-provider", project=world.other_project, offering=foreign["slurm"][0],
                        plan=foreign["slurm"][1]).uuid.hex  # fmt: skip
    theirs_on_slurm = make_order(world, "pending-provider", project=world.other_project).uuid.hex
    expected = {
        "staff": {mine, theirs, theirs_on_slurm},
        "support": {mine, theirs, theirs_on_slurm},
        "stranger": set(),
        "consumer_owner": {mine},
        "customer_support": {mine},
        "project_admin": {mine},
        "project_manager": {mine},
        "project_member": {mine},
        "provider_owner": {mine, theirs_on_slurm},
        "service_manager": {mine, theirs_on_slurm},
        "offering_manager": {mine, theirs_on_slurm},
        "other_owner": {theirs, theirs_on_slurm},
    }

    seen = {user: set(listed_uuids(api.as_user(world.user(user)).get(ORDERS))) for user in USERS}
    counted = {user: int(api.as_user(world.user(user)).head(ORDERS).headers["X-Result-Count"]) for user in USERS}

    assert seen == expected
    assert counted == {user: len(uuids) for user, uuids in expected.items()}


# --- resource actions ---------------------------------------------------------------------------
# A provisioned (OK) resource of the consumer project on the slurm offering, with no order pending.

RESOURCE_ACTIONS = {
    #                                st   su   str  co   cs   pa   pm   mem  po   sm   om   oo
    ("consumer", "retrieve"):      (200, 200, 404, 200, 200, 200, 200, 200, 404, 404, 404, 404),
    ("consumer", "terminate"):     (200, 403, 404, 200, 403, 200, 200, 403, 404, 404, 404, 404),
    ("consumer", "update_limits"): (200, 403, 404, 200, 403, 200, 200, 403, 404, 404, 404, 404),
    ("consumer", "switch_plan"):   (200, 403, 404, 200, 403, 200, 200, 403, 404, 404, 404, 404),
    ("provider", "retrieve"):      (200, 200, 404, 404, 404, 404, 404, 404, 200, 200, 200, 404),
    ("provider", "set_backend_id"): (200, 403, 404, 404, 404, 404, 404, 404, 200, 403, 200, 404),
    ("provider", "set_limits"):    (200, 403, 404, 404, 404, 404, 404, 404, 200, 200, 200, 404),
}  # fmt: skip
RESOURCE_ROOT = {"consumer": "/api/marketplace-resources/", "provider": "/api/marketplace-provider-resources/"}


@pytest.mark.parametrize("side, action", list(RESOURCE_ACTIONS))
def test_permission_matrix_on_resource_actions(world, api, side, action):
    other_plan = f.PlanFactory(offering=world.slurm, name="other plan")
    bodies = {
        "terminate": {},
        "update_limits": {"limits": {"cpu": 9}},
        "switch_plan": {"plan": f"http://testserver/api/marketplace-public-offerings/{world.slurm.uuid.hex}/plans/"
                                f"{other_plan.uuid.hex}/"},
        "set_backend_id": {"backend_id": "slurm-account-1"},
        "set_limits": {"limits": {"cpu": 9}},
    }  # fmt: skip

    def one(username: str) -> int:
        resource = ok_resource(world)
        url = f"{RESOURCE_ROOT[side]}{resource.uuid.hex}/"
        api.as_user(world.user(username))
        response = api.get(url) if action == "retrieve" else api.post(f"{url}{action}/", bodies[action], format="json")
        resource.refresh_from_db()
        if response.status_code >= 400:
            assert (resource.state, resource.limits, resource.backend_id) == ("OK", {"cpu": 5}, ""), username
            assert not resource.orders.exists(), username
        elif side == "consumer" and action != "retrieve":
            assert resource.orders.get().uuid.hex == response.json()["order_uuid"], username
        return response.status_code

    actual = {user: one(user) for user in USERS}

    assert actual == dict(zip(USERS, RESOURCE_ACTIONS[(side, action)], strict=True))
