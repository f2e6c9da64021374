"""The order representation as it was before the compiled read path (OrderDetailsSerializer of commit 697196b,
unchanged but for this docstring and its name): the oracle the API's output is compared with, byte for byte,
in test_orders_representation_equality.py. Do not edit it to make a test pass: a change of the representation
is a change of the API."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api.fields import HexUUIDField, SafeCharField, SafeUUIDField
from core.api.links import LinkField, api_link
from core.api.representation import RepresentationMixin
from offerings.serializers import plugin_options_for
from orders.actions import available_actions
from orders.attachments import download_url
from orders.models import Order
from orders.states import OrderState, OrderType
from permissions.policies import sees_everything

_RO = {"read_only": True}


def _null_char(source: str) -> SafeCharField:
    return SafeCharField(source=source, allow_null=True, **_RO)


@extend_schema_field(OpenApiTypes.URI)
class FileLinkField(serializers.FileField):
    """An order's file as the URL of its authenticated download endpoint (orders/attachments.py)."""

    def to_representation(self, value: Any) -> str | None:
        return download_url(self.context.get("request"), value)


class ReferenceOrderDetailsSerializer(RepresentationMixin, serializers.Serializer):
    offering = LinkField("marketplace-public-offerings", source="offering.uuid")
    offering_name = serializers.CharField(source="offering.name", **_RO)
    offering_uuid = HexUUIDField(source="offering.uuid", **_RO)
    offering_description = serializers.CharField(source="offering.description", **_RO)
    offering_image = serializers.SerializerMethodField()
    offering_thumbnail = serializers.SerializerMethodField()
    offering_type = serializers.CharField(source="offering.type", **_RO)
    offering_shared = serializers.BooleanField(source="offering.shared", **_RO)
    offering_billable = serializers.BooleanField(source="offering.billable", **_RO)
    offering_plugin_options = serializers.SerializerMethodField()
    provider_name = serializers.CharField(source="offering.customer.name", **_RO)
    provider_uuid = HexUUIDField(source="offering.customer.uuid", **_RO)
    provider_slug = serializers.CharField(source="offering.customer.slug", **_RO)
    provider_description = serializers.SerializerMethodField()
    category_title = serializers.CharField(source="offering.category.title", **_RO)
    category_uuid = HexUUIDField(source="offering.category.uuid", **_RO)
    category_icon = serializers.SerializerMethodField()
    plan = serializers.SerializerMethodField()
    plan_unit = _null_char("plan.unit")
    plan_name = _null_char("plan.name")
    plan_uuid = SafeUUIDField(source="plan.uuid", allow_null=True, **_RO)
    plan_description = _null_char("plan.description")
    attributes = serializers.DictField(**_RO)
    limits = serializers.DictField(child=serializers.IntegerField(), **_RO)
    uuid = HexUUIDField(**_RO)
    created = serializers.DateTimeField(**_RO)
    modified = serializers.DateTimeField(**_RO)
    resource_uuid = serializers.SerializerMethodField()
    resource_type = serializers.SerializerMethodField()
    resource_name = serializers.CharField(source="resource.name", **_RO)
    cost = serializers.DecimalField(max_digits=22, decimal_places=10, allow_null=True, **_RO)
    state = serializers.ChoiceField(choices=OrderState.choices, **_RO)
    output = serializers.CharField(**_RO)
    output_updated_at = serializers.DateTimeField(allow_null=True, **_RO)
    marketplace_resource_uuid = HexUUIDField(source="resource.uuid", **_RO)
    error_message = serializers.CharField(**_RO)
    error_traceback = serializers.SerializerMethodField()
    error_updated_at = serializers.DateTimeField(allow_null=True, **_RO)
    callback_url = serializers.URLField(allow_null=True, **_RO)
    completed_at = serializers.DateTimeField(allow_null=True, **_RO)
    request_comment = serializers.CharField(allow_null=True, **_RO)
    attachment = FileLinkField(allow_null=True, **_RO)
    type = serializers.ChoiceField(choices=OrderType.choices, **_RO)
    start_date = serializers.DateField(allow_null=True, **_RO)
    slug = serializers.CharField(**_RO)
    url = serializers.SerializerMethodField()
    consumer_reviewed_by = _null_char("consumer_reviewed_by.username")
    consumer_reviewed_by_full_name = _null_char("consumer_reviewed_by.get_full_name")
    consumer_reviewed_by_username = _null_char("consumer_reviewed_by.username")
    consumer_reviewed_at = serializers.DateTimeField(allow_null=True, **_RO)
    provider_reviewed_by = _null_char("provider_reviewed_by.username")
    provider_reviewed_by_full_name = _null_char("provider_reviewed_by.get_full_name")
    provider_reviewed_by_username = _null_char("provider_reviewed_by.username")
    provider_reviewed_at = serializers.DateTimeField(allow_null=True, **_RO)
    created_by_username = _null_char("created_by.username")
    created_by_full_name = _null_char("created_by.get_full_name")
    created_by_civil_number = _null_char("created_by.marketplace_profile.civil_number")
    created_by_email = _null_char("created_by.email")
    created_by_organization = _null_char("created_by.marketplace_profile.organization")
    created_by_organization_country = serializers.SerializerMethodField()
    created_by_organization_registry_code = serializers.SerializerMethodField()
    created_by_organization_vat_code = serializers.SerializerMethodField()
    created_by_organization_address = serializers.SerializerMethodField()
    customer_name = serializers.CharField(source="project.customer.name", **_RO)
    customer_uuid = HexUUIDField(source="project.customer.uuid", **_RO)
    customer_slug = serializers.CharField(source="project.customer.slug", **_RO)
    project_name = serializers.CharField(source="project.name", **_RO)
    project_uuid = HexUUIDField(source="project.uuid", **_RO)
    project_description = serializers.CharField(source="project.description", **_RO)
    project_slug = serializers.CharField(source="project.slug", **_RO)
    old_plan_name = _null_char("old_plan.name")
    new_plan_name = _null_char("plan.name")
    old_plan_uuid = SafeUUIDField(source="old_plan.uuid", allow_null=True, **_RO)
    new_plan_uuid = SafeUUIDField(source="plan.uuid", allow_null=True, **_RO)
    old_cost_estimate = serializers.SerializerMethodField()
    new_cost_estimate = serializers.DecimalField(
        source="cost", max_digits=22, decimal_places=10, allow_null=True, **_RO
    )
    can_terminate = serializers.SerializerMethodField()
    fixed_price = serializers.SerializerMethodField()
    activation_price = serializers.SerializerMethodField()
    termination_comment = serializers.CharField(**_RO)
    backend_id = serializers.CharField(**_RO)
    order_subtype = serializers.SerializerMethodField()
    provider_message = serializers.CharField(**_RO)
    provider_message_url = serializers.CharField(**_RO)
    provider_message_attachment = FileLinkField(allow_null=True, **_RO)
    provider_message_updated_at = serializers.DateTimeField(allow_null=True, **_RO)
    consumer_message = serializers.CharField(**_RO)
    consumer_message_attachment = FileLinkField(allow_null=True, **_RO)
    consumer_message_updated_at = serializers.DateTimeField(allow_null=True, **_RO)
    consumer_rejection_comment = serializers.CharField(**_RO)
    provider_rejection_comment = serializers.CharField(**_RO)
    auto_approved = serializers.SerializerMethodField()
    auto_approved_by_rule_uuid = serializers.SerializerMethodField()
    auto_approved_cost_limit_snapshot = serializers.SerializerMethodField()
    issue = serializers.SerializerMethodField()
    # ours, beyond Waldur's shape
    attempt = serializers.IntegerField(**_RO)
    error_is_transient = serializers.BooleanField(**_RO)
    available_transitions = serializers.SerializerMethodField()

    class Meta:
        # keys the published clients crash on when null or "": left out instead
        omit_when_empty = (
            "uuid", "offering_uuid", "provider_uuid", "category_uuid", "customer_uuid", "project_uuid",
            "marketplace_resource_uuid", "created", "modified", "state", "type",
        )  # fmt: skip
        # select_related paths of method fields (others are derived from `source`)
        extra_joins = {
            "offering_plugin_options": ("offering",),
            "plan": ("plan", "offering"),
            "available_transitions": ("offering", "offering__customer", "project", "project__customer"),
            "can_terminate": ("offering", "offering__customer", "project", "project__customer"),
            "fixed_price": ("plan",),
            "activation_price": ("plan",),
            "url": (),
            "category_icon": ("offering__category",),
        }

    @extend_schema_field(serializers.CharField(allow_null=True))
    def _none(self, order: Order) -> None:
        """Keys of Waldur features this system does not have (images, backend objects, rules, issues)."""
        return None

    get_offering_image = get_offering_thumbnail = get_resource_uuid = get_resource_type = _none
    get_created_by_organization_country = get_created_by_organization_registry_code = _none
    get_created_by_organization_vat_code = get_created_by_organization_address = _none
    get_auto_approved_by_rule_uuid = get_auto_approved_cost_limit_snapshot = get_issue = _none

    @extend_schema_field(OpenApiTypes.STR)
    def get_provider_description(self, order: Order) -> str:
        return ""

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_category_icon(self, order: Order) -> str | None:
        return order.offering.category.icon or None

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_plan(self, order: Order) -> str | None:
        if not order.plan_id:
            return None
        return api_link(self.context, "marketplace-public-offerings", order.offering.uuid, "plans", order.plan.uuid)

    @extend_schema_field(OpenApiTypes.STR)
    def get_error_traceback(self, order: Order) -> str:
        """Tracebacks may reveal internals: only staff and support see them."""
        request = self.context.get("request")
        return order.error_traceback if request is not None and sees_everything(request.user) else ""

    @extend_schema_field(serializers.DictField())
    def get_offering_plugin_options(self, obj) -> dict:
        """Plugin options as the caller may see them: secrets masked; internal ones for the provider's staff."""
        return plugin_options_for(obj.offering, self.context)

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, order: Order) -> str:
        return api_link(self.context, "marketplace-orders", order.uuid)

    @extend_schema_field(OpenApiTypes.DOUBLE)
    def get_old_cost_estimate(self, order: Order) -> float:
        return float(order.old_cost or 0)

    @extend_schema_field(OpenApiTypes.BOOL)
    def get_can_terminate(self, order: Order) -> bool:
        return "cancel" in self._transitions(order)

    @extend_schema_field(OpenApiTypes.DOUBLE)
    def get_fixed_price(self, order: Order) -> float:
        return float(order.plan.unit_price) if order.plan_id and order.type == OrderType.CREATE else 0.0

    @extend_schema_field(OpenApiTypes.DOUBLE)
    def get_activation_price(self, order: Order) -> float:
        if not order.plan_id:
            return 0.0
        if order.type == OrderType.CREATE:
            return float(order.plan.init_price)
        return float(order.plan.switch_price) if order.type == OrderType.UPDATE else 0.0

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_order_subtype(self, order: Order) -> str | None:
        if order.type != OrderType.UPDATE:
            return None
        return "plan_switch" if order.old_plan_id else "update_limits"

    @extend_schema_field(OpenApiTypes.BOOL)
    def get_auto_approved(self, order: Order) -> bool:
        return False

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_available_transitions(self, order: Order) -> list[str]:
        return self._transitions(order)

    def _transitions(self, order: Order) -> list[str]:
        cache = self.context.setdefault("_transitions", {})
        if order.pk not in cache:
            request = self.context.get("request")
            cache[order.pk] = available_actions(request.user, order) if request is not None else []
        return cache[order.pk]
