"""Read endpoints the published clients call around orders (python-waldur-client 0.6, waldur-api-client
8.1.3): a provider offering's orders, the caller's own orders for a dashboard, a service provider's
consumer projects and their people, and component usages (none are recorded here: always empty)."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, viewsets
from rest_framework.response import Response

from core.api.fields import HexUUIDField
from core.api.lookups import UUID_PATTERN, parse_uuid
from core.api.renderers import plain_json
from core.api.representation import requested_fields
from core.api.rows import compile_rows, rows_of
from core.api.schema import FIELD_PARAM, responses
from offerings.models import ServiceProvider
from offerings.selectors import provider_offerings_for
from orders import selectors
from orders.filters import OrderFilter
from orders.models import Order, Resource
from orders.serializers.details import OrderDetailsSerializer
from orders.states import ResourceState as R
from permissions import policies
from permissions.drf import ActionPolicyPermission
from permissions.models import Project, UserProfile, UserRole
from permissions.scoping import filter_side
from permissions.serializers import ProjectSerializer

_RO = {"read_only": True}
_OFFERING = OpenApiParameter("offering_uuid", str, OpenApiParameter.PATH, pattern=UUID_PATTERN)
_ORDER = OpenApiParameter("order_uuid", str, OpenApiParameter.PATH, pattern=UUID_PATTERN)
_PROVIDER = OpenApiParameter("uuid", str, OpenApiParameter.PATH, pattern=UUID_PATTERN)


class _ReadViewSet(viewsets.GenericViewSet):
    permission_classes = [ActionPolicyPermission]
    action_policies = {"list": None, "retrieve": None}


class ProviderOfferingOrderViewSet(_ReadViewSet):
    """GET marketplace-provider-offerings/{offering_uuid}/orders/[{order_uuid}/]: the orders of one offering
    the caller manages (404 for an offering not seen as provider)."""

    serializer_class = OrderDetailsSerializer
    filterset_class = OrderFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Order.objects.none()
        offering = get_object_or_404(
            provider_offerings_for(self.request.user), uuid=parse_uuid(self.kwargs["offering_uuid"])
        )
        orders = selectors.order_list_for(self.request.user, joins=())  # read as compiled rows
        return filter_side(self.request.user, orders.filter(offering=offering), "provider")

    @extend_schema(
        parameters=[_OFFERING, FIELD_PARAM], responses=responses({200: OrderDetailsSerializer(many=True)}, 400, 404)
    )
    def list(self, request, offering_uuid=None):
        queryset = self.filter_queryset(self.get_queryset())
        plan = compile_rows(OrderDetailsSerializer, requested_fields(request))
        rows = self.paginator.paginate_rows(queryset, request, self, values=plan)
        data, plain = plan.represent(rows, self.get_serializer_context())
        return plain_json(self.get_paginated_response(data), plain)

    @extend_schema(parameters=[_OFFERING, _ORDER, FIELD_PARAM], responses=responses({200: OrderDetailsSerializer}, 404))
    def retrieve(self, request, offering_uuid=None, order_uuid=None):
        plan = compile_rows(OrderDetailsSerializer, requested_fields(request))
        rows = rows_of(self.get_queryset().filter(uuid=parse_uuid(order_uuid)), plan, limit=1)
        if not rows:
            raise Http404(f"No {Order._meta.object_name} matches the given query.")
        data, plain = plan.represent(rows, self.get_serializer_context())
        return plain_json(Response(data[0]), plain)


class DashboardOrderSerializer(serializers.Serializer):
    """waldur-api-client 8.1.3 DashboardMyOrder: every key required."""

    uuid = HexUUIDField(**_RO)
    offering_uuid = HexUUIDField(source="offering.uuid", **_RO)
    offering_name = serializers.CharField(source="offering.name", **_RO)
    resource_uuid = HexUUIDField(source="resource.uuid", **_RO)
    resource_name = serializers.CharField(source="resource.name", **_RO)
    project_uuid = HexUUIDField(source="project.uuid", **_RO)
    project_name = serializers.CharField(source="project.name", **_RO)
    customer_uuid = HexUUIDField(source="project.customer.uuid", **_RO)
    customer_name = serializers.CharField(source="project.customer.name", **_RO)
    state = serializers.CharField(**_RO)
    type = serializers.CharField(**_RO)
    created = serializers.DateTimeField(**_RO)


class DashboardMyOrderViewSet(_ReadViewSet):
    """GET/HEAD marketplace-orders/dashboard-my-orders/: the orders the caller placed, newest first."""

    serializer_class = DashboardOrderSerializer
    filterset_class = OrderFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Order.objects.none()
        orders = Order.objects.select_related("offering", "resource", "project", "project__customer")
        return orders.filter(created_by=self.request.user).order_by("-created", "-id")

    @extend_schema(responses=responses({200: DashboardOrderSerializer(many=True)}, 400, 404))
    def list(self, request):
        queryset = self.filter_queryset(self.get_queryset())
        if request.method == "HEAD":
            return Response(headers={"X-Result-Count": str(queryset.count())})
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


class ProviderUserSerializer(serializers.Serializer):
    uuid = HexUUIDField(source="marketplace_profile.uuid", **_RO)
    username = serializers.CharField(**_RO)
    full_name = serializers.CharField(source="get_full_name", **_RO)
    first_name = serializers.CharField(**_RO)
    last_name = serializers.CharField(**_RO)
    email = serializers.CharField(**_RO)
    is_active = serializers.BooleanField(**_RO)
    projects_count = serializers.IntegerField(**_RO)


def _consumer_projects(provider: ServiceProvider):
    """Projects holding live resources of the provider's offerings."""
    live = Resource.objects.filter(offering__customer_id=provider.customer_id).exclude(state=R.TERMINATED)
    return Project.objects.select_related("customer").filter(pk__in=live.values("project_id"), is_removed=False)


class ServiceProviderConsumersViewSet(_ReadViewSet):
    """GET marketplace-service-providers/{uuid}/projects/ and …/users/: who consumes the provider's
    offerings. The provider organisation's people (and staff, support) only; others get 404."""

    action_policies = {"projects": None, "users": None}
    serializer_class = ProjectSerializer
    queryset = ServiceProvider.objects.none()  # for the schema; the provider is read by get_provider()
    filter_backends: list = []

    def get_provider(self) -> ServiceProvider:
        provider = get_object_or_404(
            ServiceProvider.objects.select_related("customer"), uuid=parse_uuid(self.kwargs["uuid"])
        )
        if not policies.can_see_provider_consumers(self.request.user, provider):
            raise Http404
        return provider

    @extend_schema(parameters=[_PROVIDER], responses=responses({200: ProjectSerializer(many=True)}, 404))
    def projects(self, request, uuid=None):
        projects = _consumer_projects(self.get_provider()).order_by("name", "id")
        page = self.paginate_queryset(projects)
        return self.get_paginated_response(
            ProjectSerializer(page, many=True, context=self.get_serializer_context()).data
        )

    @extend_schema(parameters=[_PROVIDER], responses=responses({200: ProviderUserSerializer(many=True)}, 404))
    def users(self, request, uuid=None):
        project_ids = list(_consumer_projects(self.get_provider()).values_list("pk", flat=True))
        roles = UserRole.objects.filter(
            content_type=ContentType.objects.get_for_model(Project), object_id__in=project_ids, is_active=True
        )
        people = User.objects.filter(pk__in=roles.values("user_id"), is_active=True)
        missing = people.filter(marketplace_profile__isnull=True).values_list("pk", flat=True)
        UserProfile.objects.bulk_create([UserProfile(user_id=pk) for pk in missing], ignore_conflicts=True)
        people = (
            people.select_related("marketplace_profile")
            .annotate(
                projects_count=Count(
                    "marketplace_roles__object_id", filter=Q(marketplace_roles__in=roles), distinct=True
                )
            )
            .order_by("username", "id")
        )
        page = self.paginate_queryset(people)
        return self.get_paginated_response(ProviderUserSerializer(page, many=True).data)


class ComponentUsageViewSet(_ReadViewSet):
    """GET marketplace-component-usages/: usage reports are not recorded here, so the list is empty
    (reporting usage, set_usage, is deliberately not served; see the README's Compatibility section)."""

    queryset = Resource.objects.none()  # for the schema: nothing is read
    filter_backends: list = []

    @extend_schema(
        parameters=[
            OpenApiParameter("resource_uuid", str),
            OpenApiParameter("date_after", str),
            OpenApiParameter("date_before", str),
        ],
        responses=responses({200: serializers.ListSerializer(child=serializers.DictField())}, 404),
    )
    def list(self, request):
        return self.get_paginated_response(self.paginate_queryset([]))
