"""OrderDetails: the order as the published clients parse it (clients.md Appendix F, 95 keys + ours).

The one definition of the order's representation: the API's output (compiled to a row builder by
core/api/rows.py, so every key reads stored values: plain fields by `source`, the rest through
ComputedField functions) and its OpenAPI schema."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from rest_framework import serializers

from core.api.computed import ComputedField, constant
from core.api.fields import HexUUIDField, SafeCharField, SafeUUIDField
from core.api.links import LinkField, api_link
from core.api.representation import RepresentationMixin
from offerings.serializers import visible_plugin_options
from orders.actions import available_actions, order_facts
from orders.attachments import attachment_url
from orders.models import Order
from orders.states import OrderState, OrderType
from permissions.policies import sees_everything

_RO = {"read_only": True}


def _null_char(source: str) -> SafeCharField:
    return SafeCharField(source=source, allow_null=True, **_RO)


def _file_link(field_name: str):
    def link(context: dict[str, Any], order_hex: str, stored_name: str | None) -> str | None:
        return attachment_url(context.get("request"), order_hex, field_name, stored_name)

    return link


def _file(field_name: str) -> ComputedField:
    """An order's file as the URL of its authenticated download endpoint (orders/attachments.py)."""
    return ComputedField(
        _file_link(field_name), needs=("uuid", field_name), context=True, output=OpenApiTypes.URI, allow_null=True
    )


def _full_name(first_name: str | None, last_name: str | None) -> str | None:
    """User.get_full_name() of a user who may be absent (None)."""
    return None if first_name is None else f"{first_name} {last_name}".strip()


def _full_name_of(user: str) -> ComputedField:
    return ComputedField(
        _full_name, needs=(f"{user}.first_name", f"{user}.last_name"), output=OpenApiTypes.STR, allow_null=True
    )


def _plan_link(context: dict[str, Any], plan_id: int | None, offering_uuid: Any, plan_uuid: Any) -> str | None:
    if not plan_id:
        return None
    return api_link(context, "marketplace-public-offerings", offering_uuid, "plans", plan_uuid)


def _error_traceback(context: dict[str, Any], traceback: str) -> str:
    """Tracebacks may reveal internals: only staff and support see them."""
    request = context.get("request")
    return traceback if request is not None and sees_everything(request.user) else ""


def _plugin_options(context: dict[str, Any], options: Any, type_name: str, offering_id: int, provider_id: int):
    """Plugin options as the caller may see them: secrets masked; internal ones for the provider's staff."""
    memo = context.setdefault("_plugin_options", {})  # one offering's options are the same on every row
    if offering_id not in memo:
        memo[offering_id] = visible_plugin_options(context, options, type_name, offering_id, provider_id)
    return memo[offering_id]


# What the policies, the offering type and the state machine read of an order (orders.actions.order_facts).
FACTS = ("state", "offering_id", "offering.customer_id", "offering.type", "project_id", "project.customer_id",
         "created_by_id")  # fmt: skip


def _transitions(context: dict[str, Any], *facts: Any) -> list[str]:
    request = context.get("request")
    if request is None:
        return []
    user = request.user
    # the policies read the author only as "is it the caller": rows differing in other authors answer alike
    *rest, author_id = facts
    facts = (*rest, user.pk if author_id is not None and author_id == user.pk else None)
    memo = context.setdefault("_transitions", {})  # the same facts answer the same on every row
    if facts not in memo:
        memo[facts] = available_actions(user, order_facts(*facts))
    return memo[facts]


def _can_terminate(context: dict[str, Any], *facts: Any) -> bool:
    return "cancel" in _transitions(context, *facts)


def _fixed_price(plan_id: int | None, order_type: str, unit_price: Any) -> float:
    return float(unit_price) if plan_id and order_type == OrderType.CREATE else 0.0


def _activation_price(plan_id: int | None, order_type: str, init_price: Any, switch_price: Any) -> float:
    if not plan_id:
        return 0.0
    if order_type == OrderType.CREATE:
        return float(init_price)
    return float(switch_price) if order_type == OrderType.UPDATE else 0.0


def _order_subtype(order_type: str, old_plan_id: int | None) -> str | None:
    if order_type != OrderType.UPDATE:
        return None
    return "plan_switch" if old_plan_id else "update_limits"


# Keys of Waldur features this system does not have (images, backend objects, rules, issues).
def _absent() -> ComputedField:
    return constant(None, serializers.CharField(allow_null=True))


class OrderDetailsSerializer(RepresentationMixin, serializers.Serializer):
    offering = LinkField("marketplace-public-offerings", source="offering.uuid")
    offering_name = serializers.CharField(source="offering.name", **_RO)
    offering_uuid = HexUUIDField(source="offering.uuid", **_RO)
    offering_description = serializers.CharField(source="offering.description", **_RO)
    offering_image = _absent()
    offering_thumbnail = _absent()
    offering_type = serializers.CharField(source="offering.type", **_RO)
    offering_shared = serializers.BooleanField(source="offering.shared", **_RO)
    offering_billable = serializers.BooleanField(source="offering.billable", **_RO)
    offering_plugin_options = ComputedField(
        _plugin_options,
        needs=("offering.plugin_options", "offering.type", "offering_id", "offering.customer_id"),
        context=True,
        output=serializers.DictField(),
    )
    provider_name = serializers.CharField(source="offering.customer.name", **_RO)
    provider_uuid = HexUUIDField(source="offering.customer.uuid", **_RO)
    provider_slug = serializers.CharField(source="offering.customer.slug", **_RO)
    provider_description = constant("", OpenApiTypes.STR)
    category_title = serializers.CharField(source="offering.category.title", **_RO)
    category_uuid = HexUUIDField(source="offering.category.uuid", **_RO)
    category_icon = ComputedField(
        lambda icon: icon or None, needs=("offering.category.icon",), output=serializers.URLField(allow_null=True)
    )
    plan = ComputedField(
        _plan_link,
        needs=("plan_id", "offering.uuid", "plan.uuid"),
        context=True,
        output=serializers.URLField(allow_null=True),
    )
    plan_unit = _null_char("plan.unit")
    plan_name = _null_char("plan.name")
    plan_uuid = SafeUUIDField(source="plan.uuid", allow_null=True, **_RO)
    plan_description = _null_char("plan.description")
    attributes = serializers.DictField(**_RO)
    limits = serializers.DictField(child=serializers.IntegerField(), **_RO)
    uuid = HexUUIDField(**_RO)
    created = serializers.DateTimeField(**_RO)
    modified = serializers.DateTimeField(**_RO)
    resource_uuid = _absent()
    resource_type = _absent()
    resource_name = serializers.CharField(source="resource.name", **_RO)
    cost = serializers.DecimalField(max_digits=22, decimal_places=10, allow_null=True, **_RO)
    state = serializers.ChoiceField(choices=OrderState.choices, **_RO)
    output = serializers.CharField(**_RO)
    output_updated_at = serializers.DateTimeField(allow_null=True, **_RO)
    marketplace_resource_uuid = HexUUIDField(source="resource.uuid", **_RO)
    error_message = serializers.CharField(**_RO)
    error_traceback = ComputedField(
        _error_traceback, needs=("error_traceback",), context=True,
        output=serializers.CharField(help_text=_error_traceback.__doc__),
    )  # fmt: skip
    error_updated_at = serializers.DateTimeField(allow_null=True, **_RO)
    callback_url = serializers.URLField(allow_null=True, **_RO)
    completed_at = serializers.DateTimeField(allow_null=True, **_RO)
    request_comment = serializers.CharField(allow_null=True, **_RO)
    attachment = _file("attachment")
    type = serializers.ChoiceField(choices=OrderType.choices, **_RO)
    start_date = serializers.DateField(allow_null=True, **_RO)
    slug = serializers.CharField(**_RO)
    url = ComputedField(
        lambda context, uuid: api_link(context, "marketplace-orders", uuid),
        needs=("uuid",),
        context=True,
        output=OpenApiTypes.URI,
    )
    consumer_reviewed_by = _null_char("consumer_reviewed_by.username")
    consumer_reviewed_by_full_name = _full_name_of("consumer_reviewed_by")
    consumer_reviewed_by_username = _null_char("consumer_reviewed_by.username")
    consumer_reviewed_at = serializers.DateTimeField(allow_null=True, **_RO)
    provider_reviewed_by = _null_char("provider_reviewed_by.username")
    provider_reviewed_by_full_name = _full_name_of("provider_reviewed_by")
    provider_reviewed_by_username = _null_char("provider_reviewed_by.username")
    provider_reviewed_at = serializers.DateTimeField(allow_null=True, **_RO)
    created_by_username = _null_char("created_by.username")
    created_by_full_name = _full_name_of("created_by")
    created_by_civil_number = _null_char("created_by.marketplace_profile.civil_number")
    created_by_email = _null_char("created_by.email")
    created_by_organization = _null_char("created_by.marketplace_profile.organization")
    created_by_organization_country = _absent()
    created_by_organization_registry_code = _absent()
    created_by_organization_vat_code = _absent()
    created_by_organization_address = _absent()
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
    old_cost_estimate = ComputedField(
        lambda old_cost: float(old_cost or 0), needs=("old_cost",), output=OpenApiTypes.DOUBLE
    )
    new_cost_estimate = serializers.DecimalField(
        source="cost", max_digits=22, decimal_places=10, allow_null=True, **_RO
    )
    can_terminate = ComputedField(_can_terminate, needs=FACTS, context=True, output=OpenApiTypes.BOOL)
    fixed_price = ComputedField(_fixed_price, needs=("plan_id", "type", "plan.unit_price"), output=OpenApiTypes.DOUBLE)
    activation_price = ComputedField(
        _activation_price,
        needs=("plan_id", "type", "plan.init_price", "plan.switch_price"),
        output=OpenApiTypes.DOUBLE,
    )
    termination_comment = serializers.CharField(**_RO)
    backend_id = serializers.CharField(**_RO)
    order_subtype = ComputedField(
        _order_subtype, needs=("type", "old_plan_id"), output=serializers.CharField(allow_null=True)
    )
    provider_message = serializers.CharField(**_RO)
    provider_message_url = serializers.CharField(**_RO)
    provider_message_attachment = _file("provider_message_attachment")
    provider_message_updated_at = serializers.DateTimeField(allow_null=True, **_RO)
    consumer_message = serializers.CharField(**_RO)
    consumer_message_attachment = _file("consumer_message_attachment")
    consumer_message_updated_at = serializers.DateTimeField(allow_null=True, **_RO)
    consumer_rejection_comment = serializers.CharField(**_RO)
    provider_rejection_comment = serializers.CharField(**_RO)
    auto_approved = constant(False, OpenApiTypes.BOOL)
    auto_approved_by_rule_uuid = _absent()
    auto_approved_cost_limit_snapshot = _absent()
    issue = _absent()
    # ours, beyond Waldur's shape
    attempt = serializers.IntegerField(**_RO)
    error_is_transient = serializers.BooleanField(**_RO)
    available_transitions = ComputedField(
        _transitions, needs=FACTS, context=True, output=serializers.ListField(child=serializers.CharField())
    )

    class Meta:
        model = Order  # rows are compiled from this class (core/api/rows.py): every key reads stored values
        # keys the published clients crash on when null or "": left out instead
        omit_when_empty = (
            "uuid", "offering_uuid", "provider_uuid", "category_uuid", "customer_uuid", "project_uuid",
            "marketplace_resource_uuid", "created", "modified", "state", "type",
        )  # fmt: skip
