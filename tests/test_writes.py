"""Row writes with SQL built once per connection (core/writes.py): the same row as save() writes, defaults
and auto_now included, one logged statement per write, the SQL built once, and save() itself wherever a
model has save signals."""

from __future__ import annotations

import datetime
import uuid

import pytest
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.models import signals
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.writes import insert, update_columns
from orders import dispatch
from orders.models import Order, OrderEvent, Resource
from tests.factories import OrderFactory


@pytest.fixture(autouse=True)
def no_tasks(monkeypatch):
    monkeypatch.setattr(dispatch, "_send", lambda name, *args: None)


@pytest.fixture
def fresh_cache():
    wrapper = connections[DEFAULT_DB_ALIAS]
    wrapper.__dict__.pop("_compiled_writes", None)
    yield wrapper
    wrapper.__dict__.pop("_compiled_writes", None)


def _row(model, pk) -> dict:
    return model.objects.filter(pk=pk).values().get()


def _without(row: dict, *names: str) -> dict:
    return {k: v for k, v in row.items() if k not in names}


def test_insert_writes_the_row_save_writes(world, fresh_cache):
    order = OrderFactory()
    payload = {"nested": {"list": [1, 2.5, None, "x"]}, "text": "ünïcode"}
    fields = {"order": order, "kind": "k", "actor": world.user("staff"), "from_state": "a", "to_state": "b"}
    saved = OrderEvent(**fields, payload=payload)
    saved.save()
    inserted = OrderEvent(**fields, payload=payload)

    with CaptureQueriesContext(fresh_cache) as ctx:
        assert insert(inserted) is inserted

    assert len(ctx.captured_queries) == 1 and ctx.captured_queries[0]["sql"].startswith("INSERT")
    assert inserted.pk is not None and inserted.pk != saved.pk
    assert not inserted._state.adding and inserted._state.db == DEFAULT_DB_ALIAS
    ignored = ("id", "created")
    assert _without(_row(OrderEvent, inserted.pk), *ignored) == _without(_row(OrderEvent, saved.pk), *ignored)
    assert _row(OrderEvent, inserted.pk)["created"] == inserted.created  # the default, evaluated once
    assert OrderEvent.objects.get(pk=inserted.pk).payload == payload


def test_insert_fills_defaults_and_auto_now_as_save_does(world, fresh_cache):
    before = timezone.now()
    resource = insert(Resource(project=world.project, offering=world.basic, name="r"))

    stored = Resource.objects.get(pk=resource.pk)
    assert (stored.state, stored.limits, stored.attributes, stored.backend_id, stored.end_date) == (
        "Creating", {}, {}, "", None
    )  # fmt: skip
    assert before <= stored.created == resource.created
    assert before <= stored.modified == resource.modified
    assert stored.uuid == resource.uuid


def test_an_order_inserted_reads_back_as_the_factory_saved_one(world, fresh_cache):
    template = OrderFactory(limits={"cpu": 2}, attributes={"name": "x"}, cost="12.5000000000")
    values = {f.attname: getattr(template, f.attname) for f in Order._meta.concrete_fields if not f.primary_key}
    copy = Order(**{**values, "uuid": uuid.uuid4()})

    insert(copy)

    ignored = ("id", "uuid", "modified")  # modified: auto_now, stamped by the insert as by save()
    assert _without(_row(Order, copy.pk), *ignored) == _without(_row(Order, template.pk), *ignored)
    assert _row(Order, copy.pk)["modified"] == copy.modified >= template.modified


def test_update_columns_writes_only_the_named_columns_and_stamps_auto_now(world, fresh_cache):
    order = OrderFactory(state="executing", backend_id="old", limits={"cpu": 1})
    earlier = timezone.now() - datetime.timedelta(days=1)
    Order.objects.filter(pk=order.pk).update(modified=earlier)
    order.backend_id, order.limits, order.termination_comment = "new", {"cpu": 2}, "not written"

    with CaptureQueriesContext(fresh_cache) as ctx:
        update_columns(order, ["backend_id", "limits", "modified"])
        update_columns(order, ["backend_id", "limits", "modified"])

    assert [q["sql"].split(" ")[0] for q in ctx.captured_queries] == ["UPDATE", "UPDATE"]
    stored = Order.objects.get(pk=order.pk)
    assert (stored.backend_id, stored.limits, stored.termination_comment) == ("new", {"cpu": 2}, "")
    assert stored.modified > earlier and stored.modified == order.modified
    assert len(fresh_cache.__dict__["_compiled_writes"]) == 1  # one SQL text for the two runs


def test_update_columns_of_a_row_that_is_gone_raises_as_save_does(world):
    order = OrderFactory()
    Order.objects.filter(pk=order.pk).delete()
    order.backend_id = "x"

    with pytest.raises(DatabaseError):
        update_columns(order, ["backend_id"])


def test_a_model_with_save_signals_is_written_by_save(world):
    seen = []

    def receiver(sender, instance, **kwargs):
        seen.append((kwargs.get("created"), kwargs.get("update_fields")))

    signals.post_save.connect(receiver, sender=OrderEvent, weak=False)
    try:
        event = insert(OrderEvent(order=OrderFactory(), kind="k"))
        event.message = "m"
        update_columns(event, ["message"])
    finally:
        signals.post_save.disconnect(receiver, sender=OrderEvent)

    assert seen == [(True, None), (False, frozenset({"message"}))]
    assert OrderEvent.objects.get(pk=event.pk).message == "m"
