"""Organisations, projects and the current user on the wire (Waldur's Customer, Project and UserMe)."""

from __future__ import annotations

import uuid
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api.fields import HexUUIDField
from core.api.links import LinkField, api_link
from core.api.representation import RepresentationMixin

_RO = {"read_only": True}


class CustomerSerializer(RepresentationMixin, serializers.Serializer):
    url = LinkField("customers", source="uuid")
    uuid = HexUUIDField(**_RO)
    name = serializers.CharField(**_RO)
    display_name = serializers.CharField(source="name", **_RO)
    slug = serializers.CharField(**_RO)
    abbreviation = serializers.CharField(**_RO)
    blocked = serializers.BooleanField(**_RO)
    archived = serializers.BooleanField(**_RO)
    created = serializers.DateTimeField(**_RO)

    class Meta:
        omit_when_empty = ("uuid", "created")


class ProjectSerializer(RepresentationMixin, serializers.Serializer):
    url = LinkField("projects", source="uuid")
    uuid = HexUUIDField(**_RO)
    name = serializers.CharField(**_RO)
    slug = serializers.CharField(**_RO)
    description = serializers.CharField(**_RO)
    customer = LinkField("customers", source="customer.uuid")
    customer_uuid = HexUUIDField(source="customer.uuid", **_RO)
    customer_name = serializers.CharField(source="customer.name", **_RO)
    customer_slug = serializers.CharField(source="customer.slug", **_RO)
    customer_abbreviation = serializers.CharField(source="customer.abbreviation", **_RO)
    start_date = serializers.DateField(allow_null=True, **_RO)
    end_date = serializers.DateField(allow_null=True, **_RO)
    created = serializers.DateTimeField(**_RO)

    class Meta:
        omit_when_empty = ("uuid", "created", "customer_uuid")


class MePermissionSerializer(serializers.Serializer):
    """One of the user's roles (Waldur's MePermission): the scope and the organisation behind it."""

    role_name = serializers.CharField(**_RO)
    scope_type = serializers.CharField(**_RO)
    scope_uuid = HexUUIDField(**_RO)
    scope_name = serializers.CharField(**_RO)
    customer_uuid = HexUUIDField(allow_null=True, **_RO)
    customer_name = serializers.CharField(allow_null=True, **_RO)
    project_uuid = HexUUIDField(allow_null=True, **_RO)
    project_name = serializers.CharField(allow_null=True, **_RO)
    expiration_time = serializers.DateTimeField(allow_null=True, **_RO)

    class Meta:
        omit_when_empty = ("scope_uuid", "customer_uuid", "project_uuid")  # the schema marks them optional

    def to_representation(self, instance: Any) -> dict[str, Any]:
        data = super().to_representation(instance)
        for key in self.Meta.omit_when_empty:
            if data.get(key) in (None, ""):
                data.pop(key, None)
        return data


class UserMeSerializer(RepresentationMixin, serializers.Serializer):
    """The user behind the token; `uuid` is the marketplace profile's. `permissions` come from the view."""

    url = serializers.SerializerMethodField()
    uuid = HexUUIDField(source="marketplace_profile.uuid", **_RO)
    username = serializers.CharField(**_RO)
    full_name = serializers.CharField(source="get_full_name", **_RO)
    first_name = serializers.CharField(**_RO)
    last_name = serializers.CharField(**_RO)
    email = serializers.CharField(**_RO)
    organization = serializers.CharField(source="marketplace_profile.organization", **_RO)
    civil_number = serializers.SerializerMethodField()
    is_staff = serializers.BooleanField(**_RO)
    is_support = serializers.BooleanField(source="marketplace_profile.is_support", **_RO)
    is_active = serializers.BooleanField(**_RO)
    date_joined = serializers.DateTimeField(**_RO)
    permissions = serializers.SerializerMethodField()

    class Meta:
        omit_when_empty = ("uuid", "date_joined")

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, user) -> str:
        return api_link(self.context, "users", user.marketplace_profile.uuid)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_civil_number(self, user) -> str | None:
        return user.marketplace_profile.civil_number or None

    @extend_schema_field(MePermissionSerializer(many=True))
    def get_permissions(self, user) -> list[dict[str, Any]]:
        return MePermissionSerializer(self.context.get("permissions", []), many=True).data


class RoleSerializer(serializers.Serializer):
    """Waldur's Role: its name (e.g. PROJECT.ADMIN), the kind of scope it is granted on and its grants."""

    uuid = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()
    name = serializers.CharField(**_RO)
    description = serializers.SerializerMethodField()
    content_type = serializers.CharField(source="scope_kind", **_RO)
    permissions = serializers.SerializerMethodField()
    is_system_role = serializers.BooleanField(default=True, **_RO)
    is_active = serializers.BooleanField(default=True, **_RO)

    @extend_schema_field(OpenApiTypes.UUID)
    def get_uuid(self, role) -> str:
        return uuid.uuid5(uuid.NAMESPACE_URL, f"marketplace-role:{role.name}").hex

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, role) -> str:
        return api_link(self.context, "roles", role.name)

    def get_description(self, role) -> str:
        return role.description or role.get_name_display()

    def get_permissions(self, role) -> list[str]:
        return sorted(grant.permission for grant in role.grants.all())
