"""List endpoints run a constant number of SQL queries whatever the page size (orders: at most four, for every
role; retrieve and HEAD at most three), and a sparse `field` request does not pay for joins nobody asked for."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from orders.models import OrderEvent
from tests.api import ORDERS, bulk_orders, order_url
from tests.conftest import requires_postgres

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
    """The SQL of the statement that reads the page's rows of `table` (the keys of the page in a subquery)."""
    api.as_user(user)
    with CaptureQueriesContext(connection) as ctx:
        assert api.get(url).status_code == 200
    selects = [q["sql"] for q in ctx.captured_queries if page_of(table, q["sql"])]
    assert len(selects) == 1, [q["sql"][:120] for q in ctx.captured_queries]
    return selects[0]


def page_of(table: str, sql: str) -> bool:
    """The statement reads a page of `table`: its keys in a subquery (an array on PostgreSQL)."""
    return f'"{table}"."id" IN (SELECT' in sql or f'"{table}"."id" = ANY(ARRAY(SELECT' in sql


def selected_tables(sql: str) -> set[str]:
    columns = sql[len("SELECT ") : sql.index(" FROM ")]
    return set(re.findall(r'"(\w+)"\."\w+"', columns))


ROLES = ("staff", "support", "consumer_owner", "project_member", "provider_owner", "offering_manager")


def agent_query(world) -> str:
    return f"{ORDERS}?offering_uuid={world.slurm.uuid.hex}&state=pending-provider&state=executing"


@pytest.mark.parametrize("fields", list(FIELDS))
@pytest.mark.parametrize("user", ROLES)
def test_order_list_is_at_most_four_queries_at_any_page_size(world, api, many, user, fields):
    """Token with its user, the user's grants, the count, the page's rows (staff: no grants)."""
    counts = queries_per_page_size(api, world.user(user), f"{ORDERS}?o=created{FIELDS[fields]}")

    assert len(set(counts.values())) == 1, counts
    assert counts[10] <= (3 if user == "staff" else 4), counts


@pytest.mark.parametrize("user", ["provider_owner", "offering_manager", "staff"])
def test_the_site_agents_query_is_at_most_four_queries(world, api, many, user):
    counts = queries_per_page_size(api, world.user(user), agent_query(world))

    assert len(set(counts.values())) == 1, counts
    assert counts[10] <= 4, counts


@pytest.mark.parametrize("user", ["consumer_owner", "provider_owner"])
def test_filtered_order_list_query_count_does_not_grow_with_the_page(world, api, many, user):
    url = f"{ORDERS}?state=pending-provider&offering_uuid={world.slurm.uuid}&o=-created"

    counts = queries_per_page_size(api, world.user(user), url)

    assert len(set(counts.values())) == 1, counts
    assert counts[10] <= 4, counts


@pytest.mark.parametrize("user", ROLES)
def test_retrieve_and_head_are_at_most_three_queries(world, api, many, user):
    api.as_user(world.user(user))
    with CaptureQueriesContext(connection) as retrieve:
        assert api.get(order_url(many[7])).status_code == 200
    with CaptureQueriesContext(connection) as head:
        assert api.head(ORDERS).status_code == 200

    assert len(retrieve.captured_queries) <= 3, [q["sql"][:100] for q in retrieve.captured_queries]
    assert len(head.captured_queries) <= 3, [q["sql"][:100] for q in head.captured_queries]


def test_a_deep_page_reads_only_its_own_rows_in_one_statement(world, api, many):
    api.as_user(world.user("staff"))
    with CaptureQueriesContext(connection) as ctx:
        response = api.get(f"{ORDERS}?page_size=10&page=30")
    assert response.status_code == 200 and len(response.json()) == 10

    rows = [q["sql"] for q in ctx.captured_queries if page_of("orders_order", q["sql"])]
    assert len(rows) == 1 and "LIMIT 10 OFFSET 290" in rows[0], rows


def test_sparse_uuid_and_state_request_joins_nothing_for_staff(world, api, many):
    sql = main_select(api, world.user("staff"), f"{ORDERS}?field=uuid&field=state", "orders_order")

    assert "JOIN" not in sql.upper()


@pytest.mark.parametrize("user", ["consumer_owner", "provider_owner", "project_member"])
def test_sparse_uuid_and_state_request_selects_only_order_columns(world, api, many, user):
    sql = main_select(api, world.user(user), f"{ORDERS}?field=uuid&field=state", "orders_order")

    assert selected_tables(sql) == {"orders_order"}


def test_sparse_names_request_selects_only_the_tables_it_names(world, api, many):
    sql = main_select(api, world.user("staff"), f"{ORDERS}?field=offering_name&field=project_name", "orders_order")

    assert selected_tables(sql) == {"offerings_offering", "permissions_project"}


def test_full_request_reads_every_row_it_shows_in_the_one_statement(world, api, many):
    sql = main_select(api, world.user("staff"), ORDERS, "orders_order")

    joined = selected_tables(sql)
    assert {"offerings_offering", "offerings_category", "permissions_project", "permissions_customer"} <= joined
    assert {"orders_resource", "offerings_plan", "marketplace_userprofile"} & joined


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


@requires_postgres
@pytest.mark.postgres
def test_order_reads_are_prepared_once_per_connection_and_still_logged(world, api, many):
    """The wide statement, the token's, the grants' and the count's are planned once per connection
    (psycopg prepares them after prepare_threshold runs); Django's other statements stay unprepared;
    logged SQL (tests, DEBUG) stays readable."""
    api.as_user(world.user("consumer_owner"))
    for _ in range(connection.settings_dict["OPTIONS"]["prepare_threshold"] + 1):
        assert api.get(f"{ORDERS}?page_size=10").status_code == 200
    with CaptureQueriesContext(connection) as ctx:
        assert api.get(f"{ORDERS}?page_size=10").status_code == 200
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements WHERE NOT from_sql")
        prepared = [row[0] for row in cursor.fetchall()]

    assert len(prepared) == 4, prepared
    assert sum('"orders_order"."id" = ANY(ARRAY(SELECT' in sql for sql in prepared) == 1, prepared
    assert sum('FROM "authtoken_token"' in sql for sql in prepared) == 1, prepared
    assert sum('FROM "permissions_userrole"' in sql for sql in prepared) == 1, prepared
    assert sum('FROM "orders_order_count"' in sql for sql in prepared) == 1, prepared
    assert all(q["sql"] for q in ctx.captured_queries)
    assert any(page_of("orders_order", q["sql"]) and "LIMIT 10" in q["sql"] for q in ctx.captured_queries)
