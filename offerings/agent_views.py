"""/api/marketplace-site-agent-identities|services|processors/: what the site agent registers each cycle."""

from __future__ import annotations

import django_filters
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from core.api.bodies import validated
from core.api.lookups import UUIDLookupMixin, parse_uuid
from core.api.schema import list_and_retrieve, responses
from offerings import agent_services
from offerings.agent_models import AgentIdentity, AgentProcessor, AgentService
from offerings.agent_serializers import (
    AgentIdentityRequestSerializer,
    AgentIdentitySerializer,
    AgentProcessorRequestSerializer,
    AgentProcessorSerializer,
    AgentServiceRequestSerializer,
    AgentServiceSerializer,
)
from offerings.models import Offering
from permissions.drf import ActionPolicyPermission
from permissions.policies import can_manage_offering
from permissions.scoping import filter_side


def _manages(path: str):
    def policy(user, obj) -> bool:
        for attr in path.split("."):
            obj = getattr(obj, attr)
        return can_manage_offering(user, obj)

    return policy


class AgentIdentityFilter(django_filters.FilterSet):
    name = django_filters.CharFilter()
    offering_uuid = django_filters.UUIDFilter(field_name="offering__uuid")

    class Meta:
        model = AgentIdentity
        fields: list[str] = []


def _created(obj, serializer_class, context, created: bool) -> Response:
    code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return Response(serializer_class(obj, context=context).data, status=code)


@extend_schema_view(
    **list_and_retrieve(AgentIdentitySerializer, params=False),
    destroy=extend_schema(responses=responses({204: None}, 403, 404)),
)
class AgentIdentityViewSet(
    UUIDLookupMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet
):
    serializer_class = AgentIdentitySerializer
    filterset_class = AgentIdentityFilter
    permission_classes = [ActionPolicyPermission]
    action_policies = {
        "list": None,
        "retrieve": None,
        "create": None,  # the service checks the offering named in the body
        "update": _manages("offering"),
        "destroy": _manages("offering"),
        "register_service": _manages("offering"),
    }

    def get_queryset(self):
        queryset = AgentIdentity.objects.select_related(
            "offering", "offering__customer", "created_by__marketplace_profile"
        )
        queryset = queryset.prefetch_related("services").order_by("created", "id")
        return filter_side(self.request.user, queryset, "provider")

    def _register(self, request, identity: AgentIdentity | None) -> Response:
        data = validated(AgentIdentityRequestSerializer, request)
        data = dict(data)
        offering_uuid = parse_uuid(data.pop("offering"))
        offerings = filter_side(request.user, Offering.objects.select_related("customer"), "provider", lookup="")
        offering = offerings.filter(uuid=offering_uuid).first() if offering_uuid else None
        if offering is None:
            raise serializers.ValidationError({"offering": ["Invalid hyperlink - Object does not exist."]})
        data["dependencies"] = [dict(d) for d in data.get("dependencies") or []]
        identity, created = agent_services.agent_identity_register(
            actor=request.user, offering=offering, identity=identity, **data
        )
        return _created(identity, AgentIdentitySerializer, self.get_serializer_context(), created)

    @extend_schema(
        request=AgentIdentityRequestSerializer, responses=responses({201: AgentIdentitySerializer}, 400, 403)
    )
    def create(self, request, *args, **kwargs):
        return self._register(request, None)

    @extend_schema(
        request=AgentIdentityRequestSerializer, responses=responses({200: AgentIdentitySerializer}, 400, 403, 404)
    )
    def update(self, request, *args, **kwargs):
        response = self._register(request, self.get_object())
        response.status_code = status.HTTP_200_OK
        return response

    def perform_destroy(self, instance: AgentIdentity) -> None:
        instance.delete()

    @extend_schema(
        request=AgentServiceRequestSerializer,
        responses=responses({200: AgentServiceSerializer, 201: AgentServiceSerializer}, 400, 403, 404),
    )
    @action(detail=True, methods=["post"])
    def register_service(self, request, uuid=None):
        """Register a service (by `name`, optional `mode`) that this site agent identity runs; answers 201 with
        the new service, or 200 with the existing one of that name (idempotent)."""
        identity = self.get_object()
        data = validated(AgentServiceRequestSerializer, request)
        service, created = agent_services.agent_service_register(
            actor=request.user, identity=identity, name=data["name"],
            mode=data.get("mode") or "",
        )  # fmt: skip
        return _created(service, AgentServiceSerializer, self.get_serializer_context(), created)


@extend_schema_view(
    **list_and_retrieve(AgentServiceSerializer, params=False),
)
class AgentServiceViewSet(UUIDLookupMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = AgentServiceSerializer
    permission_classes = [ActionPolicyPermission]
    action_policies = {"list": None, "retrieve": None, "register_processor": _manages("identity.offering")}

    def get_queryset(self):
        queryset = AgentService.objects.select_related("identity__offering__customer").prefetch_related("processors")
        return filter_side(
            self.request.user, queryset.order_by("created", "id"), "provider", lookup="identity__offering"
        )

    @extend_schema(
        request=AgentProcessorRequestSerializer,
        responses=responses({200: AgentProcessorSerializer, 201: AgentProcessorSerializer}, 400, 403, 404),
    )
    @action(detail=True, methods=["post"])
    def register_processor(self, request, uuid=None):
        """Register a processor (by `name`, with its `backend_type` and optional `backend_version`) under this
        agent service; answers 201 with the new processor, or 200 with the existing one of that name, its
        backend type and version updated."""
        service = self.get_object()
        data = validated(AgentProcessorRequestSerializer, request)
        processor, created = agent_services.agent_processor_register(
            actor=request.user, service=service, name=data["name"], backend_type=data["backend_type"],
            backend_version=data.get("backend_version") or "",
        )  # fmt: skip
        return _created(processor, AgentProcessorSerializer, self.get_serializer_context(), created)


@extend_schema_view(
    **list_and_retrieve(AgentProcessorSerializer, params=False),
)
class AgentProcessorViewSet(UUIDLookupMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = AgentProcessorSerializer
    permission_classes = [ActionPolicyPermission]
    action_policies = {"list": None, "retrieve": None}

    def get_queryset(self):
        queryset = AgentProcessor.objects.select_related("service__identity__offering__customer")
        return filter_side(
            self.request.user, queryset.order_by("created", "id"), "provider", lookup="service__identity__offering"
        )
