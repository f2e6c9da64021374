"""List endpoints run a constant number of SQL queries whatever the page size, and a sparse `field`
request does not pay for joins nobody asked for."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from orders.models import OrderEvent
from tests.api import ORDERS, bulk_orders, order_url

PAGE_SIZES = (10, 50, 300)
FIELDS = {
    "all": "",
    "uuid,state": "&field=uuid&field=state",
    "names": "&field=offering_name&field=project_name",
}


@pytest.fixture
def many(world):
    """301 orders (and resources) of the consumer project on the slurm offering."""
    return bulk_orders(world, 301)


def queries_per_page_size(api, user, url: str) -> dict[int, int]:
    counts = {}
    for size in PAGE_SIZES:
        api.as_user(user)
        with CaptureQueriesContext(connection) as ctx:
            response = api.get(f"{url}{'&' if '?' in url else '?'}page_size={size}")
        assert response.status_code == 200, response.content
        assert len(response.json()) == size
        counts[size] = len(ctx.captured_queries)
    return counts


def main_select(api, user, url: str, table: str) -> str:
    """The SQL of the statement that fetches the page's rows of `table`."""
    api.as_user(user)
    with CaptureQueriesContext(connection) as ctx:
        assert api.get(url).status_code == 200
    selects = [q["sql"] for q in ctx.captured_queries if q["sql"].startswith(f'SELECT "{table}"."id", ')]
    assert len(selects) == 1, [q["sql"][:120] for q in ctx.captured_queries]
    return selects[0]


def selected_tables(sql: str) -> set[str]:
    columns = sql[len("SELECT ") : sql.index(" FROM ")]
    return set(re.findall(r'"(\w+)"\."\w+"', columns))


@pytest.mark.parametrize("fields", list(FIELDS))
@pytest.mark.parametrize("user", ["staff", "consumer_owner", "provider_owner"])
def test_order_list_query_count_does_not_grow_with_the_page(world, api, many, user, fields):
    counts = queries_per_page_size(api, world.user(user), f"{ORDERS}?o=created{FIELDS[fields]}")

    assert len(set(counts.values())) == 1, counts
    assert counts[10] <= 12, counts


@pytest.mark.parametrize("user", ["consumer_owner", "provider_owner"])
def test_filtered_order_list_query_count_does_not_grow_with_the_page(world, api, many, user):
    url = f"{ORDERS}?state=pending-provider&offering_uuid={world.slurm.uuid}&o=-created"

    counts = queries_per_page_size(api, world.user(user), url)

    assert len(set(counts.values())) == 1, counts


def test_sparse_uuid_and_state_request_joins_nothing_for_staff(world, api, many):
    sql = main_select(api, world.user("staff"), f"{ORDERS}?field=uuid&field=state", "orders_order")

    assert "JOIN" not in sql.upper()


@pytest.mark.parametrize("user", ["consumer_owner", "provider_owner", "project_member"])
def test_sparse_uuid_and_state_request_selects_only_order_columns(world, api, many, user):
    sql = main_select(api, world.user(user), f"{ORDERS}?field=uuid&field=state", "orders_order")

    assert selected_tables(sql) == {"orders_order"}


def test_sparse_names_request_selects_only_the_tables_it_names(world, api, many):
    sql = main_select(api, world.user("staff"), f"{ORDERS}?field=offering_name&field=project_name", "orders_order")

    assert selected_tables(sql) == {"orders_order", "offerings_offering", "permissions_project"}


def test_full_request_joins_only_the_cheap_to_one_rows_and_prefetches_the_rest(world, api, many):
    sql = main_select(api, world.user("staff"), ORDERS, "orders_order")

    joined = selected_tables(sql)
    assert {"offerings_offering", "offerings_category", "permissions_project", "permissions_customer"} <= joined
    assert not {"orders_resource", "auth_user", "offerings_plan"} & joined


@pytest.mark.parametrize(
    "path, user",
    [
        ("/api/marketplace-resources/", "staff"),
        ("/api/marketplace-resources/", "consumer_owner"),
        ("/api/marketplace-resources/", "project_member"),
        ("/api/marketplace-provider-resources/", "staff"),
        ("/api/marketplace-provider-resources/", "provider_owner"),
        ("/api/marketplace-provider-resources/", "offering_manager"),
    ],
)
@pytest.mark.parametrize("fields", ["", "?field=uuid&field=state"])
def test_resource_list_query_count_does_not_grow_with_the_page(world, api, many, path, user, fields):
    counts = queries_per_page_size(api, world.user(user), f"{path}{fields}")

    assert len(set(counts.values())) == 1, counts


@pytest.mark.parametrize("user", ["staff", "consumer_owner", "provider_owner"])
def test_events_query_count_does_not_grow_with_the_page(world, api, user):
    order = bulk_orders(world, 1)[0]
    actors = [world.user(name) for name in ("consumer_owner", "provider_owner", "offering_manager", "staff")]
    OrderEvent.objects.bulk_create(
        OrderEvent(order=order, kind="set_state_erred", actor=actors[i % 4], from_state="erred", to_state="erred")
        for i in range(300)
    )

    counts = queries_per_page_size(api, world.user(user), order_url(order, "events"))

    assert len(set(counts.values())) == 1, counts
