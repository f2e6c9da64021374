"""core/api/rows.py: a compiled serializer gives what DRF gives, field kind by field kind, including the
rules for missing relations (null, the default, or no key) that the order representation does not use."""

from __future__ import annotations

import decimal
import zoneinfo

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from core.api.computed import ComputedField, constant
from core.api.fields import HexUUIDField, SafeCharField
from core.api.links import LinkField
from core.api.rows import compile_rows
from orders.models import Order
from permissions.models import UserProfile
from tests.factories import OrderFactory, UserFactory

_RO = {"read_only": True}


class Kinds(serializers.Serializer):
    uuid = HexUUIDField(**_RO)
    dashed = serializers.UUIDField(source="uuid", format="hex_verbose", **_RO)
    link = LinkField("marketplace-orders", source="uuid")
    plan_link = LinkField("marketplace-plans", source="plan.uuid")
    plan_name = serializers.CharField(source="plan.name", **_RO)  # no plan: no key (DRF's SkipField)
    plan_name_or_null = serializers.CharField(source="plan.name", allow_null=True, **_RO)
    plan_name_safe = SafeCharField(source="plan.name", **_RO)
    plan_name_or_dash = serializers.CharField(source="plan.name", default="-", **_RO)
    civil_number = serializers.CharField(source="created_by.marketplace_profile.civil_number", **_RO)
    created = serializers.DateTimeField(**_RO)
    created_year = serializers.DateTimeField(source="created", format="%Y", **_RO)
    start_date = serializers.DateField(**_RO)
    cost = serializers.DecimalField(max_digits=22, decimal_places=10, allow_null=True, **_RO)
    cost_number = serializers.DecimalField(
        source="cost", max_digits=22, decimal_places=2, coerce_to_string=False, allow_null=True, **_RO
    )
    attempt = serializers.IntegerField(**_RO)
    transient = serializers.BooleanField(source="error_is_transient", **_RO)
    limits = serializers.DictField(child=serializers.IntegerField(), **_RO)
    attributes = serializers.DictField(**_RO)
    state = serializers.ChoiceField(choices=[("done", "Done")], **_RO)
    author_and_plan = ComputedField(
        lambda author_id, plan_hex: f"{author_id}/{plan_hex}", needs=("created_by_id", "plan.uuid"),
        output=OpenApiTypes.STR,
    )  # fmt: skip
    nothing = constant(None, OpenApiTypes.STR)

    class Meta:
        model = Order
        omit_when_empty = ("start_date", "plan_link")


@pytest.fixture
def orders(world):
    author = UserFactory(username="author")
    UserProfile.objects.update_or_create(user=author, defaults={"civil_number": "EE1"})
    with_plan = OrderFactory(
        project=world.project, offering=world.slurm, plan=world.plans["slurm"], created_by=author,
        cost=decimal.Decimal("1.23456789"), attributes={"a": [1, {"b": None}]}, limits={"cpu": 4},
    )  # fmt: skip
    bare = OrderFactory(project=world.project, offering=world.basic, plan=None, created_by=None)
    Order.objects.filter(pk=bare.pk).update(start_date=timezone.localdate(), error_is_transient=True)
    return [Order.objects.get(pk=with_plan.pk), Order.objects.get(pk=bare.pk)]


def context(user):
    request = Request(APIRequestFactory().get("/api/marketplace-orders/"))
    request.user = user
    return {"request": request}


def compiled(serializer_class, orders, ctx, names=()):
    plan = compile_rows(serializer_class, names)
    rows = plan.rows_for(Order.objects.filter(pk__in=[o.pk for o in orders]).values("pk"), ordering=["pk"])
    return plan.represent(rows, ctx)[0]


def test_every_field_kind_reads_as_drf_writes_it(world, orders):
    ctx = context(world.user("staff"))

    expected = [dict(Kinds(order, context=ctx).data) for order in orders]
    for item in expected:  # RepresentationMixin's rule, which the compiler applies from Meta
        for key in Kinds.Meta.omit_when_empty:
            if item.get(key) in (None, ""):
                item.pop(key, None)

    got = compiled(Kinds, orders, ctx)
    assert got == expected
    assert [list(item) for item in got] == [list(item) for item in expected]  # key order too
    assert "plan_name" not in got[1] and got[1]["plan_name_or_null"] is None and got[1]["plan_name_or_dash"] == "-"


def test_datetimes_are_written_in_the_current_time_zone(world, orders, settings):
    ctx = context(world.user("staff"))
    with timezone.override(zoneinfo.ZoneInfo("Pacific/Chatham")):  # +12:45 / +13:45
        expected = [Kinds(order, context=ctx).data["created"] for order in orders]
        got = [item["created"] for item in compiled(Kinds, orders, ctx, ["created"])]
    assert got == expected and "+1" in got[0]


def test_sparse_names_choose_keys_in_declaration_order(world, orders):
    got = compiled(Kinds, orders, context(world.user("staff")), ["cost", "uuid", "no_such_key"])

    assert [list(item) for item in got] == [["uuid", "cost"], ["uuid", "cost"]]


def test_fields_that_read_objects_cannot_be_compiled():
    class Method(serializers.Serializer):
        x = serializers.SerializerMethodField()

        class Meta:
            model = Order

        def get_x(self, order):
            return 1

    class CallableSource(serializers.Serializer):
        name = serializers.CharField(source="created_by.get_full_name", **_RO)

        class Meta:
            model = Order

    for serializer_class in (Method, CallableSource):
        with pytest.raises(ImproperlyConfigured):
            compile_rows(serializer_class)
