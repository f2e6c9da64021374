"""Staff admin for orders, resources and order events.

Orders and their events are read-only here: every change to an order goes through a service in
orders/services (STYLE.md 1), so staff move orders with the changelist actions, which call those
services one order at a time and report each refusal with the domain error's text. Retry is the
exception in size: selected orders are resubmitted by the batch executor as a job, after a confirmation
page with the dry run (orders/admin_failed.py, which also holds the Failed orders page); an erred order's
own page has a Retry button.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html

from core.admin import deliveries_link
from core.admin_base import ReadOnlyAdmin, ReadOnlyTabularInline, SmallSelectionMixin, StaffAdmin, titled
from core.errors import DomainError
from offerings.models import Offering
from offerings.registry import TYPE_CHOICES
from orders import services
from orders.admin_failed import resubmit_for_provisioning
from orders.attachments import download_name, download_url
from orders.exceptions import OrderError, OrderStateConflict
from orders.models import Order, OrderEvent, Resource
from orders.states import OrderState as S

OrderService = Callable[..., Order]


class OfferingTypeFilter(admin.SimpleListFilter):
    title = "offering type"
    parameter_name = "offering_type"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        labels = dict(TYPE_CHOICES)
        types = Offering.objects.order_by("type").values_list("type", flat=True).distinct()
        return [(t, labels.get(t, f"{t} (unknown type)")) for t in types]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.filter(offering__type=self.value()) if self.value() else queryset


class StuckFilter(admin.SimpleListFilter):
    """Executing orders the stuck sweep flagged: they outstayed their offering type's stuck_after."""

    title = "stuck"
    parameter_name = "stuck"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Yes"), ("no", "No")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        stuck = Q(state=S.EXECUTING, stuck_since__isnull=False)
        if self.value() == "yes":
            return queryset.filter(stuck)
        return queryset.exclude(stuck) if self.value() == "no" else queryset


def by_state(verb: str, routes: Mapping[str, OrderService]) -> OrderService:
    """One admin verb served by the service that fits the order's state (approve, reject)."""

    def call(*, order: Order, actor: Any) -> Order:
        service = routes.get(order.state)
        if service is None:
            raise OrderStateConflict(verb, order.state, routes)
        return service(order=order, actor=actor)

    return call


APPROVE = by_state(
    "approve",
    {S.PENDING_CONSUMER: services.order_approve_by_consumer, S.PENDING_PROVIDER: services.order_approve_by_provider},
)
REJECT = by_state(
    "reject",
    {S.PENDING_CONSUMER: services.order_reject_by_consumer, S.PENDING_PROVIDER: services.order_reject_by_provider},
)


def mark_erred(*, order: Order, actor: Any) -> Order:
    message = f"Marked as erred by {actor.get_username()} in the admin."
    return services.order_set_state_erred(order=order, actor=actor, error_message=message)


class OrderEventInline(ReadOnlyTabularInline):
    model = OrderEvent
    fields = ("created", "kind", "from_state", "to_state", "actor", "message", "payload")
    readonly_fields = fields
    ordering = ("created", "id")

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("actor")


ORDER_FIELDSETS = (
    (None, {"fields": (
        "uuid_hex", "type", "state", "attempt", "offering", "offering_type", "provider", "plan", "old_plan",
        "project", "resource", "created_by", "created", "modified",
    )}),
    ("Request", {"fields": (
        "limits", "attributes", "cost", "old_cost", "start_date", "request_comment", "callback_url",
        "callback_deliveries",
        "attachment_file", "slug", "backend_id", "termination_comment",
    )}),
    ("Review", {"fields": (
        "consumer_reviewed_by", "consumer_reviewed_at", "consumer_rejection_comment",
        "provider_reviewed_by", "provider_reviewed_at", "provider_rejection_comment",
    )}),
    ("Messages", {"classes": ("collapse",), "fields": (
        "consumer_message", "consumer_message_file", "consumer_message_updated_at",
        "provider_message", "provider_message_url", "provider_message_file", "provider_message_updated_at",
    )}),
    ("Outcome", {"fields": (
        "completed_at", "output", "output_updated_at", "error_message", "error_traceback", "error_updated_at",
        "error_is_transient", "state_entered_at", "stuck_since",
    )}),
)  # fmt: skip


def _download_link(file) -> str:
    """Attachments are served only through the API's permission-checked download endpoint (not as media)."""
    url = download_url(None, file)
    return format_html('<a href="{}">{}</a>', url, download_name(file)) if url else "-"


@admin.register(Order)
class OrderAdmin(SmallSelectionMixin, ReadOnlyAdmin):
    list_display = (
        "uuid_hex", "type", "state", "offering", "offering_type", "provider", "project", "resource_name",
        "attempt", "created", "completed_at",
    )  # fmt: skip
    list_filter = (
        "state",
        StuckFilter,
        "type",
        OfferingTypeFilter,
        ("offering__customer", titled("provider")),
        ("offering", titled("offering")),
        ("project__customer", titled("consumer organisation")),
        "error_is_transient",
        "created",
        "completed_at",
        "error_updated_at",
    )
    list_select_related = ("offering", "offering__customer", "project", "project__customer", "resource")
    search_fields = (
        "uuid", "project__name", "project__customer__name", "resource__name", "offering__name",
        "offering__customer__name", "created_by__username", "backend_id", "error_message",
    )  # fmt: skip
    uuid_search_fields = ("uuid", "resource__uuid")
    date_hierarchy = "created"
    exclude = ("state",)  # a protected FSM field: only services move it
    fieldsets = ORDER_FIELDSETS
    readonly_fields = tuple(name for _, options in ORDER_FIELDSETS for name in options["fields"])
    inlines = (OrderEventInline,)
    actions = ("approve", "reject", "mark_done", "mark_erred", "retry")

    @admin.display(description="offering type", ordering="offering__type")
    def offering_type(self, obj: Order) -> str:
        return obj.offering.type

    @admin.display(description="provider", ordering="offering__customer__name")
    def provider(self, obj: Order) -> str:
        return str(obj.offering.customer)

    @admin.display(description="resource", ordering="resource__name")
    def resource_name(self, obj: Order) -> str:
        return obj.resource.name

    @admin.display(description="callback deliveries")
    def callback_deliveries(self, obj: Order) -> str:
        return deliveries_link(obj.uuid) if obj.callback_url else "-"

    @admin.display(description="attachment")
    def attachment_file(self, obj: Order) -> str:
        return _download_link(obj.attachment)

    @admin.display(description="consumer message attachment")
    def consumer_message_file(self, obj: Order) -> str:
        return _download_link(obj.consumer_message_attachment)

    @admin.display(description="provider message attachment")
    def provider_message_file(self, obj: Order) -> str:
        return _download_link(obj.provider_message_attachment)

    def run_service(self, request: HttpRequest, queryset: QuerySet[Order], service: OrderService, done: str) -> None:
        """Apply `service` to each selected order in its own call; one line for the moved, one per refusal."""
        if self.selection_too_large(request, queryset, limit=settings.MARKETPLACE["BULK_RETRY_SYNC_LIMIT"]):
            return
        moved: list[str] = []
        refused: list[str] = []
        for order in queryset.order_by("created", "id"):
            try:
                result = service(order=order, actor=request.user)
            except OrderError as exc:
                refused.append(f"Order {order.uuid.hex} was not changed: {exc.message}")
            else:
                moved.append(f"{result.uuid.hex} (now {result.state})")
        if moved:
            noun = "order" if len(moved) == 1 else "orders"
            self.message_user(request, f"{done} {len(moved)} {noun}: {', '.join(moved)}.", messages.SUCCESS)
        for text in refused:
            self.message_user(request, text, messages.WARNING)

    @admin.action(description="Approve selected orders (as consumer or provider, by state)")
    def approve(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        self.run_service(request, queryset, APPROVE, "Approved")

    @admin.action(description="Reject selected orders (as consumer or provider, by state)")
    def reject(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        self.run_service(request, queryset, REJECT, "Rejected")

    @admin.action(description="Mark selected orders as done")
    def mark_done(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        self.run_service(request, queryset, services.order_set_state_done, "Marked as done")

    @admin.action(description="Mark selected orders as erred")
    def mark_erred(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        self.run_service(request, queryset, mark_erred, "Marked as erred")

    @admin.action(description="Resubmit selected erred orders for provisioning (preview, then a job)")
    def retry(self, request: HttpRequest, queryset: QuerySet[Order]) -> HttpResponse:
        return resubmit_for_provisioning(self, request, queryset)

    def get_urls(self) -> list[Any]:
        retry = self.admin_site.admin_view(self.retry_view)
        return [path("<path:object_id>/retry/", retry, name="orders_order_retry"), *super().get_urls()]

    def retry_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The Retry button of an erred order's page (POST): the retry service, its refusal as a message."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_view_permission(request):
            raise PermissionDenied
        order = self.get_object(request, object_id)
        if order is None:
            raise Http404("No such order.")
        try:
            order = services.order_retry(order=order.pk, actor=request.user, reason="Retry button in the admin")
        except DomainError as exc:
            self.message_user(request, f"Order {order.uuid.hex} was not retried: {exc.message}", messages.ERROR)
        else:
            self.message_user(
                request,
                f"Order {order.uuid.hex} resubmitted for provisioning: attempt {order.attempt}, now {order.state}.",
                messages.SUCCESS,
            )
        return HttpResponseRedirect(reverse("admin:orders_order_change", args=[order.pk]))


class ResourceOrderInline(ReadOnlyTabularInline):
    model = Order
    fields = ("type", "state", "attempt", "created", "completed_at", "error_message")
    readonly_fields = fields
    ordering = ("created", "id")
    show_change_link = True


@admin.register(Resource)
class ResourceAdmin(StaffAdmin):
    list_display = (
        "uuid_hex", "name", "state", "offering", "offering_type", "provider", "project", "plan", "backend_id",
        "created",
    )  # fmt: skip
    list_filter = (
        "state",
        OfferingTypeFilter,
        ("offering__customer", titled("provider")),
        ("offering", titled("offering")),
        ("project__customer", titled("consumer organisation")),
        "created",
        "end_date",
    )
    list_select_related = ("offering", "offering__customer", "project", "project__customer", "plan", "plan__offering")
    search_fields = (
        "uuid", "name", "slug", "backend_id", "project__name", "project__customer__name", "offering__name",
    )  # fmt: skip
    date_hierarchy = "created"
    exclude = ("state",)  # a protected FSM field: only order services move it
    fields = (
        "uuid_hex", "name", "slug", "state", "project", "offering", "plan", "limits", "attributes", "backend_id",
        "backend_metadata", "end_date", "error_message", "error_traceback", "created", "modified",
    )  # fmt: skip
    # Limits, plan and backend id change through orders and services; only descriptive fields are edited here.
    readonly_fields = (
        "uuid_hex", "state", "project", "offering", "plan", "limits", "attributes", "backend_id",
        "error_message", "error_traceback", "created", "modified",
    )  # fmt: skip
    inlines = (ResourceOrderInline,)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="offering type", ordering="offering__type")
    def offering_type(self, obj: Resource) -> str:
        return obj.offering.type

    @admin.display(description="provider", ordering="offering__customer__name")
    def provider(self, obj: Resource) -> str:
        return str(obj.offering.customer)


@admin.register(OrderEvent)
class OrderEventAdmin(ReadOnlyAdmin):
    list_display = ("created", "order_uuid", "kind", "from_state", "to_state", "actor", "short_message")
    list_filter = ("kind", "to_state", "from_state", "created")
    list_select_related = ("order", "actor")
    search_fields = ("kind", "message", "actor__username", "order__project__name", "order__resource__name")
    uuid_search_fields = ("order__uuid",)
    date_hierarchy = "created"
    fields = ("order", "kind", "from_state", "to_state", "actor", "message", "payload", "created")
    readonly_fields = fields

    @admin.display(description="order", ordering="order__uuid")
    def order_uuid(self, obj: OrderEvent) -> str:
        return obj.order.uuid.hex

    @admin.display(description="message")
    def short_message(self, obj: OrderEvent) -> str:
        return obj.message if len(obj.message) <= 80 else f"{obj.message[:79]}…"
