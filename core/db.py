"""Database pieces the ORM does not have: expressions (AnyOf, Hex) and prepared reads."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import BooleanField, CharField, Expression, F, Func, QuerySet, Subquery


class AnyOf(Expression):
    """`column` is one of the values the one-column `queryset` selects, in the same statement.

    PostgreSQL: `column = ANY(ARRAY(subquery))`: the subquery runs once (an InitPlan) and the condition
    stays indexable inside an OR, where `column IN (subquery)` becomes a per-row filter. Elsewhere: IN.
    For conditions such as "the rows of these organisations' projects" without a query of their own.
    """

    conditional = True
    output_field = BooleanField()

    def __init__(self, column: str, queryset: QuerySet | Expression) -> None:
        super().__init__()
        subquery = Subquery(queryset) if isinstance(queryset, QuerySet) else queryset  # or a Fragment
        self.column, self.subquery = F(column), subquery

    def get_source_expressions(self) -> list[Any]:
        return [self.column, self.subquery]

    def set_source_expressions(self, exprs: list[Any]) -> None:
        self.column, self.subquery = exprs

    def as_sql(self, compiler, connection) -> tuple[str, list]:
        column, column_params = compiler.compile(self.column)
        subquery, subquery_params = compiler.compile(self.subquery)
        template = "%s = ANY(ARRAY%s)" if connection.vendor == "postgresql" else "%s IN %s"
        return template % (column, subquery), [*column_params, *subquery_params]


class Hex(Func):
    """A uuid column as its 32 lowercase hex digits, computed by the database: cheaper than building
    uuid.UUID objects to print them again. Databases without a uuid type store Django's uuids that way."""

    output_field = CharField()

    def as_sql(self, compiler, connection, **extra) -> tuple[str, list]:
        sql, params = compiler.compile(self.source_expressions[0])
        if not connection.features.has_native_uuid_field:
            return sql, params
        return f"REPLACE(CAST({sql} AS VARCHAR(36)), '-', '')", params


@contextmanager
def prepared_reads(using: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
    """Statements run inside are bound server-side, so psycopg prepares those a connection runs repeatedly
    (OPTIONS prepare_threshold) and PostgreSQL plans them once per connection instead of once per request.

    For the wide reads of compiled rows (core/api/rows.py): planning their thirteen-table join takes
    ~8-12 ms, running it ~0.5-2 ms. Django binds client-side by default (its queries are not all valid
    with server-side parameters), so only these statements are affected; with prepare_threshold None
    (DB_PREPARED_STATEMENTS=false, e.g. behind a transaction-mode pooler) this does nothing.
    """
    connection = connections[using]
    if connection.vendor != "postgresql" or connection.settings_dict["OPTIONS"].get("prepare_threshold") is None:
        yield
        return
    from django.db.backends.postgresql.base import ServerBindingCursor  # psycopg 3 only

    connection.ensure_connection()
    raw, features = connection.connection, connection.features
    previous, raw.cursor_factory = raw.cursor_factory, ServerBindingCursor
    features.uses_server_side_binding = True  # logged queries (DEBUG, tests) are composed from their params
    try:
        yield
    finally:
        raw.cursor_factory = previous
        del features.uses_server_side_binding  # the cached setting again
