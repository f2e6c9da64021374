"""Staff admin for organisations, projects, roles and their grants, and users' roles on scopes.

Also the small admin toolkit the other apps' admins build on (they import downward, DESIGN §2):
staff may do everything (DESIGN §3), so access follows `policies.is_staff`, not Django's per-model
permissions; and a search term that is a uuid (hex or dashed) finds the object by uuid.
"""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db import models
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest

from permissions.models import Customer, Project, Role, RolePermission, UserProfile, UserRole
from permissions.policies import is_staff

# The models a role may be granted on: (app label, model name) of each scope kind.
SCOPE_MODELS = (("permissions", "customer"), ("permissions", "project"), ("offerings", "offering"))


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


class StaffTabularInline(StaffPermissionsMixin, admin.TabularInline):
    extra = 0


class ReadOnlyTabularInline(StaffTabularInline):
    """History and other rows that are written by services only."""

    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Customer)
class CustomerAdmin(StaffAdmin):
    list_display = ("name", "uuid_hex", "abbreviation", "slug", "blocked", "archived", "created")
    list_filter = ("blocked", "archived", "created")
    search_fields = ("name", "slug", "abbreviation", "uuid")
    readonly_fields = ("uuid_hex", "created", "modified")
    date_hierarchy = "created"


@admin.register(Project)
class ProjectAdmin(StaffAdmin):
    list_display = ("name", "uuid_hex", "customer", "start_date", "end_date", "is_removed", "created")
    list_filter = ("is_removed", ("customer", admin.RelatedOnlyFieldListFilter), "start_date", "end_date", "created")
    list_select_related = ("customer",)
    search_fields = ("name", "slug", "uuid", "customer__name")
    readonly_fields = ("uuid_hex", "created", "modified")
    autocomplete_fields = ("customer",)
    date_hierarchy = "created"


class RolePermissionInline(StaffTabularInline):
    model = RolePermission


@admin.register(Role)
class RoleAdmin(StaffAdmin):
    list_display = ("name", "description", "scope", "grant_count")
    search_fields = ("name", "description")
    inlines = (RolePermissionInline,)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).annotate(grant_count=Count("grants"))

    @admin.display(description="granted on")
    def scope(self, obj: Role) -> str:
        return obj.scope_kind

    @admin.display(description="grants", ordering="grant_count")
    def grant_count(self, obj: Role) -> int:
        return obj.grant_count  # type: ignore[attr-defined]


class UserRoleForm(forms.ModelForm):
    class Meta:
        model = UserRole
        fields = ("user", "role", "content_type", "object_id", "expiration_time", "is_active")
        labels = {"content_type": "Scope kind", "object_id": "Scope id"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        kinds = Q()
        for app_label, model in SCOPE_MODELS:
            kinds |= Q(app_label=app_label, model=model)
        self.fields["content_type"].queryset = ContentType.objects.filter(kinds)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        content_type, object_id = data.get("content_type"), data.get("object_id")
        if content_type is not None and object_id is not None:
            try:
                content_type.get_object_for_this_type(pk=object_id)
            except ObjectDoesNotExist:
                raise ValidationError({"object_id": f"There is no {content_type.model} with id {object_id}."}) from None
        return data


@admin.register(UserRole)
class UserRoleAdmin(StaffAdmin):
    form = UserRoleForm
    list_display = ("user", "role", "scope_kind", "scope_display", "is_active", "expiration_time", "created")
    list_filter = ("role", "content_type", "is_active", "expiration_time", "created")
    list_select_related = ("user", "role", "content_type")
    search_fields = ("user__username", "user__email", "role__name")
    readonly_fields = ("scope_display", "created", "modified")
    raw_id_fields = ("user",)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).prefetch_related("scope")

    @admin.display(description="scope kind", ordering="content_type__model")
    def scope_kind(self, obj: UserRole) -> str:
        return obj.content_type.model if obj.content_type_id else ""

    @admin.display(description="scope")
    def scope_display(self, obj: UserRole) -> str:
        if not obj.content_type_id:
            return "-"
        return str(obj.scope) if obj.scope is not None else f"missing {obj.content_type.model} #{obj.object_id}"


@admin.register(UserProfile)
class UserProfileAdmin(StaffAdmin):
    list_display = ("user", "uuid_hex", "is_support", "organization", "civil_number")
    list_filter = ("is_support",)
    list_select_related = ("user",)
    search_fields = ("user__username", "user__email", "organization", "civil_number", "uuid")
    readonly_fields = ("uuid_hex",)
    raw_id_fields = ("user",)
