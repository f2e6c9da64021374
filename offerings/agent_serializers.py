"""Site-agent bookkeeping on the wire (clients.md §B.6, §C.5: the agent's models require these keys)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api.fields import HexUUIDField
from core.api.links import api_link
from offerings.agent_config import mask_config_text
from offerings.agent_models import AgentIdentity, AgentProcessor, AgentService

_RO = {"read_only": True}


class _Linked(serializers.Serializer):
    collection = ""
    uuid = HexUUIDField(**_RO)
    url = serializers.SerializerMethodField()
    created = serializers.DateTimeField(**_RO)
    modified = serializers.DateTimeField(**_RO)

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, obj) -> str:
        return api_link(self.context, self.collection, obj.uuid)


class NestedProcessorSerializer(_Linked):
    collection = "marketplace-site-agent-processors"
    name = serializers.CharField(**_RO)
    backend_type = serializers.CharField(**_RO)
    backend_version = serializers.CharField(**_RO)
    last_run = serializers.DateTimeField(allow_null=True, **_RO)


class AgentProcessorSerializer(NestedProcessorSerializer):
    service = HexUUIDField(source="service.uuid", **_RO)
    service_name = serializers.CharField(source="service.name", **_RO)


class NestedServiceSerializer(_Linked):
    collection = "marketplace-site-agent-services"
    name = serializers.CharField(**_RO)
    mode = serializers.CharField(**_RO)
    state = serializers.ChoiceField(choices=AgentService.States.choices, **_RO)
    statistics = serializers.DictField(**_RO)


class AgentServiceSerializer(NestedServiceSerializer):
    identity = HexUUIDField(source="identity.uuid", **_RO)
    identity_name = serializers.CharField(source="identity.name", **_RO)
    processors = NestedProcessorSerializer(many=True, **_RO)


class MaskedConfigField(serializers.CharField):
    def to_representation(self, value) -> str:
        return mask_config_text(super().to_representation(value))


class DependencySerializer(serializers.Serializer):
    package = serializers.CharField(max_length=255)
    version = serializers.CharField(max_length=100, allow_blank=True)


class CompatibilitySerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["compatible", "incompatible", "unknown"], **_RO)
    message = serializers.CharField(**_RO)


def compatibility(identity: AgentIdentity) -> dict[str, str]:
    """What waldur-api-client 8.1.3 requires on every identity: no version is judged incompatible here,
    an agent that did not report its version is "unknown"."""
    if not identity.version:
        return {"status": "unknown", "message": "The agent has not reported its version."}
    return {"status": "compatible", "message": f"Site agent version {identity.version} is supported."}


class AgentIdentitySerializer(_Linked):
    """Never a null datetime (both client versions fail to parse the whole list on one): an identity
    registered without `last_restarted` is served without the key."""

    collection = "marketplace-site-agent-identities"
    offering = HexUUIDField(source="offering.uuid", **_RO)
    created_by = serializers.SerializerMethodField()
    name = serializers.CharField(**_RO)
    version = serializers.CharField(**_RO)
    dependencies = DependencySerializer(many=True, **_RO)
    config_file_path = serializers.CharField(**_RO)
    config_file_content = MaskedConfigField(**_RO)  # credentials masked for everyone (offerings/agent_config.py)
    last_restarted = serializers.DateTimeField(required=False, **_RO)
    services = NestedServiceSerializer(many=True, **_RO)
    compatibility = serializers.SerializerMethodField()

    @extend_schema_field(CompatibilitySerializer)
    def get_compatibility(self, identity: AgentIdentity) -> dict[str, str]:
        return compatibility(identity)

    def to_representation(self, instance: AgentIdentity) -> dict:
        data = super().to_representation(instance)
        if data.get("last_restarted") is None:
            data.pop("last_restarted", None)
        return data

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_created_by(self, identity: AgentIdentity) -> str | None:
        profile = getattr(identity.created_by, "marketplace_profile", None) if identity.created_by_id else None
        return profile.uuid.hex if profile is not None else None


class AgentIdentityRequestSerializer(serializers.Serializer):
    offering = serializers.CharField(help_text="Offering uuid (hex or dashed) or hyperlink.")
    name = serializers.CharField(max_length=255)
    version = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=50)
    dependencies = DependencySerializer(many=True, required=False)
    config_file_path = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=500)
    config_file_content = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    last_restarted = serializers.DateTimeField(required=False, allow_null=True)


class AgentServiceRequestSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=255)
    mode = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=50)


class AgentProcessorRequestSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=255)
    backend_type = serializers.CharField(max_length=255)
    backend_version = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=100)


# kept for typing of querysets in views
__all__ = [
    "AgentIdentity", "AgentIdentityRequestSerializer", "AgentIdentitySerializer", "AgentProcessor",
    "AgentProcessorRequestSerializer", "AgentProcessorSerializer", "AgentServiceRequestSerializer",
    "AgentServiceSerializer",
]  # fmt: skip
