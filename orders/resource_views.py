"""Resources: the consumer's view (/api/marketplace-resources/: terminate, update_limits, switch_plan
place orders) and the provider's (/api/marketplace-provider-resources/: set_backend_id, set_limits)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from core.api.bodies import validated
from core.api.lookups import UUIDLookupMixin, parse_uuid
from core.api.schema import list_and_retrieve, responses
from offerings.models import Plan
from orders import selectors, services
from orders.filters import ResourceFilter
from orders.serializers import resources as r
from orders.serializers.inputs import StatusSerializer
from permissions import policies
from permissions.drf import ActionPolicyPermission
from permissions.scoping import filter_side
from permissions.team import project_team


class _ResourceViewSet(UUIDLookupMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = r.ResourceSerializer
    filterset_class = ResourceFilter
    permission_classes = [ActionPolicyPermission]
    side = "consumer"
    collection = "marketplace-resources"

    def get_queryset(self):
        return filter_side(self.request.user, selectors.resource_list_for(self.request.user), self.side)

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "resource_collection": self.collection}


def _order_placed(order) -> Response:
    return Response({"order_uuid": order.uuid.hex})


@extend_schema_view(**list_and_retrieve(r.ResourceSerializer))
class ResourceViewSet(_ResourceViewSet):
    """Resources of the caller's projects; changes are requested by placing orders."""

    action_policies = {
        "list": None,
        "retrieve": None,
        "terminate": policies.can_terminate_resource,
        "update_limits": policies.can_update_resource_limits,
        "switch_plan": policies.can_switch_resource_plan,
    }

    @extend_schema(
        request=r.ResourceTerminateSerializer, responses=responses({200: r.OrderUUIDSerializer}, 400, 403, 404, 409)
    )
    @action(detail=True, methods=["post"])
    def terminate(self, request, uuid=None):
        """Place a Terminate order for the resource (optional `attributes`); answers its `order_uuid`.

        The resource must be OK or Erred and have no order in progress (409 otherwise); the order is then
        routed like any other (consumer and provider review unless the author may approve)."""
        resource = self.get_object()
        data = validated(r.ResourceTerminateSerializer, request)
        order = services.resource_terminate(actor=request.user, resource=resource, **data)
        return _order_placed(order)

    @extend_schema(
        request=r.ResourceLimitsSerializer, responses=responses({200: r.OrderUUIDSerializer}, 400, 403, 404, 409)
    )
    @action(detail=True, methods=["post"])
    def update_limits(self, request, uuid=None):
        """Place an Update order that changes the resource's `limits`; answers its `order_uuid`.

        The resource must be OK with no order in progress (409); the limits must name the offering's
        components and differ from the current ones (400)."""
        resource = self.get_object()
        data = validated(r.ResourceLimitsSerializer, request)
        order = services.resource_update_limits(actor=request.user, resource=resource, **data)
        return _order_placed(order)

    @extend_schema(
        request=r.ResourceSwitchPlanSerializer, responses=responses({200: r.OrderUUIDSerializer}, 400, 403, 404, 409)
    )
    @action(detail=True, methods=["post"])
    def switch_plan(self, request, uuid=None):
        """Place an Update order that moves the resource to another `plan` of its offering; answers its
        `order_uuid`.

        The plan must belong to the offering, be active and differ from the current one (400); the resource
        must be OK with no order in progress (409)."""
        resource = self.get_object()
        data = validated(r.ResourceSwitchPlanSerializer, request)
        resource = resource
        plan = Plan.objects.filter(uuid=parse_uuid(data["plan"]), offering=resource.offering).first()
        if plan is None:
            raise serializers.ValidationError({"plan": ["This plan is not available for selected offering."]})
        return _order_placed(services.resource_switch_plan(actor=request.user, resource=resource, plan=plan))


@extend_schema_view(**list_and_retrieve(r.ResourceSerializer))
class ProviderResourceViewSet(_ResourceViewSet):
    """Resources of the caller's offerings, as the provider (and its site agent) sees them."""

    side = "provider"
    collection = "marketplace-provider-resources"
    action_policies = {
        "list": None,
        "retrieve": None,
        "set_backend_id": policies.can_set_resource_backend_id,
        "set_limits": policies.can_set_resource_limits_as_provider,
        "team": None,
    }

    @extend_schema(responses=responses({200: r.TeamMemberSerializer(many=True)}, 404))
    @action(detail=True, methods=["get"])
    def team(self, request, uuid=None):
        page = self.paginate_queryset(project_team(self.get_object().project))
        return self.get_paginated_response(
            r.TeamMemberSerializer(page, many=True, context=self.get_serializer_context()).data
        )

    @extend_schema(request=r.ResourceBackendIdSerializer, responses=responses({200: StatusSerializer}, 400, 403, 404))
    @action(detail=True, methods=["post"])
    def set_backend_id(self, request, uuid=None):
        """The provider (or its site agent) records its own id of the resource; the status says whether it
        changed."""
        resource = self.get_object()
        data = validated(r.ResourceBackendIdSerializer, request)
        changed = services.resource_set_backend_id(resource=resource, actor=request.user, **data)
        return Response({"status": f"Resource backend_id has {'been' if changed else 'not been'} changed."})

    @extend_schema(request=r.ResourceLimitsSerializer, responses=responses({200: StatusSerializer}, 400, 403, 404))
    @action(detail=True, methods=["post"])
    def set_limits(self, request, uuid=None):
        resource = self.get_object()
        data = validated(r.ResourceLimitsSerializer, request)
        services.resource_set_limits(resource=resource, actor=request.user, **data)
        return Response({"status": "Resource limits have been set."})
