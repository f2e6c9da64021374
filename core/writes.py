"""Row writes whose SQL is built once per connection: inserting a new instance, updating named columns.

`Model.save()` builds its INSERT or UPDATE anew on every call: 0.1-0.2 ms of the 0.35-0.65 ms a row's save
takes here, paid several times by every order transition (the order, its events, its resource; bench/README.md
"Choices"). `insert(obj)` and `update_columns(obj, names)` write what `obj.save()` and
`obj.save(update_fields=names)` would write (the same values, prepared by the same field methods, `auto_now`
and defaults included) with SQL kept per connection, and run as prepared statements on PostgreSQL. Like
`QuerySet.update()` they send no `pre_save`/`post_save` signals: a model with receivers for them is written
by `save()` instead, so a receiver added later is never skipped; so is a model with parents (multi-table
inheritance) or with columns the database fills in (`db_default`). Statements are logged and counted like any
query.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.models import Field, Model, signals

from core.db import prepared_reads


def _sends_signals(model: type[Model]) -> bool:
    return signals.pre_save.has_listeners(model) or signals.post_save.has_listeners(model)


def _cache(connection) -> dict:
    cache = connection.__dict__.get("_compiled_writes")  # connections are per thread
    if cache is None:
        cache = connection.__dict__["_compiled_writes"] = {}
    return cache


def insert(obj: Model, *, using: str = DEFAULT_DB_ALIAS) -> Model:
    """INSERT the unsaved `obj` as `obj.save()` would (every concrete column but an auto primary key), set
    its primary key and mark it saved."""
    model = type(obj)
    opts = model._meta
    if _sends_signals(model) or opts.parents or len(opts.db_returning_fields) > 1 or not obj._state.adding:
        obj.save(using=using, force_insert=True)
        return obj
    obj._prepare_related_fields_for_save(operation_name="insert")  # as save(): a related object saved since
    connection = connections[using]
    key = ("insert", model)
    cache = _cache(connection)
    compiled = cache.get(key)
    if compiled is None:
        compiled = cache[key] = _compile_insert(model, connection)
    sql, fields, returns = compiled
    params = [f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields]
    with prepared_reads(using), connection.cursor() as cursor:
        cursor.execute(sql, params)
        if returns:
            obj.pk = cursor.fetchone()[0]
        elif obj.pk is None:
            obj.pk = connection.ops.last_insert_id(cursor, model._meta.db_table, model._meta.pk.column)
    obj._state.adding, obj._state.db = False, using
    return obj


def _compile_insert(model: type[Model], connection) -> tuple[str, list[Field], bool]:
    opts, qn = model._meta, connection.ops.quote_name
    fields = [f for f in opts.local_concrete_fields if not f.generated and f is not opts.auto_field]
    _check_placeholders(fields)
    sql = (
        f"INSERT INTO {qn(opts.db_table)} ({', '.join(qn(f.column) for f in fields)}) "
        f"VALUES ({', '.join(['%s'] * len(fields))})"
    )
    returns = opts.auto_field is not None and connection.features.can_return_columns_from_insert
    if returns:
        returning, returning_params = connection.ops.return_insert_columns([opts.pk])
        if returning_params:
            raise ValueError(f"{connection.vendor}: RETURNING with parameters is not supported here")
        sql = f"{sql} {returning}"
    return sql, fields, returns


def update_columns(obj: Model, names: Sequence[str], *, using: str = DEFAULT_DB_ALIAS) -> None:
    """UPDATE the columns of the fields `names` of the saved `obj` (by primary key) as
    `obj.save(update_fields=names)` would (`auto_now` fields listed are stamped); a row that is gone
    raises DatabaseError, as save() does."""
    model = type(obj)
    if _sends_signals(model) or model._meta.parents or not names:
        obj.save(using=using, update_fields=names)
        return
    connection = connections[using]
    key = ("update", model, tuple(names))  # the sets of columns a code base updates: few, fixed
    cache = _cache(connection)
    compiled = cache.get(key)
    if compiled is None:
        compiled = cache[key] = _compile_update(model, names, connection)
    sql, fields = compiled
    params = [f.get_db_prep_save(f.pre_save(obj, False), connection) for f in fields]
    params.append(model._meta.pk.get_db_prep_value(obj.pk, connection))
    with prepared_reads(using), connection.cursor() as cursor:
        cursor.execute(sql, params)
        updated = cursor.rowcount
    if updated != 1:
        raise DatabaseError("Save with update_fields did not affect any rows.")
    obj._state.db = using


def _compile_update(model: type[Model], names: Sequence[str], connection) -> tuple[str, list[Field]]:
    opts, qn = model._meta, connection.ops.quote_name
    fields = [opts.get_field(name) for name in names]
    if any(not f.concrete or f.primary_key or f.generated for f in fields):
        raise ValueError(f"{model.__name__}: only plain columns can be updated by name ({list(names)})")
    _check_placeholders(fields)
    assignments = ", ".join(f"{qn(f.column)} = %s" for f in fields)
    return f"UPDATE {qn(opts.db_table)} SET {assignments} WHERE {qn(opts.pk.column)} = %s", fields


def _check_placeholders(fields: Sequence[Field]) -> None:
    """Every column is one plain `%s` (Django asks a field with get_placeholder() for another one)."""
    custom = [f.name for f in fields if hasattr(f, "get_placeholder")]
    if custom:
        raise ValueError(f"fields with their own SQL placeholder are not supported: {custom}")
