"""The catalogue on the wire: categories, providers, offerings with components and plans (Waldur shapes).

Offerings and plans are read through querysets from offerings/selectors.py (prefetched plans and
components, annotated counts); the fallbacks below keep a bare instance working too, one query more.
Plugin options never carry secrets out: the options the offering's type declares secret are masked everywhere,
and its internal ones (the fulfilment URL, probes) are shown only to the provider's staff and platform staff.
"""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api.fields import HexUUIDField, SafeCharField, SafeUUIDField
from core.api.links import LinkField, api_link
from core.api.representation import RepresentationMixin
from offerings.models import Category, Offering, OfferingComponent, Plan
from offerings.registry import get_offering_type
from permissions.policies import can_see_offering_internals

_RO = {"read_only": True}
TERMINATED = "Terminated"  # orders.states.ResourceState.TERMINATED (orders sits above offerings)
PUBLIC_OFFERINGS = "marketplace-public-offerings"
PROVIDER_OFFERINGS = "marketplace-provider-offerings"
PLANS = "marketplace-plans"


def plugin_options_for(offering: Offering, context: dict[str, Any]) -> dict[str, Any]:
    """The offering's plugin_options as the serializer's caller may see them: secrets masked for everyone;
    internal options only for the provider's staff and platform staff (no request in context: nobody's).

    What is secret or internal is the type's declaration (offerings/types/), not a guess from key names;
    options of an unknown type, and undeclared keys, are shown as stored."""
    return visible_plugin_options(context, offering.plugin_options, offering.type, offering.pk, offering.customer_id)


def visible_plugin_options(
    context: dict[str, Any], options: Any, type_name: str, offering_id: int, provider_id: int
) -> dict[str, Any]:
    """plugin_options_for() from the offering's stored values (rows read without model instances)."""
    options = options if isinstance(options, dict) else {}
    spec = get_offering_type(type_name)
    if spec is None:
        return dict(options)
    request = context.get("request")
    user = getattr(request, "user", None)
    offering = SimpleNamespace(pk=offering_id, customer_id=provider_id)
    return spec.visible(options, insider=user is not None and can_see_offering_internals(user, offering))


@extend_schema_field(serializers.ListField(child=serializers.DictField()))
def _empty_list(self, obj: Any) -> list:
    return []


@extend_schema_field(OpenApiTypes.OBJECT)
def _empty_dict(self, obj: Any) -> dict:
    return {}


# --- plans --------------------------------------------------------------------------------------


class PlanComponentSerializer(serializers.Serializer):
    type = serializers.CharField(source="component.type", **_RO)
    name = serializers.CharField(source="component.name", **_RO)
    measured_unit = serializers.CharField(source="component.measured_unit", **_RO)
    amount = serializers.IntegerField(**_RO)
    price = serializers.DecimalField(max_digits=22, decimal_places=10, **_RO)


def resources_count(plan: Plan) -> int:
    """Resources using the plan that are not terminated (annotated by the selectors)."""
    count = getattr(plan, "resources_count", None)
    if count is None:
        count = plan.resources.exclude(state=TERMINATED).count()
    return count


class PublicPlanSerializer(RepresentationMixin, serializers.Serializer):
    """BasePublicPlan; `url` is the nested form the order's `plan` hyperlink uses."""

    url = serializers.SerializerMethodField()
    uuid = HexUUIDField(**_RO)
    name = serializers.CharField(**_RO)
    description = serializers.CharField(**_RO)
    article_code = serializers.CharField(**_RO)
    max_amount = serializers.IntegerField(allow_null=True, **_RO)
    archived = serializers.BooleanField(**_RO)
    is_active = serializers.SerializerMethodField()
    unit_price = serializers.DecimalField(max_digits=22, decimal_places=7, **_RO)
    unit = serializers.ChoiceField(choices=Plan.Units.choices, **_RO)
    init_price = serializers.FloatField(**_RO)
    switch_price = serializers.FloatField(**_RO)
    backend_id = serializers.CharField(**_RO)
    organization_groups = serializers.SerializerMethodField()
    components = PlanComponentSerializer(many=True, **_RO)
    prices = serializers.SerializerMethodField()
    future_prices = serializers.SerializerMethodField()
    quotas = serializers.SerializerMethodField()
    resources_count = serializers.SerializerMethodField()
    plan_type = serializers.SerializerMethodField()
    minimal_price = serializers.SerializerMethodField()

    class Meta:
        omit_when_empty = ("uuid", "unit")

    get_organization_groups = _empty_list
    get_future_prices = _empty_dict

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, plan: Plan) -> str:
        return api_link(self.context, PUBLIC_OFFERINGS, plan.offering.uuid, "plans", plan.uuid)

    @extend_schema_field(OpenApiTypes.BOOL)
    def get_is_active(self, plan: Plan) -> bool:
        return not plan.archived and (plan.max_amount is None or resources_count(plan) < plan.max_amount)

    @extend_schema_field(serializers.DictField(child=serializers.CharField()))
    def get_prices(self, plan: Plan) -> dict[str, str]:
        return {pc.component.type: str(pc.price) for pc in plan.components.all()}

    @extend_schema_field(serializers.DictField(child=serializers.IntegerField()))
    def get_quotas(self, plan: Plan) -> dict[str, int]:
        return {pc.component.type: pc.amount for pc in plan.components.all()}

    @extend_schema_field(OpenApiTypes.INT)
    def get_resources_count(self, plan: Plan) -> int:
        return resources_count(plan)

    @extend_schema_field(OpenApiTypes.STR)
    def get_plan_type(self, plan: Plan) -> str:
        return "limit"

    @extend_schema_field(OpenApiTypes.DOUBLE)
    def get_minimal_price(self, plan: Plan) -> float:
        """The least a resource on this plan costs per unit: the plan price, fixed components, minimum limits."""
        total = Decimal(plan.unit_price)
        for pc in plan.components.all():
            component = pc.component
            if component.billing_type == OfferingComponent.BillingTypes.FIXED:
                total += pc.price * pc.amount
            elif component.billing_type != OfferingComponent.BillingTypes.USAGE and component.min_value:
                total += pc.price * component.min_value / (component.unit_factor or 1)
        return float(total)


class ProviderPlanSerializer(PublicPlanSerializer):
    """ProviderPlanDetails (/api/marketplace-plans/): the plan with its own url and its offering."""

    offering = LinkField(PUBLIC_OFFERINGS, source="offering.uuid")
    offering_uuid = HexUUIDField(source="offering.uuid", **_RO)
    offering_name = serializers.CharField(source="offering.name", **_RO)

    class Meta:
        omit_when_empty = ("uuid", "unit", "offering_uuid")

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, plan: Plan) -> str:
        return api_link(self.context, PLANS, plan.uuid)


class _NestedPublicPlanSerializer(PublicPlanSerializer):
    _full_representation = True  # `?field=` selects the offering's keys, not the plans'


class _NestedProviderPlanSerializer(ProviderPlanSerializer):
    _full_representation = True


# --- offerings ----------------------------------------------------------------------------------


class OfferingComponentSerializer(serializers.Serializer):
    uuid = HexUUIDField(**_RO)
    billing_type = serializers.ChoiceField(choices=OfferingComponent.BillingTypes.choices, **_RO)
    type = serializers.CharField(**_RO)
    name = serializers.CharField(**_RO)
    description = serializers.CharField(**_RO)
    measured_unit = serializers.CharField(**_RO)
    unit_factor = serializers.IntegerField(**_RO)
    limit_amount = serializers.IntegerField(allow_null=True, **_RO)
    min_value = serializers.IntegerField(allow_null=True, **_RO)
    max_value = serializers.IntegerField(allow_null=True, **_RO)
    default_limit = serializers.IntegerField(allow_null=True, **_RO)
    article_code = serializers.CharField(**_RO)


class PublicOfferingDetailsSerializer(RepresentationMixin, serializers.Serializer):
    """PublicOfferingDetails (seed 002 "Get offering details"); the lists Waldur has and we do not are []."""

    collection = PUBLIC_OFFERINGS
    plan_serializer_class: type[PublicPlanSerializer] = _NestedPublicPlanSerializer
    include_archived_plans = False

    url = serializers.SerializerMethodField()
    uuid = HexUUIDField(**_RO)
    created = serializers.DateTimeField(**_RO)
    name = serializers.CharField(**_RO)
    slug = serializers.CharField(**_RO)
    description = serializers.CharField(**_RO)
    full_description = serializers.CharField(source="description", **_RO)
    customer = LinkField("customers", source="customer.uuid")
    customer_uuid = HexUUIDField(source="customer.uuid", **_RO)
    customer_name = serializers.CharField(source="customer.name", **_RO)
    project = LinkField("projects", source="project.uuid")
    project_uuid = SafeUUIDField(source="project.uuid", allow_null=True, **_RO)
    project_name = SafeCharField(source="project.name", allow_null=True, **_RO)
    category = LinkField("marketplace-categories", source="category.uuid")
    category_uuid = HexUUIDField(source="category.uuid", **_RO)
    category_title = serializers.CharField(source="category.title", **_RO)
    type = serializers.CharField(**_RO)
    state = serializers.ChoiceField(choices=Offering.States.choices, **_RO)
    shared = serializers.BooleanField(**_RO)
    billable = serializers.BooleanField(**_RO)
    paused_reason = serializers.SerializerMethodField()
    plugin_options = serializers.SerializerMethodField()
    attributes = serializers.SerializerMethodField()
    options = serializers.SerializerMethodField()
    resource_options = serializers.SerializerMethodField()
    components = OfferingComponentSerializer(many=True, **_RO)
    plans = serializers.SerializerMethodField()
    order_count = serializers.SerializerMethodField()
    partitions = serializers.SerializerMethodField()
    endpoints = serializers.SerializerMethodField()
    roles = serializers.SerializerMethodField()
    screenshots = serializers.SerializerMethodField()
    files = serializers.SerializerMethodField()
    quotas = serializers.SerializerMethodField()
    organization_groups = serializers.SerializerMethodField()
    backend_id = serializers.CharField(**_RO)

    class Meta:
        omit_when_empty = ("uuid", "created", "customer_uuid", "project_uuid", "category_uuid", "state")

    get_attributes = get_options = get_resource_options = _empty_dict
    get_partitions = get_endpoints = get_roles = get_screenshots = get_files = get_quotas = _empty_list
    get_organization_groups = _empty_list

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, offering: Offering) -> str:
        return api_link(self.context, self.collection, offering.uuid)

    @extend_schema_field(OpenApiTypes.STR)
    def get_paused_reason(self, offering: Offering) -> str:
        return ""

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_plugin_options(self, offering: Offering) -> dict[str, Any]:
        return plugin_options_for(offering, self.context)

    @extend_schema_field(_NestedPublicPlanSerializer(many=True))
    def get_plans(self, offering: Offering) -> list[dict[str, Any]]:
        plans = [p for p in offering.plans.all() if self.include_archived_plans or not p.archived]
        return self.plan_serializer_class(plans, many=True, context=self.context).data

    @extend_schema_field(OpenApiTypes.INT)
    def get_order_count(self, offering: Offering) -> int:
        count = getattr(offering, "order_count", None)
        return offering.orders.count() if count is None else count


class ProviderOfferingDetailsSerializer(PublicOfferingDetailsSerializer):
    """ProviderOfferingDetails: the same keys, archived plans included, plans linked at marketplace-plans."""

    collection = PROVIDER_OFFERINGS
    plan_serializer_class = _NestedProviderPlanSerializer
    include_archived_plans = True

    @extend_schema_field(_NestedProviderPlanSerializer(many=True))
    def get_plans(self, offering: Offering) -> list[dict[str, Any]]:
        return super().get_plans(offering)


class UserAttributeConfigSerializer(serializers.Serializer):
    """OfferingUserAttributeConfig: which user attributes the provider sees (the default: the basics)."""

    uuid = HexUUIDField(**_RO)
    created = serializers.DateTimeField(**_RO)
    modified = serializers.DateTimeField(**_RO)
    exposed_fields = serializers.ListField(child=serializers.CharField(), **_RO)
    is_default = serializers.BooleanField(**_RO)
    offering_uuid = HexUUIDField(**_RO)
    offering_name = serializers.CharField(**_RO)
    expose_username = serializers.BooleanField(**_RO)
    expose_full_name = serializers.BooleanField(**_RO)
    expose_email = serializers.BooleanField(**_RO)


# --- categories and providers -------------------------------------------------------------------


class CategorySerializer(RepresentationMixin, serializers.Serializer):
    url = LinkField("marketplace-categories", source="uuid")
    uuid = HexUUIDField(**_RO)
    title = serializers.CharField(**_RO)
    description = serializers.CharField(**_RO)
    icon = serializers.SerializerMethodField()
    offering_count = serializers.SerializerMethodField()

    class Meta:
        omit_when_empty = ("uuid",)

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_icon(self, category: Category) -> str | None:
        return category.icon or None

    @extend_schema_field(OpenApiTypes.INT)
    def get_offering_count(self, category: Category) -> int:
        """Offerings of the category the caller can see (annotated by the view)."""
        return getattr(category, "offering_count", 0)


class ServiceProviderSerializer(RepresentationMixin, serializers.Serializer):
    url = LinkField("marketplace-service-providers", source="uuid")
    uuid = HexUUIDField(**_RO)
    created = serializers.DateTimeField(**_RO)
    description = serializers.CharField(**_RO)
    customer = LinkField("customers", source="customer.uuid")
    customer_uuid = HexUUIDField(source="customer.uuid", **_RO)
    customer_name = serializers.CharField(source="customer.name", **_RO)
    customer_slug = serializers.CharField(source="customer.slug", **_RO)
    customer_abbreviation = serializers.CharField(source="customer.abbreviation", **_RO)
    organization_groups = serializers.SerializerMethodField()

    class Meta:
        omit_when_empty = ("uuid", "created", "customer_uuid")

    get_organization_groups = _empty_list


# --- look-ups the site agent makes that always answer an empty list here -------------------------


class SSHKeySerializer(serializers.Serializer):
    """SshKey (schema only: no keys are stored)."""

    uuid = HexUUIDField(**_RO)
    name = serializers.CharField(**_RO)
    public_key = serializers.CharField(**_RO)
    fingerprint_sha256 = serializers.CharField(**_RO)
    user_uuid = HexUUIDField(**_RO)


class AccountSerializer(serializers.Serializer):
    """ProjectServiceAccount / CourseAccount (schema only: none are managed here)."""

    uuid = HexUUIDField(**_RO)
    username = serializers.CharField(**_RO)
    email = serializers.EmailField(**_RO)
    project_uuid = HexUUIDField(**_RO)
