"""/api/customers/, /api/projects/ and /api/users/me/: who the caller is and where they may order.

Scoping only (a customer or project one has no role in answers 404); nothing here changes data, except
that users/me creates the caller's marketplace profile on first sight so its uuid exists.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
from django.db.models import Q, QuerySet
from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from core.api.lookups import UUIDLookupMixin
from core.api.representation import requested_fields
from core.api.schema import FIELD_PARAM, list_and_retrieve, responses
from permissions import serializers as s
from permissions.drf import ActionPolicyPermission
from permissions.filters import CustomerFilter, ProjectFilter, RoleFilter, UserFilter
from permissions.models import Customer, Project, Role, UserProfile, UserRole
from permissions.policies import sees_everything
from permissions.roles import grants_of
from permissions.scoping import projects_visible_q, visible_customers_q


class _ReadOnlyViewSet(UUIDLookupMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    permission_classes = [ActionPolicyPermission]
    action_policies = {"list": None, "retrieve": None}


@extend_schema_view(**list_and_retrieve(s.CustomerSerializer))
class CustomerViewSet(_ReadOnlyViewSet):
    """Organisations the caller has a role in, directly or through one of their projects."""

    serializer_class = s.CustomerSerializer
    filterset_class = CustomerFilter

    def get_queryset(self):
        visible = visible_customers_q(self.request.user)
        queryset = Customer.objects.all()
        # the role-through-project clause joins projects: filter by pk so rows never repeat
        return queryset if visible is None else queryset.filter(pk__in=Customer.objects.filter(visible).values("pk"))


@extend_schema_view(**list_and_retrieve(s.ProjectSerializer))
class ProjectViewSet(_ReadOnlyViewSet):
    """Projects (not removed) the caller has a role in, directly or through the organisation."""

    serializer_class = s.ProjectSerializer
    filterset_class = ProjectFilter

    def get_queryset(self):
        visible = projects_visible_q(self.request.user)
        queryset = Project.objects.select_related("customer").filter(is_removed=False)
        return queryset if visible is None else queryset.filter(visible)


def user_permissions(user) -> list[dict[str, Any]]:
    """The user's active, unexpired roles with their scopes; one query per kind of scope."""
    roles = list(
        UserRole.objects.filter(user=user, is_active=True)
        .filter(Q(expiration_time__isnull=True) | Q(expiration_time__gt=timezone.now()))
        .select_related("role", "content_type")
        .order_by("created", "id")
    )
    ids_by_type: dict[int, set[int]] = defaultdict(set)
    for role in roles:
        ids_by_type[role.content_type_id].add(role.object_id)
    scopes: dict[tuple[int, int], Any] = {}
    for content_type_id, ids in ids_by_type.items():
        model = ContentType.objects.get_for_id(content_type_id).model_class()
        if model is None:
            continue
        queryset = model._default_manager.filter(pk__in=ids)
        if "customer" in {f.name for f in model._meta.concrete_fields}:
            queryset = queryset.select_related("customer")
        scopes.update({(content_type_id, obj.pk): obj for obj in queryset})
    rows = []
    for role in roles:
        scope = scopes.get((role.content_type_id, role.object_id))
        if scope is None:
            continue
        kind = role.content_type.model
        customer = scope if kind == "customer" else getattr(scope, "customer", None)
        rows.append(
            {
                "role_name": role.role.name,
                "scope_type": kind,
                "scope_uuid": scope.uuid,
                "scope_name": getattr(scope, "name", str(scope)),
                "customer_uuid": customer.uuid if customer is not None else None,
                "customer_name": customer.name if customer is not None else None,
                "project_uuid": scope.uuid if kind == "project" else None,
                "project_name": scope.name if kind == "project" else None,
                "expiration_time": role.expiration_time,
            }
        )
    return rows


def users_visible_to(user) -> QuerySet[User]:
    """Active users the caller may look up: staff and support everyone; others themselves and the people
    holding roles in the organisations and projects the caller has a role in."""
    queryset = User.objects.select_related("marketplace_profile").filter(is_active=True)
    if sees_everything(user):
        return queryset
    scopes = grants_of(user).roles_by_scope
    customer_ids = {pk for (kind, pk) in scopes if kind == "customer"}
    project_ids = {pk for (kind, pk) in scopes if kind == "project"}
    project_ids |= set(Project.objects.filter(customer_id__in=customer_ids).values_list("id", flat=True))
    customer_type, project_type = (ContentType.objects.get_for_model(m) for m in (Customer, Project))
    mates = UserRole.objects.filter(is_active=True).filter(
        Q(content_type=customer_type, object_id__in=customer_ids)
        | Q(content_type=project_type, object_id__in=project_ids)
    )
    return queryset.filter(Q(pk=user.pk) | Q(pk__in=mates.values("user_id")))


@extend_schema_view(
    list=extend_schema(parameters=[FIELD_PARAM], responses=responses({200: s.UserMeSerializer(many=True)}, 400, 404)),
    retrieve=extend_schema(parameters=[FIELD_PARAM], responses=responses({200: s.UserMeSerializer}, 404)),
)
class UserViewSet(UUIDLookupMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The caller (users/me/, which site agents and health checks read) and the people the caller works
    with, by profile uuid or by username (`?username=`, `?name_exact=`); staff and support see everyone."""

    serializer_class = s.UserMeSerializer
    filterset_class = UserFilter
    permission_classes = [ActionPolicyPermission]
    action_policies = {"list": None, "retrieve": None, "me": None}
    lookup_field = "marketplace_profile__uuid"
    lookup_url_kwarg = "uuid"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return User.objects.none()
        return users_visible_to(self.request.user).order_by("username", "id")

    def get_serializer(self, *args, **kwargs):
        serializer = super().get_serializer(*args, **kwargs)
        wanted = requested_fields(self.request)
        single = args and not kwargs.get("many")
        if single and (not wanted or "permissions" in wanted):  # roles are read only when asked for
            serializer.context["permissions"] = user_permissions(args[0])
        return serializer

    def list(self, request, *args, **kwargs):
        self._ensure_profiles()
        return super().list(request, *args, **kwargs)

    def _ensure_profiles(self) -> None:
        """Users are named by their profile uuid: create the profiles that are missing (first sight)."""
        missing = self.get_queryset().filter(marketplace_profile__isnull=True).values_list("pk", flat=True)
        UserProfile.objects.bulk_create([UserProfile(user_id=pk) for pk in missing], ignore_conflicts=True)

    @extend_schema(parameters=[FIELD_PARAM], responses=responses({200: s.UserMeSerializer}))
    @action(detail=False, methods=["get"])
    def me(self, request):
        UserProfile.objects.get_or_create(user=request.user)
        return Response(self.get_serializer(self.get_queryset().get(pk=request.user.pk)).data)


@extend_schema_view(**list_and_retrieve(s.RoleSerializer, params=False))
class RoleViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The roles and the permissions they grant (grants are data, edited by staff in the admin)."""

    serializer_class = s.RoleSerializer
    filterset_class = RoleFilter
    permission_classes = [ActionPolicyPermission]
    action_policies = {"list": None, "retrieve": None}
    lookup_field = "name"
    lookup_value_regex = r"[A-Z_]+\.[A-Z_]+"

    def get_queryset(self):
        return Role.objects.prefetch_related("grants").order_by("name")
