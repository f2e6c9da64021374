"""Statements compiled once per connection (core/statements.py): the same rows as the queryset they stand
for, whatever values, lists and fragments a run binds, one logged query per run, and the SQL compiled
once."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import CharField, DateTimeField, IntegerField, Q
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token

from core import statements
from core.db import AnyOf
from core.statements import Fragment, InParam, Param, Statement
from orders import dispatch
from orders.models import Order
from permissions.models import UserProfile
from tests.factories import OrderFactory

COLUMNS = ("uuid", "state", "limits", "created", "project__name", "plan__name")


@pytest.fixture(autouse=True)
def no_tasks(monkeypatch):
    monkeypatch.setattr(dispatch, "_send", lambda name, *args: None)


@pytest.fixture
def orders(world):
    return [OrderFactory(limits={"cpu": i, "ram": 0.5 + i}) for i in range(6)]


@pytest.fixture
def compilations(monkeypatch):
    calls = []
    original = statements._Compiled.of.__func__

    def counting(cls, queryset, conn):
        calls.append(queryset.model)
        return original(cls, queryset, conn)

    monkeypatch.setattr(statements._Compiled, "of", classmethod(counting))
    wrapper = connections[DEFAULT_DB_ALIAS]  # the thread's connection (`connection` is a proxy to it)
    wrapper.__dict__.pop("_compiled_statements", None)  # a fresh cache for this test
    yield calls
    wrapper.__dict__.pop("_compiled_statements", None)


def test_params_bind_new_values_to_sql_compiled_once(orders, compilations):
    statement = Statement(
        lambda: (
            Order.objects.filter(pk__gte=Param("low", IntegerField()), created__lte=Param("now", DateTimeField()))
            .order_by("pk")
            .values_list(*COLUMNS)
        )
    )
    now = max(o.created for o in orders)
    for low in (orders[0].pk, orders[3].pk, orders[-1].pk + 1):
        with CaptureQueriesContext(connection) as ctx:
            rows = statement.rows(low=low, now=now)
        expected = list(Order.objects.filter(pk__gte=low, created__lte=now).order_by("pk").values_list(*COLUMNS))
        assert rows == expected  # converted as the ORM converts: uuids, JSON, aware datetimes
        assert len(ctx.captured_queries) == 1
    assert compilations == [Order]
    assert rows == [] and len(expected) == 0


def test_fragments_splice_a_subquery_with_its_own_parameters(world, orders, compilations):
    statement = Statement(
        lambda: Order.objects.filter(AnyOf("pk", Fragment("keys"))).order_by("-pk").values_list("pk", "state")
    )
    some = [o.pk for o in orders[1:4]]
    cases = [
        Order.objects.filter(pk__in=some).values("pk"),
        Order.objects.filter(project__customer__name=orders[0].project.customer.name).values("pk"),
        Order.objects.filter(pk__in=Order.objects.filter(pk__gt=orders[2].pk).values("pk")).values("pk")[:2],
    ]
    for keys in cases:
        expected = list(Order.objects.filter(pk__in=[k["pk"] for k in keys]).order_by("-pk").values_list("pk", "state"))
        assert statement.rows(keys=keys) == expected and expected
    assert compilations == [Order]


def test_a_fragment_that_matches_nothing_answers_no_rows_without_a_query(orders):
    statement = Statement(lambda: Order.objects.filter(AnyOf("pk", Fragment("keys"))).values_list("pk"))
    with CaptureQueriesContext(connection) as ctx:
        assert statement.rows(keys=Order.objects.filter(pk__in=[]).values("pk")) == []
    assert ctx.captured_queries == []


def test_objects_come_with_their_select_related_objects(world):
    user = world.user("consumer_owner")
    profile, _ = UserProfile.objects.get_or_create(user=user)
    token = Token.objects.create(user=user)
    bare = get_user_model().objects.create_user("no-profile")
    UserProfile.objects.filter(user=bare).delete()
    bare_token = Token.objects.create(user=bare)
    statement = Statement(
        lambda: Token.objects.select_related("user__marketplace_profile").filter(key=Param("key", CharField()))
    )

    with CaptureQueriesContext(connection) as ctx:
        (found,) = statement.objects(key=token.key)
        assert found == token and found.created == token.created
        assert found.user.username == user.username
        assert found.user.marketplace_profile.pk == profile.pk
        (found_bare,) = statement.objects(key=bare_token.key)
        with pytest.raises(UserProfile.DoesNotExist):
            found_bare.user.marketplace_profile  # noqa: B018 - cached as missing, as select_related caches it
        assert statement.objects(key="nothing") == []
    assert len(ctx.captured_queries) == 3  # one per run, none for the related objects
    assert statement.first(key=token.key) == token and statement.first(key="nothing") is None


@pytest.mark.parametrize("prepared", [True, False], ids=["server-side binding", "client-side binding"])
def test_a_list_parameter_is_one_condition_whatever_its_length(orders, compilations, prepared):
    """On PostgreSQL one array parameter, bound by the server (prepared) or by psycopg; elsewhere IN (…)."""
    statement = Statement(
        lambda: (
            Order.objects.filter(
                InParam("pk", "keys", IntegerField()) | InParam("project_id", "projects", IntegerField())
            )
            .order_by("pk")
            .values_list("pk")
        ),
        prepared=prepared,
    )
    keys, projects = [o.pk for o in orders], sorted({o.project_id for o in orders})
    for some, some_projects in [([], []), (keys[:1], []), (keys[1:4], []), ([], projects[:1]), (keys, projects)]:
        expected = list(
            Order.objects.filter(Q(pk__in=some) | Q(project_id__in=some_projects)).order_by("pk").values_list("pk")
        )
        assert statement.rows(keys=some, projects=some_projects) == expected
    assert compilations == [Order]
