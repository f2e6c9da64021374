"""The catalogue a consumer browses to place an order: categories, public offerings and their plans,
plans by uuid, and service providers (clients.md §B.4, §C.5)."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from core.api.lookups import UUID_PATTERN, UUIDLookupMixin, parse_uuid
from core.api.representation import requested_fields
from core.api.schema import FIELD_PARAM, list_and_retrieve, responses
from offerings import selectors as scoping
from offerings import serializers as s
from offerings.filters import CategoryFilter, OfferingFilter, PlanFilter, ServiceProviderFilter
from permissions.drf import ActionPolicyPermission


class ReadOnlyViewSet(UUIDLookupMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    permission_classes = [ActionPolicyPermission]
    action_policies = {"list": None, "retrieve": None}


@extend_schema_view(**list_and_retrieve(s.CategorySerializer))
class CategoryViewSet(ReadOnlyViewSet):
    serializer_class = s.CategorySerializer
    filterset_class = CategoryFilter

    def get_queryset(self):
        return scoping.categories_for(self.request.user)


@extend_schema_view(**list_and_retrieve(s.PublicOfferingDetailsSerializer))
class PublicOfferingViewSet(ReadOnlyViewSet):
    """Offerings anyone signed in may order from, and their plans (the order's `plan` hyperlink)."""

    serializer_class = s.PublicOfferingDetailsSerializer
    filterset_class = OfferingFilter
    action_policies = {"list": None, "retrieve": None, "plans": None, "plan_detail": None}

    def get_queryset(self):
        queryset = scoping.public_offerings_for(self.request.user)
        if self.action in ("list", "retrieve"):
            queryset = scoping.offering_details(queryset, requested_fields(self.request))
        return queryset

    @extend_schema(parameters=[FIELD_PARAM], responses=responses({200: s.PublicPlanSerializer(many=True)}, 404))
    @action(detail=True, methods=["get"], filter_backends=[])
    def plans(self, request, uuid=None):
        """The offering's plans that are still orderable (not archived)."""
        page = self.paginate_queryset(scoping.offering_plans(self.get_object(), archived=False))
        return self.get_paginated_response(
            s.PublicPlanSerializer(page, many=True, context=self.get_serializer_context()).data
        )

    @extend_schema(parameters=[FIELD_PARAM], responses=responses({200: s.PublicPlanSerializer}, 404))
    @action(detail=True, methods=["get"], url_path=f"plans/(?P<plan_uuid>{UUID_PATTERN})", filter_backends=[])
    def plan_detail(self, request, uuid=None, plan_uuid=None):
        """One plan of the offering, archived ones included (orders keep pointing at them)."""
        plan = get_object_or_404(scoping.offering_plans(self.get_object()), uuid=parse_uuid(plan_uuid))
        return Response(s.PublicPlanSerializer(plan, context=self.get_serializer_context()).data)


@extend_schema_view(**list_and_retrieve(s.ProviderPlanSerializer))
class PlanViewSet(ReadOnlyViewSet):
    """Plans by their own uuid (the site agent reads plan quotas here, with a dashed uuid)."""

    serializer_class = s.ProviderPlanSerializer
    filterset_class = PlanFilter

    def get_queryset(self):
        return scoping.plans_for(self.request.user)


@extend_schema_view(**list_and_retrieve(s.ServiceProviderSerializer))
class ServiceProviderViewSet(ReadOnlyViewSet):
    serializer_class = s.ServiceProviderSerializer
    filterset_class = ServiceProviderFilter
    action_policies = {"list": None, "retrieve": None, "keys": None}

    def get_queryset(self):
        return scoping.service_providers()

    @extend_schema(responses=responses({200: s.SSHKeySerializer(many=True)}, 404))
    @action(detail=True, methods=["get"], filter_backends=[])
    def keys(self, request, uuid=None):
        """SSH keys of the provider's users; none are stored here, so always an empty list."""
        self.get_object()
        return self.get_paginated_response(self.paginate_queryset([]))
