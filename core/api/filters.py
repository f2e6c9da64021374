"""django-filter pieces with Waldur semantics: repeated keys, hex-or-dashed uuids, links as filters."""

from __future__ import annotations

import datetime
from typing import Any

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import ProhibitNullCharactersValidator
from django.db.models import Q
from django_filters.fields import IsoDateTimeField
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.exceptions import ValidationError as BadRequest

from core.api.lookups import parse_uuid

NUL_MESSAGE = "Null characters are not allowed."


class AnyValuesField(forms.MultipleChoiceField):
    """Repeated keys (`?k=a&k=b`, each possibly comma-separated), values not checked against choices."""

    default_validators = [ProhibitNullCharactersValidator()]  # PostgreSQL cannot compare text with NUL

    def valid_value(self, value: Any) -> bool:
        return True

    def run_validators(self, value: Any) -> None:
        for item in value:
            super().run_validators(str(item))

    def clean(self, value: Any) -> list[str]:
        values = super().clean(value)
        return [part for v in values for part in str(v).split(",") if part]


class FilterBackend(DjangoFilterBackend):
    """django-filter's backend, refusing a NUL character in any parameter the filterset reads (400 naming
    it) before a filter, search or ordering sends it to PostgreSQL, which cannot compare text with NUL."""

    def filter_queryset(self, request, queryset, view):
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is not None:
            params = request.query_params
            errors = {
                name: [NUL_MESSAGE]
                for name in filterset_class.base_filters
                if any("\x00" in value for value in params.getlist(name))
            }
            if errors:
                raise BadRequest(errors)
        return super().filter_queryset(request, queryset, view)

    def get_filterset(self, request, queryset, view):
        """The filterset with only the filters the request names (all of them when rendering the browsable
        API's form). django-filter deep-copies every filter and builds a form field for each per request
        (~30 filters of orders: a third of a list request's Python time); a filter without its parameter
        filters nothing, so leaving it out changes no result and no error."""
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is None or getattr(self, "_whole_form", False):
            return super().get_filterset(request, queryset, view)
        keys = set(request.query_params)
        # a filter named, or a range widget's suffixed parameter (`created_after`) of one
        names = {n for n in filterset_class.base_filters if n in keys or any(k.startswith(f"{n}_") for k in keys)}
        return with_filters(filterset_class, names, **self.get_filterset_kwargs(request, queryset, view))

    def to_html(self, request, queryset, view):
        self._whole_form = True
        try:
            return super().to_html(request, queryset, view)
        finally:
            self._whole_form = False


def with_filters(filterset_class: type[django_filters.FilterSet], names, **kwargs: Any) -> django_filters.FilterSet:
    """An instance of `filterset_class` holding only the filters `names` (those a request gives, say): the
    others would filter nothing, and FilterSet copies and builds a form field for every filter it holds."""
    filterset = filterset_class.__new__(filterset_class)
    filterset.base_filters = {name: f for name, f in filterset_class.base_filters.items() if name in names}
    filterset.__init__(**kwargs)  # FilterSet.__init__ deep-copies self.base_filters
    return filterset


class RepeatedCharFilter(django_filters.MultipleChoiceFilter):
    field_class = AnyValuesField

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("choices", [])
        kwargs.setdefault("distinct", False)  # used on forward relations: no duplicate rows to remove
        super().__init__(*args, **kwargs)


class UTCDateTimeField(IsoDateTimeField):
    """An ISO 8601 date-time with any UTC offset Python accepts, normalised to UTC.

    PostgreSQL stores offsets only up to ±15:59, and an offset can carry the instant past year 9999 or
    before year 1 (`9999-12-31T23:59:59-23:59`): such values are a 400, never a database error.
    """

    def to_python(self, value: Any) -> datetime.datetime | None:
        parsed = super().to_python(value)
        if parsed is None or parsed.tzinfo is None:
            return parsed
        try:
            return parsed.astimezone(datetime.UTC)
        except OverflowError:
            raise ValidationError("Enter a date/time between years 1 and 9999 in UTC.", code="invalid") from None


class StrictBooleanField(forms.NullBooleanField):
    """true/false (also True/False/1/0); anything else is a 400 rather than "no filter" (NullBooleanField turns
    unknown values into None, which silently widens a selection: `?error_is_transient=yes` → every order)."""

    ACCEPTED = {"true", "false", "1", "0"}
    widget = forms.TextInput  # NullBooleanSelect maps unknown values to None before to_python sees them

    def to_python(self, value: Any) -> bool | None:
        if isinstance(value, str) and value.strip() and value.strip().lower() not in self.ACCEPTED:
            raise ValidationError("Enter true or false.", code="invalid")
        return super().to_python(value.strip().lower() if isinstance(value, str) else value)

    def validate(self, value: Any) -> None:
        pass


class StrictBooleanFilter(django_filters.BooleanFilter):
    field_class = StrictBooleanField


class IsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UTCDateTimeField


class LinkUUIDField(forms.CharField):
    """A Waldur hyperlink or a bare uuid; yields the uuid."""

    def clean(self, value: Any) -> Any:
        value = super().clean(value)
        if value in (None, ""):
            return None
        parsed = parse_uuid(value)
        if parsed is None:
            raise ValidationError("Enter a valid hyperlink or uuid.")
        return parsed


class LinkFilter(django_filters.Filter):
    """`?offering=<url or uuid>` filters on `<field_name>` (a uuid field)."""

    field_class = LinkUUIDField


class RepeatedOrderingFilter(django_filters.OrderingFilter):
    """`?o=state&o=-created` (or `?o=state,-created`) sorts by state, then newest first: in the order given.

    django-filter validates the values (unknown ones are a 400) but keeps them in a set, losing the order.
    """

    def filter(self, qs, value):
        if value in (None, "", []):
            return super().filter(qs, value)
        data = self.parent.data
        raw = data.getlist(self.field_name) if hasattr(data, "getlist") else [data.get(self.field_name)]
        in_order = [part.strip() for item in raw if item for part in str(item).split(",") if part.strip()]
        return super().filter(qs, in_order)


def search_q(value: str, text: Q) -> Q:
    """Waldur's `query`: a whole uuid (hex or dashed) matches that object; anything else is a text search."""
    value = value.strip()
    parsed = parse_uuid(value)
    return Q(uuid=parsed) if parsed is not None and len(value.replace("-", "")) == 32 else text


class StableOrderingMixin:
    """Orderings (default or `?o=`) end with the primary key, so pages neither overlap nor skip rows."""

    @property
    def qs(self):
        queryset = super().qs
        ordering = list(queryset.query.order_by) or list(queryset.model._meta.ordering)
        if not {"id", "-id", "pk", "-pk"} & set(ordering):
            ordering.append("pk")
        return queryset.order_by(*ordering)
