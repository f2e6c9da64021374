"""The order statistics API (issue 9): Waldur's marketplace-stats/order_stats shape, and the dashboard as JSON
(order_health), each scoped to the orders the caller may see; 401, 400 and 404 as documented."""

from __future__ import annotations

import datetime
from collections import Counter

import pytest
from django.utils import timezone

from orders.error_groups import error_group
from orders.states import OrderState as S
from tests.ops.dataset import build_dataset

STATS = "/api/marketplace-stats/order_stats/"
HEALTH = "/api/marketplace-stats/order_health/"
STATES = [s.value for s in S]


@pytest.fixture
def history(world):
    return build_dataset(world, now=timezone.now(), per_state=2)


def window(days: int = 60) -> tuple[datetime.date, datetime.date]:
    end = timezone.localdate()
    return end - datetime.timedelta(days=days - 1), end


def visible_to(world, key: str, orders):
    """Which generated orders each role sees, from the roles alone (conftest's ROLE_USERS)."""
    providers = {
        "provider_owner": {world.basic.pk, world.slurm.pk, world.webhook.pk},
        "offering_manager": {world.slurm.pk},
    }
    consumers = {"consumer_owner": world.customer.pk, "other_owner": world.other_customer.pk}
    if key in ("staff", "support"):
        return list(orders)
    if key in providers:
        return [o for o in orders if o.offering_id in providers[key]]
    if key in consumers:
        return [o for o in orders if o.project.customer_id == consumers[key]]
    return []


def in_window(orders, start, end):
    return [o for o in orders if start <= timezone.localtime(o.created).date() <= end]


@pytest.mark.parametrize("path", [STATS, HEALTH])
def test_anonymous_callers_get_401(api, path, world):
    assert api.get(path).status_code == 401


@pytest.mark.parametrize(
    "key", ["staff", "support", "consumer_owner", "other_owner", "provider_owner", "offering_manager", "stranger"]
)
def test_each_role_counts_only_the_orders_it_may_see(api, world, history, key):
    start, end = window()
    expected = in_window(visible_to(world, key, history.orders), start, end)

    body = api.as_user(world.user(key)).get(STATS, {"start": start, "end": end}).json()

    states = Counter(o.state for o in expected)
    assert body["summary"]["total"] == len(expected)
    assert body["by_state"] == {state: states[state] for state in STATES}
    assert body["summary"]["pending"] == sum(states[s] for s in STATES if s.startswith("pending"))
    assert body["summary"]["erred"] == states["erred"]
    assert body["by_type"] == {
        t: sum(o.type == t for o in expected) for t in ("Create", "Update", "Terminate", "Restore")
    }
    providers = Counter(o.offering.customer.uuid.hex for o in expected)
    assert {p["provider_uuid"]: p["total"] for p in body["by_provider"]} == dict(providers)
    offerings = Counter(o.offering.uuid.hex for o in expected)
    assert {o["offering_uuid"]: o["total"] for o in body["by_offering"]} == dict(offerings)
    costs = [o.cost for o in expected if o.cost is not None]
    assert body["summary"]["total_cost"] == (f"{sum(costs):.2f}" if costs else None)
    revenue = [o.cost for o in expected if o.cost is not None and o.type in ("Create", "Update")]
    assert body["summary"]["total_revenue"] == (f"{sum(revenue):.2f}" if revenue else None)


def test_the_daily_breakdown_has_every_day_of_the_window_with_its_orders(api, world, history):
    start, end = window(45)

    body = api.as_user(world.user("staff")).get(STATS, {"start": start.isoformat(), "end": end.isoformat()}).json()

    assert (body["start"], body["end"]) == (start.isoformat(), end.isoformat())
    assert [d["date"] for d in body["daily"]] == [(start + datetime.timedelta(days=n)).isoformat() for n in range(45)]
    per_day = Counter(timezone.localtime(o.created).date().isoformat() for o in in_window(history.orders, start, end))
    assert {d["date"]: d["total"] for d in body["daily"] if d["total"]} == dict(per_day)
    for day in body["daily"]:
        assert sum(day["by_state"].values()) == sum(day["by_type"].values()) == day["total"]
        assert set(day["by_state"]) == set(STATES)
    assert sum(d["total"] for d in body["daily"]) == body["summary"]["total"] < len(history.orders)


def test_the_default_window_is_the_last_30_days(api, world, history):
    start, end = window(30)

    body = api.as_user(world.user("staff")).get(STATS).json()

    assert (body["start"], body["end"], len(body["daily"])) == (start.isoformat(), end.isoformat(), 30)
    assert body["summary"]["total"] == len(in_window(history.orders, start, end))


def test_customer_and_provider_filters_narrow_what_the_caller_sees(api, world, history):
    start, end = window()
    client = api.as_user(world.user("staff"))

    mine = client.get(STATS, {"start": start, "end": end, "customer_uuid": world.customer.uuid.hex}).json()
    second = client.get(STATS, {"start": start, "end": end, "provider_uuid": str(history.second_provider.uuid)}).json()

    orders = in_window(history.orders, start, end)
    assert mine["summary"]["total"] == sum(o.project.customer_id == world.customer.pk for o in orders)
    assert second["summary"]["total"] == sum(o.offering_id == history.second_offering.pk for o in orders)
    assert [p["provider_name"] for p in second["by_provider"]] == ["Second Provider"]


def test_an_organisation_the_caller_cannot_see_is_404(api, world, history):
    client = api.as_user(world.user("consumer_owner"))

    assert client.get(STATS, {"customer_uuid": world.other_customer.uuid.hex}).status_code == 404
    assert client.get(STATS, {"customer_uuid": world.customer.uuid.hex}).status_code == 200
    assert client.get(STATS, {"provider_uuid": "0" * 32}).status_code == 404
    assert client.get(HEALTH, {"customer_uuid": world.other_customer.uuid.hex}).status_code == 404


@pytest.mark.parametrize(
    "params, field",
    [
        ({"start": "yesterday"}, "start"),
        ({"end": "2026-02-30"}, "end"),
        ({"start": "2026-03-02", "end": "2026-03-01"}, "start"),
        ({"start": "2020-01-01", "end": "2026-01-01"}, "start"),
        ({"customer_uuid": "not-a-uuid"}, "customer_uuid"),
        ({"provider": "abc"}, "provider"),
        ({"state": "erred"}, "state"),
    ],
)
def test_bad_input_is_a_400_naming_the_parameter(api, world, params, field):
    response = api.as_user(world.user("staff")).get(STATS, params)

    assert response.status_code == 400
    assert field in response.json()


def test_the_published_waldur_client_parses_the_answer(api, world, history):
    from waldur_api_client.models.order_stats_response import OrderStatsResponse

    body = api.as_user(world.user("provider_owner")).get(STATS).json()

    parsed = OrderStatsResponse.from_dict(body)
    assert parsed.summary.total == body["summary"]["total"]
    assert parsed.summary.total_revenue == body["summary"]["total_revenue"]
    assert parsed.by_state["erred"] == body["by_state"]["erred"]
    assert len(parsed.daily) == 30 and parsed.daily[-1].date == timezone.localdate()


def test_order_health_gives_a_provider_its_own_dashboard(api, world, history):
    body = api.as_user(world.user("provider_owner")).get(HEALTH).json()

    mine = visible_to(world, "provider_owner", history.orders)
    assert body["counts"] == {
        **{state: sum(o.state == state for o in mine) for state in STATES},
        "stuck": sum(o.state == S.EXECUTING and o.stuck_since is not None for o in mine),
    }
    groups = Counter(
        (error_group(o.error_message), o.offering.uuid.hex)
        for o in history.erred
        if o.offering_id != history.second_offering.pk
    )
    assert {(g["error_group"], g["offering_uuid"]): g["count"] for g in body["error_groups"]} == dict(groups)
    assert len(body["failures_per_hour"]) == 24 and len(body["failures_per_day"]) == 30
    assert body["failures_last_30_days"]["current"] == sum(d["count"] for d in body["failures_per_day"])
    assert [w["state"] for w in body["waiting"]] == [*STATES[:5]]
    consumer = body["waiting"][0]
    assert consumer["target_seconds"] == 72 * 3600 and consumer["badge"] in (0, 50, 75, 100)


def test_order_health_of_a_consumer_counts_its_organisation_only(api, world, history):
    body = api.as_user(world.user("other_owner")).get(HEALTH).json()

    mine = visible_to(world, "other_owner", history.orders)
    assert sum(body["counts"][s] for s in STATES) == len(mine) > 0
    assert sum(g["count"] for g in body["error_groups"]) == sum(o.state == S.ERRED for o in mine)


def test_the_stats_answer_in_a_constant_number_of_queries(api, world, django_assert_max_num_queries):
    build_dataset(world, now=timezone.now(), per_state=1)
    client = api.as_user(world.user("provider_owner"))
    with django_assert_max_num_queries(8):
        assert client.get(STATS).status_code == 200
    build_dataset_more = build_dataset(world, now=timezone.now(), per_state=5, seed=3)
    assert len(build_dataset_more.orders) > 150
    with django_assert_max_num_queries(8):
        assert client.get(STATS).status_code == 200
