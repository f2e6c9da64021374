"""The compiled read path answers byte for byte what the serializer did.

Orders in every state and type, with and without plan, old plan, reviewers, author, profile, costs,
attachments, messages and tracebacks, JSON attributes with unicode, U+2028 and floats that encoders print
differently; read by every role through list (with filters, orderings and sparse fields), retrieve and
create. Each body is compared with DRF's own JSONRenderer over ReferenceOrderDetailsSerializer (the
serializer of commit 697196b, kept as the oracle) for the same orders, in the same order, as the same user.
"""

from __future__ import annotations

import datetime
import decimal
import itertools

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from django_fsm import can_proceed
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from orders.actions import ACTIONS
from orders.models import Order
from orders.states import OrderState as S
from orders.states import OrderType
from permissions.models import UserProfile
from tests.api import ORDERS, create_body, order_url
from tests.api.reference_order_details import ReferenceOrderDetailsSerializer
from tests.factories import OrderFactory, PlanFactory, UserFactory

ROLES = (
    "staff", "support", "consumer_owner", "customer_support", "project_admin", "project_member",
    "provider_owner", "service_manager", "offering_manager", "other_owner", "stranger",
)  # fmt: skip
SPARSE = (
    "",
    "field=uuid&field=state",
    "field=plan&field=fixed_price&field=activation_price&field=available_transitions&field=can_terminate",
    "field=offering_plugin_options&field=attachment&field=created_by_full_name&field=error_traceback",
    "field=resource_name&field=marketplace_resource_uuid&field=old_plan_uuid&field=cost&field=no_such_key",
    "field=uuid,created,modified,start_date",
)
ATTRIBUTES = (
    {},
    {"name": "plain"},
    {"name": 'ünïcödé ✓ \u2028 line\u2029 "quoted" \\ / \x1f', "nested": {"list": [1, 2.5, None, True]}},
    {"tiny": 1e-07, "huge": 1e22, "exact": 0.1, "neg": -0.0},  # exponents print differently in orjson
)


@pytest.fixture
def orders(world):
    """One order per state, spread over types, offerings and every optional value."""
    reviewer = UserFactory(username="reviewer", first_name="Rita", last_name="Reviewer")
    nameless = UserFactory(username="nameless", first_name="", last_name="")
    profiled = UserFactory(username="profiled", first_name="Paula", last_name="")
    UserProfile.objects.update_or_create(
        user=profiled, defaults={"civil_number": "EE123", "organization": "Research Lab"}
    )
    tiny = PlanFactory(offering=world.slurm, name="tiny", unit_price=decimal.Decimal("0.0000001"), init_price=3)
    world.slurm.category.icon = "https://icons.example.org/hpc.png"
    world.slurm.category.save()
    world.webhook.plugin_options = {"webhook_url": "https://fulfil.example.org/", "webhook_secret": "s3cr3t"}
    world.webhook.save()
    made = []
    kinds = itertools.cycle(("basic", "slurm", "webhook"))
    authors = itertools.cycle((world.user("project_member"), profiled, nameless, None))
    for n, (state, order_type) in enumerate(itertools.product(S.values, (OrderType.CREATE, OrderType.UPDATE))):
        kind = next(kinds)
        order = OrderFactory(
            project=world.project if n % 5 else world.other_project, offering=world.offering(kind),
            plan=None if n % 7 == 3 else (tiny if kind == "slurm" and n % 2 else world.plans[kind]), type=order_type,
            created_by=next(authors), attributes=ATTRIBUTES[n % len(ATTRIBUTES)], limits={"cpu": n, "ram": 2048},
        )  # fmt: skip
        now = timezone.now() - datetime.timedelta(days=n, microseconds=n * 7)
        values = {
            "state": state,
            "cost": [None, decimal.Decimal("12.5"), decimal.Decimal("0.0000001"), decimal.Decimal("-0")][n % 4],
            "old_cost": [None, decimal.Decimal("3"), decimal.Decimal("1E-7")][n % 3],
            "old_plan": world.plans[kind] if order_type == OrderType.UPDATE and n % 2 else None,
            "consumer_reviewed_by": reviewer if n % 3 else None,
            "consumer_reviewed_at": now if n % 3 else None,
            "provider_reviewed_by": nameless if n % 4 == 1 else None,
            "provider_reviewed_at": now if n % 4 == 1 else None,
            "error_message": "backend said no" if state == S.ERRED else "",
            "error_traceback": "Traceback (most recent call last): …" if state == S.ERRED else "",
            "error_updated_at": now if state == S.ERRED else None,
            "completed_at": now if state in (S.DONE, S.CANCELED, S.REJECTED) else None,
            "start_date": now.date() if state == S.PENDING_START_DATE else None,
            "attachment": f"orders/attachments/{order.uuid.hex}/ab12cd34/purchase order.pdf" if n % 6 == 0 else "",
            "provider_message": "see the attached" if n % 5 == 1 else "",
            "provider_message_attachment": f"orders/messages/{order.uuid.hex}/0f/reply.pdf" if n % 5 == 1 else None,
            "output": "line one\nline two" if state == S.DONE else "",
            "output_updated_at": now if state == S.DONE else None,
            "callback_url": "https://callback.example.org/hook" if n % 8 == 2 else None,
            "backend_id": f"job-{n}" if n % 2 else "",
            "attempt": 1 + n % 3,
            "error_is_transient": state == S.ERRED and n % 2 == 1,
        }
        Order.objects.filter(pk=order.pk).update(**values)  # any state, bypassing the transitions
        made.append(order)
    return made


def reference_body(user, url: str, orders, *, many: bool) -> bytes:
    """What DRF's renderer writes for the reference serializer as `user` asking `url`."""
    request = Request(APIRequestFactory().get(url))
    request.user = user
    context = {"request": request, "format": None, "view": None}
    data = ReferenceOrderDetailsSerializer(orders, many=many, context=context).data
    return JSONRenderer().render(data)


def reference_orders(uuids: list[str]) -> list[Order]:
    by_uuid = {o.uuid.hex: o for o in Order.objects.filter(uuid__in=uuids)}
    return [by_uuid[u] for u in uuids]


@pytest.mark.parametrize("role", ROLES)
def test_list_bodies_equal_the_reference_serializer(world, api, orders, role):
    user = User.objects.get(pk=world.user(role).pk)
    for sparse, extra in itertools.product(SPARSE, ("", "&o=-created", "&state=erred&state=done", "&o=state&o=cost")):
        url = f"{ORDERS}?page_size=300&{sparse}{extra}"
        response = api.as_user(user).get(url)
        assert response.status_code == 200, response.content
        uuids = [row["uuid"] for row in api.get(f"{ORDERS}?page_size=300&field=uuid{extra}").json()]
        assert len(uuids) == len(response.json())

        assert response.content == reference_body(user, url, reference_orders(uuids), many=True), url
        assert response["X-Result-Count"] == str(len(uuids))


@pytest.mark.parametrize("role", ["staff", "consumer_owner", "project_member", "provider_owner", "offering_manager"])
def test_retrieve_bodies_equal_the_reference_serializer(world, api, orders, role):
    user = User.objects.get(pk=world.user(role).pk)
    seen = 0
    for order in orders:
        for sparse in ("", "field=uuid&field=available_transitions"):
            url = f"{order_url(order)}?{sparse}"
            response = api.as_user(user).get(url)
            if response.status_code == 404:
                assert not Order.objects.filter(pk=order.pk, project=world.project).exists() or role in (
                    "provider_owner", "offering_manager",
                )  # fmt: skip
                continue
            seen += 1
            order = Order.objects.get(pk=order.pk)
            assert response.content == reference_body(user, url, order, many=False), url
    assert seen


@pytest.mark.parametrize("role", ["consumer_owner", "project_member", "staff"])
def test_create_body_equals_the_reference_serializer(world, api, role):
    user = User.objects.get(pk=world.user(role).pk)
    response = api.as_user(user).post(ORDERS, create_body(world, "slurm"), format="json")
    assert response.status_code == 201, response.content

    order = Order.objects.get(uuid=response.json()["uuid"])
    assert response.content == reference_body(user, ORDERS, order, many=False)


def test_awkward_floats_are_written_as_python_writes_them(world, api, orders):
    body = api.as_user(world.user("staff")).get(f"{ORDERS}?page_size=300&field=attributes&field=fixed_price").content

    assert b'"tiny":1e-07' in body
    # PostgreSQL's jsonb keeps 1e22 as the integer 10000000000000000000000: beyond 64 bits, written by DRF
    assert b'"huge":1e+22' in body or b'"huge":10000000000000000000000' in body
    assert b"\\u2028" in body and "\u2028".encode() not in body


@pytest.mark.parametrize("state", S.values)
def test_order_facts_allow_what_the_state_machine_allows(world, state):
    """available_transitions reads the transitions' source states; django-fsm's can_proceed is the authority."""
    order = OrderFactory(project=world.project, offering=world.slurm, plan=world.plans["slurm"])
    Order.objects.filter(pk=order.pk).update(state=state)
    order = Order.objects.get(pk=order.pk)
    for action in ACTIONS.values():
        if action.transition:
            assert action.state_allows(order) == can_proceed(getattr(order, action.transition)), action.name
