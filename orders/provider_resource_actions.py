"""The resource actions python-waldur-client (the Ansible modules and provider playbooks) calls beyond
the order-placing ones: on the provider view terminate, set_backend_metadata, set_as_erred, set_as_ok,
submit_report, refresh_last_sync, plan_periods; on both views PATCH (name, end date) and plan_periods; on
the consumer view update_options. The viewsets here extend those of orders/resource_views.py."""

from __future__ import annotations

import uuid as uuid_lib

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from core.api.bodies import validated
from core.api.fields import AttributesField, HexUUIDField
from core.api.schema import responses
from orders import resource_views
from orders.models import Resource
from orders.serializers import resources as r
from orders.serializers.inputs import StatusSerializer
from orders.services import provider_resources as services
from permissions import policies

_RO = {"read_only": True}


class ResourcePatchSerializer(serializers.Serializer):
    name = serializers.CharField(required=False, max_length=150)
    end_date = serializers.DateField(required=False, allow_null=True)


class BackendMetadataSerializer(serializers.Serializer):
    backend_metadata = AttributesField()


class ErrorDetailsSerializer(serializers.Serializer):
    error_message = serializers.CharField(required=False, allow_blank=True, default="")
    error_traceback = serializers.CharField(required=False, allow_blank=True, default="")


class ReportSectionSerializer(serializers.Serializer):
    header = serializers.CharField(allow_blank=True, max_length=255)
    body = serializers.CharField(allow_blank=True, max_length=100_000)


class ReportSerializer(serializers.Serializer):
    report = ReportSectionSerializer(many=True, allow_empty=False)


class OptionsSerializer(serializers.Serializer):
    options = AttributesField()


class PlanPeriodSerializer(serializers.Serializer):
    """Waldur's ResourcePlanPeriod. No billing history is kept: one open period on the current plan."""

    uuid = HexUUIDField(**_RO)
    plan_name = serializers.CharField(**_RO)
    plan_uuid = HexUUIDField(**_RO)
    start = serializers.DateTimeField(**_RO)
    end = serializers.DateTimeField(allow_null=True, **_RO)
    components = serializers.ListField(child=serializers.DictField(), **_RO)


def plan_periods(resource: Resource) -> list[dict]:
    if resource.plan_id is None:
        return []
    plan = resource.plan
    return [
        {
            "uuid": uuid_lib.uuid5(resource.uuid, plan.uuid.hex),
            "plan_name": plan.name,
            "plan_uuid": plan.uuid,
            "start": resource.created,
            "end": None,
            "components": [],
        }
    ]


def _status(message: str) -> Response:
    return Response({"status": message})


_PATCH = extend_schema(
    request=ResourcePatchSerializer, responses=responses({200: r.ResourceSerializer}, 400, 403, 404, 409)
)
_PERIODS = extend_schema(responses=responses({200: PlanPeriodSerializer(many=True)}, 404))


class _CommonActions:
    """PATCH and plan_periods, on both views."""

    side = "consumer"

    @_PATCH
    def partial_update(self, request, uuid=None):
        resource = self.get_object()
        data = validated(ResourcePatchSerializer, request)
        resource = services.resource_update_details(
            actor=request.user, resource=resource, side=self.side, name=data.get("name"),
            end_date=data.get("end_date"), set_end_date="end_date" in data,
        )  # fmt: skip
        return Response(self.get_serializer(self.get_queryset().get(pk=resource.pk)).data)

    @_PERIODS
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def plan_periods(self, request, uuid=None):
        return Response(PlanPeriodSerializer(plan_periods(self.get_object()), many=True).data)


class ResourceViewSet(_CommonActions, resource_views.ResourceViewSet):
    http_method_names = ["get", "post", "patch", "head", "options"]
    action_policies = {
        **resource_views.ResourceViewSet.action_policies,
        "partial_update": None,  # the service checks the right
        "plan_periods": None,
        "update_options": policies.can_update_resource_limits,
    }

    @extend_schema(request=OptionsSerializer, responses=responses({200: StatusSerializer}, 400, 403, 404, 409))
    @action(detail=True, methods=["post"])
    def update_options(self, request, uuid=None):
        """Replace the resource's `options` (kept in its attributes); no order is placed, nothing is
        provisioned. A terminated resource cannot be changed (409)."""
        resource = self.get_object()
        data = validated(OptionsSerializer, request)
        services.resource_update_options(actor=request.user, resource=resource, options=data["options"])
        return _status("Resource options have been updated.")


class ProviderResourceViewSet(_CommonActions, resource_views.ProviderResourceViewSet):
    side = "provider"
    http_method_names = ["get", "post", "patch", "head", "options"]
    action_policies = {
        **resource_views.ProviderResourceViewSet.action_policies,
        "partial_update": None,  # the service checks the right
        "plan_periods": None,
        "terminate": policies.can_terminate_resource_as_provider,
        "set_backend_metadata": policies.can_set_resource_backend_id,
        "set_as_erred": policies.can_set_resource_state_as_provider,
        "set_as_ok": policies.can_set_resource_state_as_provider,
        "submit_report": policies.can_set_resource_backend_id,
        "refresh_last_sync": policies.can_set_resource_backend_id,
    }

    @extend_schema(
        request=r.ResourceTerminateSerializer, responses=responses({200: r.OrderUUIDSerializer}, 400, 403, 404, 409)
    )
    @action(detail=True, methods=["post"])
    def terminate(self, request, uuid=None):
        resource = self.get_object()
        data = validated(r.ResourceTerminateSerializer, request)
        order = services.resource_terminate_by_provider(actor=request.user, resource=resource, **data)
        return Response({"order_uuid": order.uuid.hex})

    @extend_schema(request=BackendMetadataSerializer, responses=responses({200: StatusSerializer}, 400, 403, 404))
    @action(detail=True, methods=["post"])
    def set_backend_metadata(self, request, uuid=None):
        """Replace what the provider records about its backend object (`backend_metadata`); a submitted
        report is kept."""
        resource = self.get_object()
        data = validated(BackendMetadataSerializer, request)
        services.resource_set_backend_metadata(
            actor=request.user, resource=resource, backend_metadata=data["backend_metadata"]
        )
        return _status("Resource backend metadata has been updated.")

    @extend_schema(request=ErrorDetailsSerializer, responses=responses({200: StatusSerializer}, 400, 403, 404, 409))
    @action(detail=True, methods=["post"])
    def set_as_erred(self, request, uuid=None):
        resource = self.get_object()
        data = validated(ErrorDetailsSerializer, request)
        services.resource_set_as_erred(actor=request.user, resource=resource, **data)
        return _status("Resource has been marked as erred.")

    @extend_schema(request=None, responses=responses({200: StatusSerializer}, 403, 404, 409))
    @action(detail=True, methods=["post"])
    def set_as_ok(self, request, uuid=None):
        services.resource_set_as_ok(actor=request.user, resource=self.get_object())
        return _status("Resource has been marked as OK.")

    @extend_schema(request=ReportSerializer, responses=responses({200: StatusSerializer}, 400, 403, 404))
    @action(detail=True, methods=["post"])
    def submit_report(self, request, uuid=None):
        """The provider's report to the consumer: a non-empty list of sections, each with a `header` and a
        `body`; it replaces the previous report (kept in `backend_metadata`)."""
        resource = self.get_object()
        data = validated(ReportSerializer, request)
        services.resource_submit_report(actor=request.user, resource=resource, report=data["report"])
        return _status("Report has been submitted.")

    @extend_schema(request=None, responses=responses({200: StatusSerializer}, 403, 404))
    @action(detail=True, methods=["post"])
    def refresh_last_sync(self, request, uuid=None):
        """The provider's automation says it has just synchronised the resource: its `modified` time moves to
        now; nothing else changes."""
        services.resource_refresh_last_sync(actor=request.user, resource=self.get_object())
        return _status("Last sync time has been refreshed.")
