"""The marketplace resource on the wire (consumer and provider views share it; clients.md §C.5)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api.fields import AttributesField, CountsField, HexUUIDField, SafeCharField, SafeUUIDField
from core.api.links import LinkField, api_link
from core.api.representation import RepresentationMixin
from offerings.serializers import plugin_options_for
from orders.models import MAX_LIMIT, Resource
from orders.states import ResourceState

_RO = {"read_only": True}


class ResourceSerializer(RepresentationMixin, serializers.Serializer):
    uuid = HexUUIDField(**_RO)
    url = serializers.SerializerMethodField()
    name = serializers.CharField(**_RO)
    slug = serializers.CharField(**_RO)
    state = serializers.ChoiceField(choices=ResourceState.choices, **_RO)
    backend_id = serializers.CharField(**_RO)
    limits = serializers.DictField(child=serializers.IntegerField(), **_RO)
    attributes = serializers.DictField(**_RO)
    backend_metadata = serializers.DictField(**_RO)
    end_date = serializers.DateField(allow_null=True, **_RO)
    error_message = serializers.CharField(**_RO)
    offering = LinkField("marketplace-public-offerings", source="offering.uuid")
    offering_uuid = HexUUIDField(source="offering.uuid", **_RO)
    offering_name = serializers.CharField(source="offering.name", **_RO)
    offering_type = serializers.CharField(source="offering.type", **_RO)
    offering_shared = serializers.BooleanField(source="offering.shared", **_RO)
    offering_plugin_options = serializers.SerializerMethodField()
    provider_uuid = HexUUIDField(source="offering.customer.uuid", **_RO)
    provider_name = serializers.CharField(source="offering.customer.name", **_RO)
    category_uuid = HexUUIDField(source="offering.category.uuid", **_RO)
    category_title = serializers.CharField(source="offering.category.title", **_RO)
    project = LinkField("projects", source="project.uuid")
    project_uuid = HexUUIDField(source="project.uuid", **_RO)
    project_name = serializers.CharField(source="project.name", **_RO)
    project_slug = serializers.CharField(source="project.slug", **_RO)
    project_description = serializers.CharField(source="project.description", **_RO)
    customer_uuid = HexUUIDField(source="project.customer.uuid", **_RO)
    customer_name = serializers.CharField(source="project.customer.name", **_RO)
    customer_slug = serializers.CharField(source="project.customer.slug", **_RO)
    plan = serializers.SerializerMethodField()
    plan_uuid = SafeUUIDField(source="plan.uuid", allow_null=True, **_RO)
    plan_name = SafeCharField(source="plan.name", allow_null=True, **_RO)
    resource_type = serializers.CharField(source="offering.type", **_RO)
    created = serializers.DateTimeField(**_RO)
    modified = serializers.DateTimeField(**_RO)

    class Meta:
        omit_when_empty = (
            "uuid", "offering_uuid", "provider_uuid", "category_uuid", "project_uuid", "customer_uuid",
            "plan_uuid", "created", "modified", "state", "end_date",
        )  # fmt: skip

    @extend_schema_field(serializers.DictField())
    def get_offering_plugin_options(self, obj) -> dict:
        """Plugin options as the caller may see them: secrets masked; internal ones for the provider's staff."""
        return plugin_options_for(obj.offering, self.context)

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, resource: Resource) -> str:
        collection = self.context.get("resource_collection", "marketplace-resources")
        return api_link(self.context, collection, resource.uuid)

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_plan(self, resource: Resource) -> str | None:
        if not resource.plan_id:
            return None
        return api_link(
            self.context, "marketplace-public-offerings", resource.offering.uuid, "plans", resource.plan.uuid
        )


class ResourceTerminateSerializer(serializers.Serializer):
    attributes = AttributesField(required=False, default=dict)


class ResourceLimitsSerializer(serializers.Serializer):
    limits = CountsField(max_value=MAX_LIMIT)


class ResourceSwitchPlanSerializer(serializers.Serializer):
    plan = serializers.CharField(help_text="Plan hyperlink or uuid.")


class ResourceBackendIdSerializer(serializers.Serializer):
    backend_id = serializers.CharField(allow_blank=True, max_length=255)


class OrderUUIDSerializer(serializers.Serializer):
    order_uuid = HexUUIDField()


class TeamMemberSerializer(serializers.Serializer):
    """A project member as the provider sees it (waldur-api-client ProjectUser)."""

    url = serializers.SerializerMethodField()
    uuid = HexUUIDField(source="user.marketplace_profile.uuid", **_RO)
    username = serializers.CharField(source="user.username", **_RO)
    full_name = serializers.CharField(source="user.get_full_name", **_RO)
    email = serializers.CharField(source="user.email", **_RO)
    role = serializers.CharField(source="role.name", **_RO)
    expiration_time = serializers.DateTimeField(allow_null=True, **_RO)
    offering_user_username = serializers.SerializerMethodField()
    offering_user_state = serializers.SerializerMethodField()

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, user_role) -> str:
        return api_link(self.context, "users", user_role.user.marketplace_profile.uuid)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_offering_user_username(self, user_role) -> None:
        return None  # offering accounts are not managed here

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_offering_user_state(self, user_role) -> None:
        return None
