"""Read serializers compiled to row builders: the same keys, values and order from one `values_list()` row.

A read serializer is the one definition of a representation (its keys, their sources, the OpenAPI schema).
Running it field by field over model instances costs far more than the database does (a list of 50 orders:
~5,000 field objects called, ~350 model instances built). `compile_rows()` reads the serializer's fields once
and generates a function that turns the rows of one statement (`plan.rows_for(keys)`, a `values_list()` of
the plan's lookups) into the same dicts:

- a field with a dotted `source` reads one column (`offering.customer.name` → `offering__customer__name`;
  uuids as hex text computed by the database),
  converted the way the field's `to_representation` would (exact fast forms for strings, hex uuids, ISO
  datetimes and dates; the field's own method otherwise); a nullable relation on the way is read as well,
  so a missing one gives what DRF gives (the field's default, null, or no key);
- a `LinkField` is the request's `/api/` root + collection + hex;
- a `ComputedField` calls its function with the columns of its `needs`;
- `Meta.omit_when_empty` keys are left out when null or "" (RepresentationMixin's rule);
- anything else (a SerializerMethodField, a callable source) cannot be compiled and raises at compile time.

tests/api/test_orders_representation_equality.py compares the API's output with the serializer's, byte for
byte; tests/api/test_row_compiler.py checks the rules field kind by field kind.
"""

from __future__ import annotations

import datetime
import functools
import math
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured
from django.db import models
from django.utils.timezone import get_current_timezone as tz_now
from drf_spectacular.types import OpenApiTypes
from rest_framework import ISO_8601, serializers
from rest_framework.fields import _UnvalidatedField, empty
from rest_framework.settings import api_settings

from core.api.computed import ComputedField
from core.api.links import LinkField, api_root
from core.db import AnyOf, Hex
from core.statements import Fragment, Statement

SKIP = object()  # a key DRF leaves out (SkipField)


@dataclass(frozen=True)
class RowPlan:
    """What to select and how to turn the selected rows into representations."""

    lookups: tuple[str, ...]
    hex_columns: tuple[str, ...]  # lookups of uuid columns, read as hex text (core/db.py Hex)
    keys: tuple[str, ...]
    build: Callable[[Sequence[Sequence[Any]], dict[str, Any]], list[dict[str, Any]]]
    float_keys: tuple[str, ...]  # keys whose values may hold floats (JSON objects, computed numbers)

    def rows_for(self, keys: models.QuerySet, *, ordering: Sequence[Any] = (), limit: int | None = None) -> list:
        """The rows of the objects whose primary keys `keys` (a one-column queryset) selects, as the plan
        reads them, in `ordering`: one statement, `WHERE id = ANY(ARRAY(<keys>))` (core/db.py AnyOf) with
        the joins its lookups need, run as a prepared statement where the database keeps them. The rest
        of the statement (~90 columns through 12 relations: most of the ORM's work) is compiled once per
        connection (core/statements.py); each request compiles only its keys."""
        try:
            statement = self._statement(keys.model, tuple(ordering), limit)
        except TypeError:  # an ordering expression that cannot be a cache key
            statement = _rows_statement(self, keys.model, ordering, limit)
        return statement.rows(using=keys.db, keys=keys)

    def rows_where(self, model: type[models.Model], where: Callable[[], models.Q], *, using: str, **values) -> list:
        """The rows of the objects `where()` selects, as the plan reads them, in one statement compiled
        once per connection: `where` builds a condition of statement parameters (core/statements.py
        Param, InParam; a module-level function, the cache key), `values` are their values. For reading
        one object by key: the WHERE is on the row itself, no keys subquery."""
        return self._where_statement(model, where).rows(using=using, **values)

    @functools.lru_cache(maxsize=512)  # noqa: B019 - bounded: requests choose field sets
    def _where_statement(self, model: type[models.Model], where: Callable[[], models.Q]) -> Statement:
        return Statement(lambda: self.columns(model).filter(where()).order_by(), prepared=True)

    @functools.lru_cache(maxsize=512)  # noqa: B019 - bounded: requests choose field sets and orderings
    def _statement(self, model: type[models.Model], ordering: tuple, limit: int | None) -> Statement:
        return _rows_statement(self, model, ordering, limit)

    @functools.lru_cache(maxsize=512)  # noqa: B019 - as above
    def columns(self, model: type[models.Model]) -> models.QuerySet:
        """The plan's columns of `model` as a `values_list()` queryset (uuids as hex)."""
        names = {lookup: f"hex__{lookup}" for lookup in self.hex_columns}
        queryset = model._base_manager.all()
        if names:
            queryset = queryset.annotate(**{name: Hex(lookup) for lookup, name in names.items()})
        return queryset.values_list(*(names.get(lookup, lookup) for lookup in self.lookups))

    def represent(self, rows: Iterable[Sequence[Any]], context: dict[str, Any]) -> tuple[list[dict], bool]:
        """(representations, plain): `plain` when every float in them prints the same in any JSON encoder."""
        data = self.build(rows, context)
        return data, not self.float_keys or not _any_awkward(data, self.float_keys)


def _any_awkward(data: list[dict[str, Any]], keys: tuple[str, ...]) -> bool:
    seen: set[int] = set()  # values shared by rows (one offering's options) are looked at once
    for item in data:
        for key in keys:
            value = item.get(key)
            if type(value) is float or (value and id(value) not in seen):
                if _awkward_floats(value):
                    return True
                seen.add(id(value))
    return False


def _awkward_floats(value: Any) -> bool:
    """Floats that encoders print differently (exponents: 1e-05 vs 1e-5) or not at all (nan, inf)."""
    kind = type(value)
    if kind is float:
        return not math.isfinite(value) or (value != 0 and not 1e-4 <= abs(value) < 1e16)
    if kind is dict:
        return any(_awkward_floats(v) for v in value.values())
    if kind is list:
        return any(_awkward_floats(v) for v in value)
    return False


# --- converters: each returns exactly what the field's to_representation returns for a non-null value ---


def _HEX(value: Any) -> str:  # noqa: N802 - a marker: the column is read as hex text (RowPlan.columns)
    raise AssertionError("the compiler writes the column as it is")


def _from_hex(convert: Callable[[Any], Any]) -> Callable[[str], Any]:
    return lambda text: convert(uuid.UUID(hex=text))


def _ISO_DATETIME(value: Any) -> str:  # noqa: N802 - a marker: inlined as _iso_datetime(value, <zone>)
    raise AssertionError("inlined by the compiler")


def _iso_datetime(value: datetime.datetime, tz: Any) -> str:
    """DRF's ISO 8601 output of an aware datetime in the current time zone (`Z` for UTC)."""
    text = value.astimezone(tz).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _datetime_converter(field: serializers.DateTimeField) -> Any:
    """_ISO_DATETIME (inlined with the request's time zone) when DRF would write ISO 8601 in the current
    zone; None otherwise (the field's own method then)."""
    output_format = getattr(field, "format", api_settings.DATETIME_FORMAT)
    if output_format is None or not isinstance(output_format, str) or output_format.lower() != ISO_8601:
        return None
    if getattr(field, "timezone", None) is not None or not settings.USE_TZ:
        return None
    return _ISO_DATETIME


def _date_converter(field: serializers.DateField) -> Callable[[Any], Any] | None:
    output_format = getattr(field, "format", api_settings.DATE_FORMAT)
    if output_format is None or not isinstance(output_format, str) or output_format.lower() != ISO_8601:
        return None
    return lambda value: value.isoformat() if value else None


def _memoised(convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """For values that repeat across rows (prices): keyed by value and sign (0 and -0 print differently)."""
    memo: dict[Any, Any] = {}

    def cached(value: Any) -> Any:
        try:
            key = (value, value.is_signed())
            if key not in memo:
                if len(memo) > 4096:
                    memo.clear()
                memo[key] = convert(value)
            return memo[key]
        except TypeError:  # unhashable (a signalling NaN)
            return convert(value)

    return cached


def _converter(field: serializers.Field, model_field: models.Field | None) -> Callable[[Any], Any] | None:
    """How a stored value becomes the field's output; None: the value as it is."""
    kind = type(field)
    if isinstance(field, serializers.UUIDField):
        if field.uuid_format == "hex":
            return _HEX
        if field.uuid_format == "hex_verbose":
            return lambda text: f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"
        return _from_hex(field.to_representation)
    if isinstance(field, serializers.DateTimeField):
        return _datetime_converter(field) or field.to_representation
    if isinstance(field, serializers.DateField):
        return _date_converter(field) or field.to_representation
    if isinstance(field, serializers.DecimalField):
        return _memoised(field.to_representation)  # decimals are hashable and repeat (prices)
    if isinstance(field, serializers.DictField) and isinstance(field.child, _UnvalidatedField):
        return lambda value: value if type(value) is dict else field.to_representation(value)
    stores = type(model_field) if model_field is not None else None
    if stores is None:
        return field.to_representation
    if isinstance(field, serializers.CharField | serializers.ChoiceField) and issubclass(
        stores, models.CharField | models.TextField
    ):
        return None  # str(value) of a str; stored choices map to themselves
    if kind is serializers.BooleanField and issubclass(stores, models.BooleanField):
        return None
    if kind is serializers.IntegerField and issubclass(stores, models.IntegerField):
        return None
    return field.to_representation


# --- paths ---


@dataclass(frozen=True)
class _Path:
    lookup: str  # the column, as values_list() names it
    guards: tuple[str, ...]  # nullable relations on the way (their key columns)
    model_field: models.Field | None


def _path(model: type[models.Model], dotted: str) -> _Path:
    """`a.b.c` from `model` → the lookup `a__b__c`, the nullable forward relations it crosses, the leaf field."""
    names, guards, current = dotted.split("."), [], model
    for depth, name in enumerate(names):
        try:
            field = current._meta.get_field(name)  # also by attname: `plan_id`
        except FieldDoesNotExist:
            raise ImproperlyConfigured(f"{model.__name__}.{dotted}: {name!r} is not a stored field") from None
        last = depth == len(names) - 1
        if last:
            lookup = "__".join(names[:-1] + [field.attname if field.is_relation and field.concrete else name])
            if field.is_relation and not field.concrete:
                raise ImproperlyConfigured(f"{model.__name__}.{dotted}: a reverse relation has no single value")
            return _Path(lookup, tuple(guards), field)
        if not field.is_relation or field.many_to_many or field.one_to_many:
            raise ImproperlyConfigured(f"{model.__name__}.{dotted}: {name!r} is not a to-one relation")
        if field.concrete and field.null:  # a missing target: DRF reads None and fails on the next step
            guards.append("__".join([*names[:depth], field.attname]))
        current = field.related_model
    raise AssertionError("unreachable")


def _source_path(field: serializers.Field) -> str:
    return field.source if field.source not in (None, "") else field.field_name


def _when_missing(field: serializers.Field) -> Any:
    """What DRF answers when a relation on the field's source is missing (Field.get_attribute)."""
    if field.default is not empty:
        return field.get_default()
    if field.allow_null:
        return None
    return SKIP


# --- compiling ---


class _Source:
    """Collects the columns a plan selects (each once) and names the helpers the generated code calls."""

    def __init__(self) -> None:
        self.lookups: list[str] = []
        self.hex_columns: set[str] = set()
        self.namespace: dict[str, Any] = {"SKIP": SKIP}
        self.preamble: list[str] = []

    def column(self, path: _Path | str) -> str:
        lookup = path.lookup if isinstance(path, _Path) else path
        if lookup not in self.lookups:
            self.lookups.append(lookup)
            if isinstance(path, _Path) and isinstance(path.model_field, models.UUIDField):
                self.hex_columns.add(lookup)  # uuids are read as hex text
        return f"r[{self.lookups.index(lookup)}]"

    def helper(self, value: Any) -> str:
        name = f"h{len(self.namespace)}"
        self.namespace[name] = value
        return name


def _expression(model: type[models.Model], field: serializers.Field, src: _Source) -> str:
    if isinstance(field, ComputedField):
        if hasattr(field, "constant"):
            return src.helper(field.constant)
        args = [src.column(_path(model, need)) for need in field.needs]
        fn = src.helper(field.fn)
        return f"{fn}({', '.join(['ctx', *args] if field.takes_context else args)})"
    if isinstance(field, serializers.SerializerMethodField) or field.source == "*":
        raise ImproperlyConfigured(
            f"{field.parent.__class__.__name__}.{field.field_name}: use a ComputedField to make it compilable"
        )
    path = _path(model, _source_path(field))
    value = src.column(path)
    if isinstance(field, LinkField):
        prefix = f"p{len(src.preamble)}"
        src.preamble.append(f"{prefix} = root + {field.collection + '/'!r}")
        expression = f"({prefix} + {value} + '/' if {value} else None)"  # a uuid, read as hex
    else:
        convert = _converter(field, path.model_field)
        if isinstance(path.model_field, models.UUIDField) and not isinstance(field, serializers.UUIDField):
            convert = _from_hex(convert or field.to_representation)  # the field wants the uuid itself
        if convert is None or convert is _HEX:  # a uuid is read as hex already
            expression = value
        elif convert is _ISO_DATETIME:  # aware values from the database; a naive one goes to the field
            naive = src.helper(field.to_representation)
            expression = (
                f"(None if {value} is None else {naive}({value}) if {value}.tzinfo is None else iso({value}, tz))"
            )
        else:
            expression = f"(None if {value} is None else {src.helper(convert)}({value}))"
    for guard in path.guards:
        missing = _when_missing(field)
        fallback = "SKIP" if missing is SKIP else src.helper(missing)
        expression = f"({fallback} if {src.column(guard)} is None else {expression})"
    return expression


_NUMBERS_OR_ANY = {OpenApiTypes.DOUBLE, OpenApiTypes.FLOAT, OpenApiTypes.NUMBER, OpenApiTypes.OBJECT, OpenApiTypes.ANY}


def _may_hold_floats(field: Any) -> bool:
    """Keys whose values may carry floats: JSON objects and lists, float numbers, computed keys that say so."""
    if isinstance(field, ComputedField):
        return _may_hold_floats(field._spectacular_annotation["field"])
    if isinstance(field, OpenApiTypes):
        return field in _NUMBERS_OR_ANY
    if isinstance(field, serializers.ListField | serializers.DictField):
        return isinstance(field.child, _UnvalidatedField) or _may_hold_floats(field.child)
    return isinstance(field, serializers.JSONField | serializers.FloatField)


def compile_rows(serializer_class: type[serializers.Serializer], names: Iterable[str] = ()) -> RowPlan:
    """The row plan of `serializer_class` for the keys `names` (all keys when empty or none known)."""
    return _compile(serializer_class, tuple(sorted(set(names))))


@functools.lru_cache(maxsize=256)  # sparse requests choose key sets; the cache stays bounded
def _compile(serializer_class: type[serializers.Serializer], names: tuple[str, ...]) -> RowPlan:
    serializer = serializer_class()
    serializer._full_representation = True  # every field, whatever the request
    fields = serializer.fields
    chosen = [name for name in fields if name in names] or list(fields)
    model = serializer_class.Meta.model
    src, entries, skippable = _Source(), [], []
    for name in chosen:
        field = fields[name]
        expression = _expression(model, field, src)
        entries.append(f"            {name!r}: {expression},")
        if "SKIP" in expression:
            skippable.append(name)
    omitted = [name for name in getattr(serializer_class.Meta, "omit_when_empty", ()) if name in chosen]
    lines = [
        "def build(rows, ctx):",
        "    root = api_root(ctx)",
        "    tz = get_current_timezone()",
        *(f"    {line}" for line in src.preamble),
        "    out = []",
        "    for r in rows:",
        "        d = {",
        *entries,
        "        }",
        *(f"        if d[{name!r}] is SKIP: del d[{name!r}]" for name in skippable),
        *(f"        if {name!r} in d and d[{name!r}] in (None, ''): del d[{name!r}]" for name in omitted),
        "        out.append(d)",
        "    return out",
    ]
    namespace = {**src.namespace, "api_root": api_root, "iso": _iso_datetime, "get_current_timezone": tz_now}
    exec(compile("\n".join(lines), f"<rows of {serializer_class.__name__}>", "exec"), namespace)  # noqa: S102
    float_keys = tuple(name for name in chosen if _may_hold_floats(fields[name]))
    hex_columns = tuple(lookup for lookup in src.lookups if lookup in src.hex_columns)
    return RowPlan(tuple(src.lookups), hex_columns, tuple(chosen), namespace["build"], float_keys)


def _rows_statement(plan: RowPlan, model: type[models.Model], ordering: Sequence[Any], limit: int | None):
    def build() -> models.QuerySet:
        return plan.columns(model).filter(AnyOf("pk", Fragment("keys"))).order_by(*ordering)[:limit]

    return Statement(build, prepared=True)


def rows_of(queryset: models.QuerySet, plan: RowPlan, *, limit: int | None = None) -> list:
    """The rows of the queryset's objects as the plan reads them, in no particular order (no ORDER BY: with
    the model's default ordering and a LIMIT, PostgreSQL's generic plan walks the ordering's index and
    filters every row by key)."""
    return plan.rows_for(queryset.prefetch_related(None).order_by().values("pk"), limit=limit)


def page_rows(queryset: models.QuerySet, plan: RowPlan, bottom: int, top: int) -> list:
    """Rows `bottom:top` of a model queryset as the plan reads them, in one statement that joins only the
    page: `WHERE id = ANY(ARRAY(SELECT id … ORDER BY … LIMIT … OFFSET …)) ORDER BY …`. OFFSET over the
    joined rows would make the database build and drop every joined row before the page (2 s at page 1000
    of 100k); over the keys alone it walks an index. As `id IN (subquery)` PostgreSQL would join the whole
    table first and semi-join the page last; as an array the page's keys are an index condition on the
    first table. The ordering must end with the key (StableOrderingMixin)."""
    ordering = list(queryset.query.order_by) or list(queryset.model._meta.ordering)
    keys = queryset.prefetch_related(None).order_by(*ordering).values("pk")[bottom:top]
    return plan.rows_for(keys, ordering=ordering)
