"""Staff admin for organisations, projects, roles and their grants, and users' roles on scopes."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest

from core.admin_base import StaffAdmin, StaffTabularInline
from permissions.models import Customer, Project, Role, RolePermission, UserProfile, UserRole

# The models a role may be granted on: (app label, model name) of each scope kind.
SCOPE_MODELS = (("permissions", "customer"), ("permissions", "project"), ("offerings", "offering"))


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
