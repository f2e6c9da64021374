"""Exact order counts at the cost of the number of (offering, project, state) groups, not of orders.

`X-Result-Count` of the order list (and its HEAD) was a COUNT(*) over every visible, filtered order: 50 to
400 ms at a million orders, by role. orders_order_count holds signed deltas per (offering, project, state), appended by
statement-level triggers on orders_order in the writing transaction (migration 0008), and compacted by
a beat task to about one row per group. A count is SUM(n) over the rows the same visibility rule and
the same OrderFilter select, so it is exact under any snapshot: a transaction sees its own deltas and
every committed one, as it sees the orders. Rows are only ever inserted or deleted, never updated, so
concurrent writers neither wait for nor deadlock on a counter row.

The fast path takes requests whose every parameter filters on those three dimensions (or is paging,
ordering, sparse fields); any other filter, or another database than PostgreSQL, answers None and the
caller counts the orders.
"""

from __future__ import annotations

from django.db import connection
from django.db.models import IntegerField, Sum, Value
from rest_framework.request import Request

from core.api.filters import with_filters
from core.db import AnyOf
from core.statements import Fragment, Statement
from orders.filters import OrderFilter
from orders.models import OrderCount
from permissions.scoping import visible_ids, visible_rows_condition

# OrderFilter's filters that select by an attribute of an order's offering, project or state alone; each
# resolves on OrderCount because its foreign keys are named as Order's (tests/test_order_counts.py)
DIMENSION_FILTERS = frozenset(
    {
        "state",
        "offering",
        "offering_uuid",
        "offering_type",
        "offering_slug",
        "provider_uuid",
        "category_uuid",
        "service_manager_uuid",
        "parent_offering_uuid",
        "project_uuid",
        "customer_uuid",
        "can_approve_as_consumer",
        "can_approve_as_provider",
        "was_auto_approved",
    }
)
# parameters that change which page or which keys are answered, not which orders are counted
NOT_FILTERS = frozenset({"page", "page_size", "o", "field"})

COMPACT_SQL = """
WITH grouped AS (
    SELECT offering_id, project_id, state FROM orders_order_count
    GROUP BY offering_id, project_id, state HAVING count(*) > 1 OR sum(n) = 0
), gone AS (
    DELETE FROM orders_order_count AS c USING grouped AS g
    WHERE c.offering_id = g.offering_id AND c.project_id = g.project_id AND c.state = g.state
    RETURNING c.offering_id, c.project_id, c.state, c.n
), summed AS (
    INSERT INTO orders_order_count (offering_id, project_id, state, n)
    SELECT offering_id, project_id, state, sum(n) FROM gone
    GROUP BY offering_id, project_id, state HAVING sum(n) <> 0
    RETURNING 1
)
SELECT (SELECT count(*) FROM gone)
"""


def fast_order_count(request: Request, user=None) -> int | None:
    """The exact number of orders the order list answers for this request, from the counts table; None
    when a parameter filters on something else or the database keeps no counts (count the orders).

    Call it after the list's own filtering accepted the parameters (an invalid one is the list's 400)."""
    if connection.vendor != "postgresql":
        return None
    params = request.query_params
    if not set(params) <= DIMENSION_FILTERS | NOT_FILTERS:
        return None
    ids = visible_ids(request.user if user is None else user)
    names = frozenset(params) & DIMENSION_FILTERS
    values = dict(ids or {})
    if names:  # the filters' rows, spliced into the compiled count
        filterset = with_filters(OrderFilter, names, data=params, queryset=OrderCount.objects.all(), request=request)
        if not filterset.is_valid():
            return None
        values["rows"] = filterset.qs.order_by().values("pk")
    rows = _COUNTS[ids is not None, bool(names)].rows(**values)
    return int(rows[0][0] or 0) if rows else 0


def _count_statement(scoped: bool, filtered: bool) -> Statement:
    """SUM(n) over the counts the caller sees (`visible_rows_condition`: the list's rule, as parameters)
    and, `filtered`, the rows of a filter (a Fragment): compiled once per connection (core/statements.py)."""

    def build():
        counts = OrderCount.objects.order_by()
        if scoped:
            counts = counts.filter(visible_rows_condition(OrderCount))
        if filtered:
            counts = counts.filter(AnyOf("pk", Fragment("rows")))
        # grouped by a constant: one row, SUM over every matching row (NULL when none)
        return counts.values(one=Value(1, IntegerField())).annotate(total=Sum("n")).values_list("total")

    return Statement(build, prepared=True)


_COUNTS = {
    (scoped, filtered): _count_statement(scoped, filtered) for scoped in (False, True) for filtered in (False, True)
}


def compact_order_counts() -> int:
    """Sum each group's rows into one row (none when they sum to zero); returns how many rows it folded.

    One statement: the rows it deletes are exactly the rows it sums, so deltas committed meanwhile stay
    for the next run, and two overlapping runs never count a row twice. Then, outside a transaction, a
    VACUUM of the small table, so counts stay index-only scans even where autovacuum is off."""
    if connection.vendor != "postgresql":
        return 0
    with connection.cursor() as cursor:
        cursor.execute(COMPACT_SQL)
        (folded,) = cursor.fetchone()
        if folded and not connection.in_atomic_block:
            cursor.execute("VACUUM (SKIP_LOCKED, ANALYZE) orders_order_count")
    return folded
