"""Staff admin for the catalogue: providers, categories, offerings with components and plans with prices."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.templatetags.static import static
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html

from core.admin_base import StaffAdmin, StaffTabularInline
from offerings.models import Category, Offering, OfferingComponent, Plan, PlanComponent, ServiceProvider
from offerings.registry import TYPE_CHOICES


@admin.register(ServiceProvider)
class ServiceProviderAdmin(StaffAdmin):
    list_display = ("customer", "uuid_hex", "created")
    list_select_related = ("customer",)
    list_filter = ("created",)
    search_fields = ("customer__name", "customer__abbreviation", "uuid")
    readonly_fields = ("uuid_hex", "created", "modified")
    autocomplete_fields = ("customer",)


@admin.register(Category)
class CategoryAdmin(StaffAdmin):
    list_display = ("title", "uuid_hex", "offering_count", "created")
    list_filter = ("created",)
    search_fields = ("title", "description", "uuid")
    readonly_fields = ("uuid_hex", "created", "modified")

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).annotate(offering_count=Count("offerings"))

    @admin.display(description="offerings", ordering="offering_count")
    def offering_count(self, obj: Category) -> int:
        return obj.offering_count  # type: ignore[attr-defined]


class OfferingForm(forms.ModelForm):
    """The type is picked from the registry; a stored type the registry does not know stays selectable."""

    type = forms.ChoiceField(choices=(), help_text="Offering type; it decides how orders are processed.")

    class Meta:
        model = Offering
        fields = (
            "customer", "category", "name", "slug", "description", "type", "state", "shared", "billable", "project",
            "plugin_options", "backend_id",
        )  # fmt: skip

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = list(TYPE_CHOICES)
        current = self.instance.type if self.instance.pk else ""
        if current and current not in dict(choices):
            choices.append((current, f"{current} (unknown type)"))
        self.fields["type"].choices = choices


class OfferingComponentInline(StaffTabularInline):
    model = OfferingComponent
    fields = ("type", "name", "measured_unit", "billing_type", "min_value", "max_value", "default_limit")


class PlanInline(StaffTabularInline):
    model = Plan
    fields = ("name", "unit", "unit_price", "init_price", "switch_price", "archived", "max_amount")
    show_change_link = True


@admin.register(Offering)
class OfferingAdmin(StaffAdmin):
    form = OfferingForm
    list_display = (
        "name", "uuid_hex", "type", "state", "backend", "customer", "category", "shared", "billable", "created",
    )  # fmt: skip
    list_filter = (
        "type",
        "state",
        ("backend_healthy", admin.BooleanFieldListFilter),
        ("customer", admin.RelatedOnlyFieldListFilter),
        "category",
        "shared",
        "billable",
        "created",
    )
    list_select_related = ("customer", "category")
    search_fields = ("name", "slug", "uuid", "customer__name", "project__name", "backend_id")
    readonly_fields = (
        "uuid_hex", "created", "modified", "backend_healthy", "backend_unhealthy_since", "backend_checked_at",
        "backend_last_error",
    )  # fmt: skip
    fieldsets = (
        (None, {"fields": (
            "uuid_hex", "customer", "category", "name", "slug", "description", "type", "state", "shared", "billable",
            "project", "plugin_options", "backend_id", "created", "modified",
        )}),
        ("Backend health", {"fields": (
            "backend_healthy", "backend_unhealthy_since", "backend_checked_at", "backend_last_error",
        ), "description": (
            "Set by the processing pipeline: transient failures mark the backend unhealthy, the periodic probe "
            "marks it healthy again and starts automatic recovery (plugin option auto_resubmit)."
        )}),
    )  # fmt: skip
    autocomplete_fields = ("customer", "project")
    date_hierarchy = "created"
    inlines = (OfferingComponentInline, PlanInline)

    @admin.display(description="backend", ordering="backend_healthy")
    def backend(self, obj: Offering) -> str:
        """Healthy, or unhealthy since when, with the last error on hover."""
        if obj.backend_healthy:
            return format_html('<img src="{}" alt="healthy"> healthy', static("admin/img/icon-yes.svg"))
        since = (
            date_format(timezone.localtime(obj.backend_unhealthy_since), "Y-m-d H:i")
            if obj.backend_unhealthy_since
            else "?"
        )
        return format_html(
            '<span title="{}" style="white-space: nowrap"><img src="{}" alt="unhealthy"> unhealthy since {}</span>',
            obj.backend_last_error,
            static("admin/img/icon-no.svg"),
            since,
        )


@admin.register(OfferingComponent)
class OfferingComponentAdmin(StaffAdmin):
    list_display = ("offering", "type", "name", "uuid_hex", "billing_type", "measured_unit", "min_value", "max_value")
    list_filter = ("billing_type", "offering__type", ("offering__customer", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("offering",)
    search_fields = ("type", "name", "uuid", "offering__name")
    readonly_fields = ("uuid_hex",)
    autocomplete_fields = ("offering",)


class PlanComponentInline(StaffTabularInline):
    model = PlanComponent
    fields = ("component", "amount", "price")

    def get_formset(self, request: HttpRequest, obj: Plan | None = None, **kwargs: Any) -> Any:
        formset = super().get_formset(request, obj, **kwargs)
        # Only the components of the plan's own offering can be priced in it.
        components = OfferingComponent.objects.filter(offering_id=obj.offering_id if obj else None)
        formset.form.base_fields["component"].queryset = components
        return formset


@admin.register(Plan)
class PlanAdmin(StaffAdmin):
    list_display = ("name", "uuid_hex", "offering", "unit", "unit_price", "archived", "max_amount", "created")
    list_filter = ("unit", "archived", "offering__type", ("offering__customer", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("offering",)
    search_fields = ("name", "uuid", "offering__name", "article_code", "backend_id")
    readonly_fields = ("uuid_hex", "created", "modified")
    autocomplete_fields = ("offering",)
    date_hierarchy = "created"
    inlines = (PlanComponentInline,)
