"""The staff's Failed orders page (seed 003): erred orders, newest failure first, and bulk resubmit as a job.

"Resubmit for provisioning" answers with a confirmation page showing the dry run of the batch executor
(orders.services.batch.retry_preview); confirming snapshots the selection into a Job
(bulk_retry_start with run_inline_up_to=0) and redirects to the job's page, where a progress bar follows
the run. Nothing loops over the selected orders inside the request (STYLE.md 23). The order admin's own
retry action goes through the same confirmation.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from rangefilter.filters import DateTimeRangeFilterBuilder

from core.admin import JobKindAdmin, register_job_kind_admin
from core.admin_base import ReadOnlyAdmin, titled
from orders import dispatch
from orders.models import FailedOrder, Order
from orders.services.batch import (
    BULK_RETRY,
    SKIP_REASONS,
    bulk_retry_start,
    error_group_counts,
    orders_by_error_group,
    retry_preview,
)
from orders.states import OrderState as S

ERROR_GROUPS_LISTED = 10  # the error group filter offers the most frequent groups among erred orders
SKIPPED_LISTED = 100  # skipped orders listed by uuid on the confirmation page
ERROR_CHARS = 60  # an error is cut to this in the list; the whole text is its hover title


def order_admin_url(order_id: int) -> str:
    return reverse("admin:orders_order_change", args=[order_id])


register_job_kind_admin(
    BULK_RETRY,
    JobKindAdmin(
        title="Resubmit for provisioning",
        subject_url=order_admin_url,
        reason_text=SKIP_REASONS,
        send=lambda job_id: dispatch.enqueue_job(job_id=job_id),
        subject_name="order",
    ),
)


class ErrorGroupFilter(admin.SimpleListFilter):
    """The most frequent error groups (normalised messages) among erred orders: one outage, one group."""

    title = "error group"
    parameter_name = "error_group"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        counts = error_group_counts(Order.objects.filter(state=S.ERRED))[:ERROR_GROUPS_LISTED]
        return [(group, f"{group} ({count})") for group, count in counts]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if not self.value():
            return queryset
        return queryset.filter(pk__in=orders_by_error_group(queryset).get(self.value(), []))


class ResubmitForm(forms.Form):
    reason = forms.CharField(
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80, "placeholder": "e.g. fulfilment maintenance is over"}),
        help_text="Stored on the job and in each order's retry event.",
    )


def _offering_names(preview: dict[str, Any]) -> dict[str, str]:
    return {group["offering_uuid"]: group["name"] for group in preview["by_offering"]}


def resubmit_for_provisioning(model_admin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> HttpResponse:
    """The action: a confirmation page with the dry run; confirmed, a job for the selection and its page."""
    confirmed = request.POST.get("confirm") == "yes"
    form = ResubmitForm(request.POST if confirmed else None)
    if confirmed and form.is_valid():
        job, _ = bulk_retry_start(
            actor=request.user, orders=queryset, reason=form.cleaned_data["reason"], run_inline_up_to=0
        )
        noun = "order" if job.total == 1 else "orders"
        model_admin.message_user(
            request,
            f"Resubmitting {job.total} selected {noun} for provisioning as job {job.uuid.hex[:12]}; "
            "this page follows its progress.",
            messages.SUCCESS,
        )
        return HttpResponseRedirect(reverse("admin:core_job_change", args=[job.pk]))

    preview = retry_preview(actor=request.user, orders=queryset)
    names = _offering_names(preview)
    skipped_by_reason = [
        {"reason": reason, "text": SKIP_REASONS.get(reason, reason), "count": count}
        for reason, count in sorted(preview["skipped_by_reason"].items(), key=lambda kv: -kv[1])
    ]
    skipped = [
        {**row, "text": SKIP_REASONS.get(row["reason"], row["reason"])} for row in preview["skipped"][:SKIPPED_LISTED]
    ]
    opts = model_admin.model._meta
    context = {
        **model_admin.admin_site.each_context(request),
        "title": "Resubmit for provisioning?",
        "subtitle": None,
        "opts": opts,
        "app_label": opts.app_label,
        "preview": preview,
        "would_retry": len(preview["retried"]),
        "skipped_count": len(preview["skipped"]),
        "by_error": [
            {**row, "offering": names.get(row["offering_uuid"], row["offering_uuid"])} for row in preview["by_error"]
        ],
        "skipped_by_reason": skipped_by_reason,
        "skipped": skipped,
        "skipped_more": max(0, len(preview["skipped"]) - SKIPPED_LISTED),
        "form": form,
        "action": request.POST.get("action", ""),
        "select_across": request.POST.get("select_across", "0"),
        "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "back_url": request.get_full_path(),
    }
    request.current_app = model_admin.admin_site.name
    return TemplateResponse(request, "admin/orders/resubmit_confirmation.html", context)


@admin.register(FailedOrder)
class FailedOrderAdmin(ReadOnlyAdmin):
    """Erred orders only, newest failure first; select (all N across pages) and resubmit as a job."""

    list_display = (
        "order_uuid", "offering", "provider", "project", "type", "attempt", "failed_at", "short_error", "transient",
    )  # fmt: skip
    list_display_links = None  # the uuid links to the order's own page (events, the Retry button)
    list_filter = (
        ("error_updated_at", DateTimeRangeFilterBuilder(title="failed at")),
        ("offering", titled("offering")),
        ("offering__customer", titled("provider")),
        "type",
        ("error_is_transient", admin.BooleanFieldListFilter),
        ErrorGroupFilter,
    )
    list_select_related = ("offering", "offering__customer", "project", "project__customer")
    search_fields = ("uuid", "error_message")
    ordering = ("-error_updated_at", "-id")
    actions = ("resubmit",)
    list_per_page = 100

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).filter(state=S.ERRED)

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        title = "Failed orders, newest failure first"
        return super().changelist_view(request, {"title": title, **(extra_context or {})})

    @admin.display(description="UUID", ordering="uuid")
    def order_uuid(self, obj: Order) -> str:
        return format_html('<a href="{}">{}</a>', order_admin_url(obj.pk), obj.uuid.hex)

    @admin.display(description="provider", ordering="offering__customer__name")
    def provider(self, obj: Order) -> str:
        return str(obj.offering.customer)

    @admin.display(description="failed at", ordering="error_updated_at")
    def failed_at(self, obj: Order) -> str:
        """To the second, in the admin's time zone: the range filter is to the second too."""
        return date_format(timezone.localtime(obj.error_updated_at), "Y-m-d H:i:s") if obj.error_updated_at else "-"

    @admin.display(description="error", ordering="error_message")
    def short_error(self, obj: Order) -> str:
        text = obj.error_message.strip()
        first = text.splitlines()[0] if text else ""
        short = first if len(first) <= ERROR_CHARS and first == text else f"{first[: ERROR_CHARS - 1]}…"
        return format_html('<span title="{}">{}</span>', text, short or "-")

    @admin.display(description="transient", boolean=True, ordering="error_is_transient")
    def transient(self, obj: Order) -> bool:
        return obj.error_is_transient

    @admin.action(description="Resubmit for provisioning")
    def resubmit(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse:
        return resubmit_for_provisioning(self, request, queryset)

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None) -> Any:
        """A failed order is an order: its own page has the history and the Retry button."""
        order = self.get_object(request, object_id)
        if order is None or not self.has_view_permission(request, order):
            return super().change_view(request, object_id, form_url, extra_context)
        return HttpResponseRedirect(order_admin_url(order.pk))
