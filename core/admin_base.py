"""The admin toolkit every app's admin builds on (they import downward, DESIGN §2).

Staff may do everything (DESIGN §3), so access follows the staff flag, not Django's per-model
permissions; a search term that is a uuid (hex or dashed) finds the object by uuid.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import admin, messages
from django.db import models
from django.db.models import Q, QuerySet
from django.http import HttpRequest


def is_staff(user: Any) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active and user.is_staff)


class StaffPermissionsMixin:
    """Staff may view and change everything; subclasses narrow this per model (no add, read-only…)."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_staff(request.user)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_staff(request.user)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_staff(request.user)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_staff(request.user)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_staff(request.user)


class StaffAdmin(StaffPermissionsMixin, admin.ModelAdmin):
    """Base ModelAdmin: staff access, a hex uuid column and uuid search (hex or dashed)."""

    uuid_search_fields: tuple[str, ...] = ("uuid",)
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    @admin.display(description="UUID", ordering="uuid")
    def uuid_hex(self, obj: Any) -> str:
        return obj.uuid.hex

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str) -> tuple[QuerySet, bool]:
        try:
            value = uuid.UUID(search_term.strip())
        except ValueError:
            return super().get_search_results(request, queryset, search_term)
        match = Q()
        for field in self.uuid_search_fields:
            match |= Q(**{field: value})
        return queryset.filter(match), False


class SmallSelectionMixin:
    """Actions that apply a service to each selected row inside the request accept only a small selection:
    nothing loops over many rows in a web request (STYLE 23); larger work goes through a job."""

    max_action_selection = 50

    def selection_too_large(self, request: HttpRequest, queryset: QuerySet, *, limit: int | None = None) -> bool:
        """True (and an error message shown) when the selection exceeds the limit; nothing is done then."""
        limit = self.max_action_selection if limit is None else limit
        if queryset.count() <= limit:
            return False
        noun = queryset.model._meta.verbose_name_plural
        self.message_user(  # type: ignore[attr-defined]
            request,
            f"Select at most {limit} {noun} for this action; it applies to each of them in this request.",
            level=messages.ERROR,
        )
        return True


class StaffTabularInline(StaffPermissionsMixin, admin.TabularInline):
    extra = 0


class ReadOnlyMixin:
    """Rows written by services only: staff look, nobody adds, changes or deletes them here."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyTabularInline(ReadOnlyMixin, StaffTabularInline):
    """History and other rows that are written by services only."""

    can_delete = False


class ReadOnlyAdmin(ReadOnlyMixin, StaffAdmin):
    """Staff look, services write: no add, change or delete through the admin."""


def titled(title: str) -> type[admin.RelatedOnlyFieldListFilter]:
    """A related-object filter listing only the objects in use, under a title of our choosing."""

    class Filter(admin.RelatedOnlyFieldListFilter):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.title = title

    return Filter
