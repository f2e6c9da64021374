"""Reads compiled once per connection and run many times with new values.

On a short request the ORM costs more than the database: building a queryset and compiling it to SQL is
~0.3-0.5 ms for a lookup by key and ~2 ms for a wide read (a hundred columns through a dozen joins), while
PostgreSQL answers either in 0.1-0.5 ms. A `Statement` is a queryset built once, with a `Param` where a
value changes between runs, an `InParam` where a list of values does and a `Fragment` where a piece of SQL
does (a subquery the request builds, such as the keys of a page). Its first run on a connection compiles
it; later runs bind the values and splice the fragments into the cached SQL. The rows come back as the ORM
gives them: through the fields' converters, as tuples (a `values_list()` statement) or as model instances
with their `select_related` objects. The statements are logged and counted like any other query
(CaptureQueriesContext, DEBUG).

    TOKEN = Statement(lambda: Token.objects.select_related("user").filter(key=Param("key", CharField())))
    token = next(iter(TOKEN.objects(key=key)), None)
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import BooleanField, Expression, F, Field, Model, QuerySet
from django.db.models.query import get_related_populators

from core.db import prepared_reads


@dataclass(frozen=True)
class _Bind:
    name: str
    field: Field
    many: bool = False  # a list, bound as one array parameter (PostgreSQL)


@dataclass(frozen=True)
class _Splice:
    name: str
    field: Field | None = None  # a list spliced as "(%s, %s, …)" (databases without arrays); else a subquery


class Param(Expression):
    """A value given when the statement runs, prepared for the database as `output_field` prepares it."""

    def __init__(self, name: str, output_field: Field) -> None:
        super().__init__(output_field=output_field)
        self.name = name

    def as_sql(self, compiler, connection) -> tuple[str, list]:
        return "%s", [_Bind(self.name, self.output_field)]


class Fragment(Expression):
    """A subquery given when the statement runs (a one-column queryset), where a `Subquery` would be, e.g.
    `AnyOf("pk", Fragment("keys"))`. A fragment that can match nothing (`pk__in=[]`) makes the statement
    answer no rows: use one only where every row must satisfy it."""

    def __init__(self, name: str, output_field: Field | None = None) -> None:
        super().__init__(output_field=output_field)
        self.name = name

    def as_sql(self, compiler, connection) -> tuple[str, list]:
        return "%s", [_Splice(self.name)]


class InParam(Expression):
    """`column` is one of a list of values given when the statement runs, as one condition whatever the
    list's length: `column = ANY(%s)` with an array on PostgreSQL (one SQL text, one prepared statement),
    `column IN (%s, …)` elsewhere. An empty list matches nothing (use it in a WHERE, not under NOT)."""

    conditional = True
    output_field = BooleanField()

    def __init__(self, column: str, name: str, item_field: Field) -> None:
        super().__init__()
        self.column, self.name, self.item_field = F(column), name, item_field

    def get_source_expressions(self) -> list[Any]:
        return [self.column]

    def set_source_expressions(self, exprs: list[Any]) -> None:
        (self.column,) = exprs

    def as_sql(self, compiler, connection) -> tuple[str, list]:
        column, params = compiler.compile(self.column)
        if connection.vendor == "postgresql":
            return f"{column} = ANY(%s)", [*params, _Bind(self.name, self.item_field, many=True)]
        return f"{column} IN %s", [*params, _Splice(self.name, self.item_field)]


_PLACEHOLDER = re.compile(r"%%|%s")


@dataclass
class _Compiled:
    query: Any  # the statement's sql.Query (fragments are compiled as its subqueries)
    compiler: Any  # holds what the rows need: select, klass_info, converters
    pieces: list[str]  # the SQL between the placeholders
    params: list[Any]  # one per placeholder: a constant, a _Bind or a _Splice
    sql: str | None  # the whole SQL when there is no fragment: the same on every run
    converters: dict  # the fields' converters by column (the ORM looks them up on every run)

    @classmethod
    def of(cls, queryset: QuerySet, connection) -> _Compiled:
        compiler = queryset.query.get_compiler(connection=connection)
        sql, params = compiler.as_sql()
        pieces, start = [], 0
        for match in _PLACEHOLDER.finditer(sql):
            if match.group() == "%s":
                pieces.append(sql[start : match.start()])
                start = match.end()
        pieces.append(sql[start:])
        if len(pieces) != len(params) + 1:
            raise ValueError(f"{len(pieces) - 1} placeholders for {len(params)} parameters in {sql[:200]}")
        whole = None if any(isinstance(p, _Splice) for p in params) else sql
        converters = compiler.get_converters([column[0] for column in compiler.select[: compiler.col_count]])
        return cls(queryset.query, compiler, pieces, list(params), whole, converters)

    def converted(self, rows: list) -> Iterable:
        return self.compiler.apply_converters(rows, self.converters) if self.converters else rows

    def bind(self, connection, values: dict[str, Any]) -> tuple[str, list]:
        if self.sql is not None:
            params = [_value(p, connection, values) if isinstance(p, _Bind) else p for p in self.params]
            return self.sql, params
        sql, params = [self.pieces[0]], []
        for param, piece in zip(self.params, self.pieces[1:], strict=True):
            if isinstance(param, _Splice):
                if param.field is None:
                    fragment_sql, fragment_params = self.fragment(values[param.name], connection)
                else:
                    fragment_params = [param.field.get_db_prep_value(v, connection) for v in values[param.name]]
                    fragment_sql = f"({', '.join(['%s'] * len(fragment_params))})" if fragment_params else "(NULL)"
                sql.append(fragment_sql)
                params.extend(fragment_params)
            else:
                sql.append("%s")
                params.append(_value(param, connection, values) if isinstance(param, _Bind) else param)
            sql.append(piece)
        return "".join(sql), params

    def fragment(self, queryset: QuerySet, connection) -> tuple[str, list]:
        """`queryset` compiled as a subquery of this statement (its own table aliases), in parentheses."""
        query = queryset.query.clone()
        query.bump_prefix(self.query)
        query.subquery = True
        return query.as_sql(None, connection)  # raises EmptyResultSet when it can match nothing


def _value(param: _Bind, connection, values: dict[str, Any]) -> Any:
    if param.many:
        return [param.field.get_db_prep_value(v, connection, prepared=False) for v in values[param.name]]
    return param.field.get_db_prep_value(values[param.name], connection, prepared=False)


class Statement:
    """A queryset (built by `build`, with `Param`s, `InParam`s and `Fragment`s) compiled once per connection."""

    def __init__(self, build: Callable[[], QuerySet], *, prepared: bool = False) -> None:
        self._build = build
        self.prepared = prepared  # run as a psycopg prepared statement (core/db.py prepared_reads)

    def _compiled(self, connection) -> _Compiled:
        cache = connection.__dict__.get("_compiled_statements")  # connections are per thread
        if cache is None:  # weak: a statement dropped from its owner's bounded cache leaves this one too
            cache = connection.__dict__["_compiled_statements"] = weakref.WeakKeyDictionary()
        compiled = cache.get(self)
        if compiled is None:
            compiled = cache[self] = _Compiled.of(self._build(), connection)
        return compiled

    def _execute(self, using: str, values: dict[str, Any]) -> tuple[_Compiled, list]:
        connection = connections[using]
        compiled = self._compiled(connection)
        try:
            sql, params = compiled.bind(connection, values)
        except EmptyResultSet:
            return compiled, []
        if self.prepared:
            with prepared_reads(using), connection.cursor() as cursor:
                cursor.execute(sql, params)
                return compiled, cursor.fetchall()
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return compiled, cursor.fetchall()

    def rows(self, *, using: str = DEFAULT_DB_ALIAS, **values: Any) -> list[tuple]:
        """The rows of a `values_list()` statement, as tuples converted as the ORM converts them."""
        compiled, rows = self._execute(using, values)
        return list(map(tuple, compiled.converted(rows))) if rows else []

    def first(self, *, using: str = DEFAULT_DB_ALIAS, **values: Any) -> Model | None:
        """The first model instance of `objects()`, or None: for a statement that selects by a unique key."""
        found = self.objects(using=using, **values)
        return found[0] if found else None

    def objects(self, *, using: str = DEFAULT_DB_ALIAS, **values: Any) -> list[Model]:
        """The model instances of a model statement, with the objects its `select_related` names."""
        compiled, rows = self._execute(using, values)
        if not rows:
            return []
        compiler = compiled.compiler
        select, klass_info = compiler.select, compiler.klass_info
        start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
        names = [column[0].target.attname for column in select[start:end]]
        populators = get_related_populators(klass_info, select, using)
        model, out = klass_info["model"], []
        for row in compiled.converted(rows):
            obj = model.from_db(using, names, row[start:end])
            for populator in populators:
                populator.populate(row, obj)
            out.append(obj)
        return out
