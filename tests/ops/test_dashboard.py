"""The operators' dashboard on the admin's landing page (issue 9): its numbers equal counts computed here from
a generated history, its links open the filtered admin lists, and it costs a constant number of queries."""

from __future__ import annotations

import datetime
import re
from collections import Counter, defaultdict
from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse
from django.utils import timezone

from ops.charts import nice_max
from ops.dashboard import admin_dashboard, badge_level
from orders.error_groups import error_group
from orders.states import OrderState as S
from tests.ops.dataset import add_agents_and_jobs, build_dataset

NOW = datetime.datetime(2026, 3, 20, 14, 37, 12, tzinfo=datetime.UTC)


@pytest.fixture
def history(world):
    return build_dataset(world, now=NOW, per_state=2)


def hour_of(at: datetime.datetime) -> datetime.datetime:
    return at.astimezone(datetime.UTC).replace(minute=0, second=0, microsecond=0)


def test_state_cards_count_every_state_and_the_stuck_orders(history):
    dash = admin_dashboard(now=NOW)

    expected = Counter(order.state for order in history.orders)
    stuck = sum(1 for o in history.orders if o.state == S.EXECUTING and o.stuck_since is not None)
    cards = {card["state"]: card["count"] for card in dash["cards"]}
    assert cards == {**{state.value: expected[state.value] for state in S}, "stuck": stuck}
    assert stuck > 0 and expected[S.ERRED] > 0
    assert dash["total"] == len(history.orders)
    assert [card["state"] for card in dash["cards"]][:2] == [S.ERRED, "stuck"]
    alerts = {card["state"] for card in dash["cards"] if card["alert"]}
    assert alerts == {S.ERRED, "stuck"}


def test_each_state_card_links_to_its_filtered_list(history, client, world):
    dash = admin_dashboard(now=NOW)
    client.force_login(world.user("staff"))
    links = {card["state"]: card["url"] for card in dash["cards"]}

    assert links[S.ERRED] == reverse("admin:orders_failedorder_changelist")
    assert links["stuck"].endswith("?stuck=yes")
    for state in (S.PENDING_PROVIDER, S.DONE, "stuck", S.ERRED):
        page = client.get(links[state])
        assert page.status_code == 200
        counted = next(c["count"] for c in dash["cards"] if c["state"] == state)
        assert page.context["cl"].result_count == counted, state


def test_failures_per_hour_and_per_day_equal_the_generated_failures(history):
    dash = admin_dashboard(now=NOW)

    top = hour_of(NOW)
    hours = [top - datetime.timedelta(hours=n) for n in range(23, -1, -1)]
    per_hour = Counter(hour_of(at) for at in history.failures)
    assert [bar.value for bar in dash["hourly"].bars] == [per_hour[h] for h in hours]
    previous = sum(per_hour[h - datetime.timedelta(hours=24)] for h in hours)
    assert (dash["hours_trend"].current, dash["hours_trend"].previous) == (sum(per_hour[h] for h in hours), previous)

    today = NOW.date()
    days = [today - datetime.timedelta(days=n) for n in range(29, -1, -1)]
    per_day = Counter(at.astimezone(datetime.UTC).date() for at in history.failures)
    assert [bar.value for bar in dash["daily"].bars] == [per_day[d] for d in days]
    assert dash["days_trend"].previous == sum(per_day[d - datetime.timedelta(days=30)] for d in days)
    assert dash["days_trend"].current == dash["daily"].total > 0
    assert dash["hourly"].total > 0 and dash["days_trend"].previous > 0  # the data reaches back 60 days


def test_error_groups_count_the_erred_orders_per_normalised_error_and_offering(history):
    dash = admin_dashboard(now=NOW)

    expected = defaultdict(list)
    for order in history.erred:
        expected[(error_group(order.error_message), order.offering.uuid.hex)].append(order.error_updated_at)
    shown = {(e["group"].group, e["group"].offering_uuid): e["group"] for e in dash["error_groups"]}
    assert dash["error_groups_more"] == max(0, len(expected) - len(shown))
    assert len(expected) == len(shown)  # fewer groups than the listed maximum here
    for key, times in expected.items():
        group = shown[key]
        assert (group.count, group.first_seen, group.last_seen) == (len(times), min(times), max(times)), key
    counts = [e["group"].count for e in dash["error_groups"]]
    assert counts == sorted(counts, reverse=True)
    assert any(count > 1 for count in counts)  # messages differing in numbers and addresses were merged


def test_an_error_group_link_opens_the_failed_orders_page_with_exactly_that_groups_orders(history, client, world):
    dash = admin_dashboard(now=NOW)
    client.force_login(world.user("staff"))

    for entry in dash["error_groups"][:3]:
        group = entry["group"]
        query = parse_qs(urlsplit(entry["url"]).query)
        assert query == {"error_group": [group.group], "offering__id__exact": [str(group.offering_id)]}
        page = client.get(entry["url"])
        listed = {o.pk for o in page.context["cl"].result_list}
        expected = {
            o.pk
            for o in history.erred
            if o.offering_id == group.offering_id and error_group(o.error_message) == group.group
        }
        assert listed == expected and len(listed) == group.count


def test_oldest_waiting_order_per_state_with_its_badge(history):
    dash = admin_dashboard(now=NOW)

    rows = {entry["row"].state: entry for entry in dash["waiting"]}
    assert list(rows) == [S.PENDING_CONSUMER, S.PENDING_PROVIDER, S.PENDING_PROJECT, S.PENDING_START_DATE, S.EXECUTING]
    for state, entry in rows.items():
        mine = [o for o in history.orders if o.state == state]
        assert entry["row"].count == len(mine)
        assert entry["row"].oldest_age == max(NOW - o.state_entered_at for o in mine)
    consumer = rows[S.PENDING_CONSUMER]
    ratio = consumer["row"].oldest_age / datetime.timedelta(hours=72)
    assert consumer["row"].worst_target == datetime.timedelta(hours=72)
    assert consumer["badge"] == badge_level(ratio) and consumer["percent"] == round(100 * ratio)


def test_executing_orders_are_measured_against_their_offering_types_stuck_after(world):
    from tests import factories as f

    basic = f.OrderFactory(state=S.EXECUTING, offering=world.basic, state_entered_at=NOW - datetime.timedelta(days=2))
    webhook = f.OrderFactory(
        state=S.EXECUTING, offering=world.webhook, state_entered_at=NOW - datetime.timedelta(minutes=50)
    )
    assert basic and webhook

    row = next(e for e in admin_dashboard(now=NOW)["waiting"] if e["row"].state == S.EXECUTING)

    # the basic order is older (2 days of 3: 67 %), the webhook one later against its 1 hour (83 %)
    assert row["row"].oldest_age == datetime.timedelta(days=2)
    assert (row["row"].worst_type, row["row"].worst_target) == ("Marketplace.Webhook", datetime.timedelta(hours=1))
    assert (row["percent"], row["badge"]) == (83, 75)


@pytest.mark.parametrize(
    "ratio, level", [(None, 0), (0.49, 0), (0.5, 50), (0.74, 50), (0.75, 75), (1.0, 100), (3, 100)]
)
def test_badge_levels_are_at_half_three_quarters_and_all_of_the_target(ratio, level):
    assert badge_level(ratio) == level


def test_agents_are_flagged_stale_after_the_setting_and_offerings_show_backend_health(history, world):
    agents = add_agents_and_jobs(world, now=NOW)
    world.webhook.backend_healthy = False
    world.webhook.backend_unhealthy_since = NOW - datetime.timedelta(minutes=20)
    world.webhook.save()

    dash = admin_dashboard(now=NOW)

    stale = {entry["agent"].name: entry["stale"] for entry in dash["agents"]}
    assert stale == {agents["fresh"].name: False, agents["stale"].name: True}
    assert dash["offerings"][0]["offering"] == world.webhook  # unhealthy first
    assert dash["offering_totals"] == {"total": 4, "unhealthy": 1}
    counts = {e["offering"].pk: (e["offering"].executing, e["offering"].erred) for e in dash["offerings"]}
    for offering in (world.basic, world.webhook, history.second_offering):
        mine = [o for o in history.orders if o.offering_id == offering.pk]
        assert counts[offering.pk] == (
            sum(o.state == S.EXECUTING for o in mine),
            sum(o.state == S.ERRED for o in mine),
        )
    assert [(j["job"].processed, j["percent"]) for j in dash["jobs"]] == [(5, 100.0), (10, 25.0)]


def test_the_admin_landing_page_shows_the_dashboard_to_staff(history, client, world):
    add_agents_and_jobs(world, now=timezone.now())
    client.force_login(world.user("staff"))

    page = client.get(reverse("admin:index"))

    html = page.content.decode()
    assert page.status_code == 200
    assert 'id="ops-dashboard"' in html and 'id="chart-hourly"' in html and 'id="chart-daily"' in html
    assert len(re.findall(r'<rect class="ops-bar', html)) == 24 + 30
    assert f'id="count-erred">{sum(o.state == S.ERRED for o in history.orders)}<' in html
    assert "Failed orders →" in html and "slurm-agent-stale" in html
    assert "Orders and resources" in html and "Failed orders</a>" in html  # the app list is still below


def test_people_without_staff_status_do_not_reach_the_dashboard(client, world):
    client.force_login(world.user("provider_owner"))  # they use /api/marketplace-stats/order_health/

    page = client.get(reverse("admin:index"))

    assert page.status_code == 302 and "/admin/login/" in page["Location"]


@pytest.mark.parametrize("per_state", [1, 6])
def test_the_landing_page_costs_the_same_queries_for_40_or_220_orders(
    world, client, per_state, django_assert_num_queries
):
    data = build_dataset(world, now=timezone.now(), per_state=per_state)
    add_agents_and_jobs(world, now=timezone.now())
    client.force_login(world.user("staff"))
    assert len(data.orders) in (42, 222)

    with django_assert_num_queries(QUERIES):
        assert client.get(reverse("admin:index")).status_code == 200


QUERIES = 14  # session, user, and the dashboard's aggregates: the same for any number of orders


def test_nice_max_rounds_the_axis_up_to_one_two_or_five():
    assert [nice_max(n) for n in (0, 1, 2, 3, 7, 11, 45, 101, 2000)] == [1, 1, 2, 5, 10, 20, 50, 200, 2000]
