"""The write path's SQL: each order action over the API runs a fixed, small number of statements, the
token costs one read and no write, and a user's grants are one query.

Counts include the transaction's own statements as Django reports them (BEGIN/COMMIT in a request; here,
inside the test's transaction, the SAVEPOINT/RELEASE that stand for them: the same number). Entering
executing where processing calls nothing (Basic, the site agent's type) records the processing in the same
transaction: one more INSERT, and no hand-off after commit.
"""

from __future__ import annotations

import re
import threading

import pytest
from django.db import connection
from django.db.models import Q
from django.test import Client
from django.test.utils import CaptureQueriesContext

from orders import dispatch, selectors, services
from orders.models import Order, OrderEvent
from permissions.models import UserRole
from permissions.roles import forget_grants, grants_of
from permissions.scoping import filter_visible, visible_q
from tests.api import ORDERS, USERS, create_body, order_url
from tests.conftest import requires_postgres
from tests.factories import grant_role, token_for

LIMIT = 10  # the bound for one lifecycle transition

# Token, grants (none for staff: they hold every right), BEGIN, the order locked, its UPDATE, the event,
# COMMIT; when the resource follows the order, its lock and UPDATE too.
STATE_ONLY, WITH_RESOURCE = 7, 9
HANDED_OVER = 1  # entering executing where processing calls nothing: its event, in the same transaction
# transition → (offering kind, state to start from, the user who acts, statements for that user, status)
TRANSITIONS = [
    ("approve_by_consumer", "basic", "pending-consumer", "consumer_owner", STATE_ONLY, 200),
    ("approve_by_consumer", "basic", "pending-consumer", "staff", STATE_ONLY - 1, 200),
    ("reject_by_consumer", "basic", "pending-consumer", "consumer_owner", WITH_RESOURCE, 200),
    ("reject_by_consumer", "basic", "pending-consumer", "project_member", WITH_RESOURCE, 200),  # the author
    ("approve_by_provider", "basic", "pending-provider", "provider_owner", STATE_ONLY + HANDED_OVER, 200),
    ("approve_by_provider", "basic", "pending-provider", "service_manager", STATE_ONLY + HANDED_OVER, 200),
    ("approve_by_provider", "slurm", "pending-provider", "offering_manager", STATE_ONLY + HANDED_OVER, 200),
    ("approve_by_provider", "basic", "pending-provider", "staff", STATE_ONLY - 1 + HANDED_OVER, 200),
    ("reject_by_provider", "basic", "pending-provider", "provider_owner", WITH_RESOURCE, 200),
    ("set_state_executing", "slurm", "pending-provider", "offering_manager", STATE_ONLY + HANDED_OVER, 200),
    ("set_state_done", "basic", "executing", "provider_owner", WITH_RESOURCE, 200),
    ("set_state_done", "slurm", "executing", "offering_manager", WITH_RESOURCE, 200),
    ("set_state_done", "basic", "executing", "staff", WITH_RESOURCE - 1, 200),
    ("set_state_erred", "basic", "executing", "provider_owner", WITH_RESOURCE, 200),
    ("retry", "basic", "erred", "provider_owner", WITH_RESOURCE + HANDED_OVER, 200),
    ("retry", "basic", "erred", "staff", WITH_RESOURCE - 1 + HANDED_OVER, 200),
    ("cancel", "basic", "pending-provider", "consumer_owner", WITH_RESOURCE, 202),
    ("cancel", "basic", "executing", "project_admin", WITH_RESOURCE, 202),
]
# Create, by who creates (where the order starts differs, the statements do not): token, grants (not for
# staff), the body's offering, project and plan, the offering's components (the limits), BEGIN, resource,
# the plan's prices, order, event, COMMIT, and the order read back for the answer (its representation).
CREATES = {"consumer_owner": 13, "project_member": 13, "staff": 12}
WRITE_ON_AUTH_ROWS = re.compile(r'^\s*(UPDATE|INSERT INTO|DELETE FROM) "(authtoken_token|auth_user)"', re.IGNORECASE)


def post(api, user, url: str, body: dict | None = None):
    api.as_user(user)
    return api.post(url, body or {}, format="json")


def order_in(world, api, kind: str, state: str) -> Order:
    """An order of `world.<kind>` brought to `state` through the API, as its users would."""
    author = "project_member" if state == "pending-consumer" else "consumer_owner"
    response = post(api, world.user(author), ORDERS, create_body(world, kind))
    assert response.status_code == 201, response.content
    order = Order.objects.get(uuid=response.json()["uuid"])
    provider = world.user("offering_manager" if kind == "slurm" else "provider_owner")
    steps = {"executing": ["approve_by_provider"], "erred": ["approve_by_provider", "set_state_erred"]}
    for step in steps.get(state, []):
        order.refresh_from_db()
        if order.state == "executing" and step == "approve_by_provider":  # a type without provider review
            continue
        assert post(api, provider, order_url(order, step)).status_code == 200
    order.refresh_from_db()
    assert order.state == state
    return order


def statements(api, user, url: str, body: dict | None = None, *, status: int = 200) -> list[str]:
    api.as_user(user)
    with CaptureQueriesContext(connection) as ctx:
        response = api.post(url, body or {}, format="json")
    assert response.status_code == status, response.content
    return [q["sql"] for q in ctx.captured_queries]


@pytest.mark.parametrize(("action", "kind", "state", "user", "expected", "status"), TRANSITIONS)
def test_each_transition_runs_a_fixed_number_of_statements(world, api, action, kind, state, user, expected, status):
    order = order_in(world, api, kind, state)

    sqls = statements(api, world.user(user), order_url(order, action), status=status)

    assert len(sqls) == expected, "\n".join(sqls)
    assert len(sqls) <= LIMIT
    assert OrderEvent.objects.filter(order=order, kind=action).count() == 1


@pytest.mark.parametrize("user", list(CREATES))
def test_create_runs_a_fixed_number_of_statements(world, api, user):
    sqls = statements(api, world.user(user), ORDERS, create_body(world, "basic"), status=201)

    assert len(sqls) == CREATES[user], "\n".join(sqls)


def test_an_action_reads_the_order_once_under_its_lock(world, api):
    order = order_in(world, api, "basic", "executing")

    sqls = statements(api, world.user("provider_owner"), order_url(order, "set_state_done"))

    order_reads = [s for s in sqls if s.startswith('SELECT "orders_order".')]
    assert len(order_reads) == 1, order_reads
    if connection.features.has_select_for_update:  # SQLite locks the whole database instead
        assert order_reads[0].rstrip().endswith('FOR UPDATE OF "orders_order"'), order_reads
    assert not [s for s in sqls if s.startswith("SAVEPOINT")][1:], "one transaction, no nested savepoint"


def test_a_basic_order_is_handed_over_by_the_approval_itself(world, api, django_capture_on_commit_callbacks):
    """A Basic order's processing calls nothing: the approval marks the attempt handled in its own UPDATE
    and records that the order waits for the provider; nothing runs after commit (no task, no worker)."""
    order = order_in(world, api, "basic", "pending-provider")
    with django_capture_on_commit_callbacks() as callbacks:
        request = statements(api, world.user("provider_owner"), order_url(order, "approve_by_provider"))

    assert len(request) == STATE_ONLY + HANDED_OVER
    assert callbacks == []
    handled = Order.objects.get(pk=order.pk)
    assert (handled.processing_attempt, handled.processing_lease_until, handled.processing_due_at) == (1, None, None)
    assert OrderEvent.objects.filter(order=order, kind="processing").count() == 1


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_token_request_writes_nothing_to_the_token_or_the_user(world, api, method):
    order = order_in(world, api, "basic", "pending-provider")
    api.as_user(world.user("provider_owner"))
    with CaptureQueriesContext(connection) as ctx:
        if method == "get":
            response = api.get(order_url(order))
        else:
            response = api.post(order_url(order, "approve_by_provider"), {}, format="json")
    assert response.status_code == 200

    sqls = [q["sql"] for q in ctx.captured_queries]
    assert not [s for s in sqls if WRITE_ON_AUTH_ROWS.match(s)]
    assert len([s for s in sqls if '"authtoken_token"' in s]) == 1  # the one read


def test_the_token_read_brings_the_support_flag(world, api):
    """is_support reads the user's profile: loaded with the token, not by a query of its own."""
    api.as_user(world.user("support"))
    with CaptureQueriesContext(connection) as ctx:
        assert api.get(f"{ORDERS}?field=uuid").status_code == 200

    sqls = [q["sql"] for q in ctx.captured_queries]
    assert not [s for s in sqls if s.startswith('SELECT "permissions_userprofile"')], sqls
    assert '"permissions_userprofile"' in next(s for s in sqls if '"authtoken_token"' in s)


def test_grants_are_one_query(world, django_assert_num_queries):
    user = world.user("provider_owner")
    forget_grants(user)

    with django_assert_num_queries(1):
        grants = grants_of(user)

    assert grants.has("ORDER.APPROVE", [("customer", world.provider.pk)])
    assert grants.has_role("CUSTOMER.OWNER", [("customer", world.provider.pk)])


def test_grants_leave_out_expired_and_inactive_roles_and_keep_roles_without_grants(world):
    import datetime

    from django.utils import timezone

    from permissions.models import RolePermission

    user = world.user("stranger")
    grant_role(user, "PROJECT.MEMBER", world.project)
    UserRole.objects.filter(pk=grant_role(user, "CUSTOMER.OWNER", world.customer).pk).update(
        expiration_time=timezone.now() - datetime.timedelta(seconds=1)
    )
    UserRole.objects.filter(pk=grant_role(user, "CUSTOMER.OWNER", world.other_customer).pk).update(is_active=False)
    RolePermission.objects.filter(role__name="OFFERING.MANAGER").delete()
    grant_role(user, "OFFERING.MANAGER", world.basic)
    forget_grants(user)

    grants = grants_of(user)

    assert grants.by_scope == {
        ("project", world.project.pk): {"ORDER.LIST", "ORDER.CREATE"},
        ("offering", world.basic.pk): set(),
    }
    assert grants.roles_by_scope == {
        ("project", world.project.pk): {"PROJECT.MEMBER"},
        ("offering", world.basic.pk): {"OFFERING.MANAGER"},
    }


def test_visibility_of_one_order_matches_the_list_scoping(world, api):
    """visible_q (a Q) and visible_condition (statement parameters) agree with the list's scoping."""
    orders = [order_in(world, api, kind, "pending-provider") for kind in ("basic", "slurm")]
    orders += [order_in(world, api, "webhook", "executing"), order_in(world, api, "basic", "pending-provider")]
    Order.objects.filter(pk=orders[-1].pk).update(project=world.other_project)

    for key in USERS:
        user = world.user(key)
        scoped = set(filter_visible(user, Order.objects.all()).values_list("pk", flat=True))
        condition = visible_q(user) or Q()
        one_by_one = {o.pk for o in orders if Order.objects.filter(condition, pk=o.pk).exists()}
        assert one_by_one == scoped & {o.pk for o in orders}, key
        locked = set()  # the actions' read: the same rule as a compiled statement (visible_condition)
        for o in orders:
            with services.order_locked_for_write(uuid=o.uuid, viewer=user) as found:
                if found is not None:
                    assert found.pk == o.pk and found.offering.pk == o.offering_id
                    locked.add(found.pk)
        assert locked == one_by_one, key


@requires_postgres
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_four_requests_on_one_token_do_not_wait_for_its_row(world, monkeypatch):
    """The token's and the user's rows are held by another transaction as an UPDATE of them would hold
    them: four concurrent requests on the one token still answer, since none of them writes those rows."""
    import psycopg

    monkeypatch.setattr(dispatch, "_send", lambda name, *args: None)
    owner = world.user("provider_owner")
    key = token_for(owner)
    creator = Client(HTTP_AUTHORIZATION=f"Token {token_for(world.user('consumer_owner'))}")
    pending = []
    for _ in range(2):
        response = creator.post(ORDERS, create_body(world, "basic"), content_type="application/json")
        assert response.status_code == 201
        pending.append(response.json()["uuid"])
    requests = [
        ("get", f"{ORDERS}?field=uuid", 200),
        ("get", f"{ORDERS}{pending[0]}/", 200),
        ("post", f"{ORDERS}{pending[0]}/approve_by_provider/", 200),
        ("post", f"{ORDERS}{pending[1]}/approve_by_provider/", 200),
    ]
    answers: dict[int, int] = {}

    def send(index: int, method: str, url: str) -> None:
        try:
            client = Client(HTTP_AUTHORIZATION=f"Token {key}")  # one connection each, one token for all
            answers[index] = getattr(client, method)(url, content_type="application/json").status_code
        finally:
            connection.close()

    settings = connection.settings_dict
    holder = psycopg.connect(
        host=settings["HOST"], port=settings["PORT"] or 5432, user=settings["USER"],
        password=settings["PASSWORD"] or None, dbname=settings["NAME"],
    )  # fmt: skip
    try:
        holder.execute('SELECT 1 FROM "authtoken_token" WHERE "key" = %s FOR NO KEY UPDATE', [key])
        holder.execute('SELECT 1 FROM "auth_user" WHERE "id" = %s FOR NO KEY UPDATE', [owner.pk])
        threads = [threading.Thread(target=send, args=(i, m, u)) for i, (m, u, _) in enumerate(requests)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        blocked = [t for t in threads if t.is_alive()]
    finally:
        holder.rollback()
        holder.close()
    for thread in threads:
        thread.join(timeout=30)

    assert not blocked, "a request waited for the token's or the user's row"
    assert answers == {i: status for i, (_, _, status) in enumerate(requests)}


def test_create_resolves_offering_project_and_plan_by_the_rules_of_their_querysets(world):
    """The compiled lookups of the create body (orders/selectors.py) find exactly what the querysets that
    state the rules hold, for every user: no object outside them, none missing."""
    from tests.factories import OfferingFactory, ProjectFactory

    offerings = [
        world.basic,  # shared
        OfferingFactory(customer=world.customer, shared=False),  # private, of the consumer's organisation
        OfferingFactory(customer=world.other_customer, shared=False),
        OfferingFactory(customer=world.provider, shared=False, project=world.project),  # private, for a project
    ]
    projects = [world.project, world.other_project, ProjectFactory(customer=world.customer, is_removed=True)]
    seen = {}
    for key in USERS:
        user = world.user(key)
        orderable = set(selectors.offerings_orderable_by(user).values_list("pk", flat=True))
        found = {o.pk for o in offerings if selectors.orderable_offering(user, o.uuid) is not None}
        assert found == orderable & {o.pk for o in offerings}, key
        seen[key] = found
        visible = set(selectors.projects_visible_to(user).values_list("pk", flat=True))
        found = {p.pk for p in projects if selectors.visible_project(user, p.uuid) is not None}
        assert found == visible & {p.pk for p in projects}, key
    assert seen["consumer_owner"] == {offerings[0].pk, offerings[1].pk, offerings[3].pk}
    assert seen["stranger"] == {offerings[0].pk} and seen["staff"] == {o.pk for o in offerings}
    plan = world.plans["basic"]
    assert selectors.plan_by_uuid(plan.uuid) == plan and selectors.plan_by_uuid(world.basic.uuid) is None
