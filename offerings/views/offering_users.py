"""/api/marketplace-offering-users/: the accounts people hold on an offering's backend. The provider (and
its site agent) lists and manages them; a person sees their own."""

from __future__ import annotations

import django_filters
from django.contrib.auth.models import User
from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.response import Response

from core.api.bodies import validated
from core.api.fields import HexUUIDField
from core.api.filters import LinkFilter, StableOrderingMixin, StrictBooleanFilter
from core.api.links import LinkField
from core.api.lookups import UUIDLookupMixin, parse_uuid
from core.api.representation import RepresentationMixin
from core.api.schema import list_and_retrieve, responses
from offerings.models import Offering
from offerings.offering_users import OfferingUser, offering_user_create, offering_user_delete
from offerings.selectors import managed_offerings_q
from permissions.drf import ActionPolicyPermission
from permissions.policies import can_manage_offering

_RO = {"read_only": True}


class OfferingUserSerializer(RepresentationMixin, serializers.Serializer):
    url = LinkField("marketplace-offering-users", source="uuid")
    uuid = HexUUIDField(**_RO)
    user = LinkField("users", source="user.marketplace_profile.uuid")
    offering = LinkField("marketplace-provider-offerings", source="offering.uuid")
    username = serializers.CharField(allow_null=True, **_RO)
    offering_uuid = HexUUIDField(source="offering.uuid", **_RO)
    offering_name = serializers.CharField(source="offering.name", **_RO)
    user_uuid = HexUUIDField(source="user.marketplace_profile.uuid", **_RO)
    user_username = serializers.CharField(source="user.username", **_RO)
    user_full_name = serializers.CharField(source="user.get_full_name", **_RO)
    user_first_name = serializers.CharField(source="user.first_name", **_RO)
    user_last_name = serializers.CharField(source="user.last_name", **_RO)
    user_email = serializers.CharField(source="user.email", **_RO)
    customer_uuid = HexUUIDField(source="offering.customer.uuid", **_RO)
    customer_name = serializers.CharField(source="offering.customer.name", **_RO)
    is_restricted = serializers.BooleanField(**_RO)
    state = serializers.ChoiceField(choices=OfferingUser.States.choices, **_RO)
    created = serializers.DateTimeField(**_RO)
    modified = serializers.DateTimeField(**_RO)

    class Meta:
        omit_when_empty = ("uuid", "offering_uuid", "user_uuid", "customer_uuid", "state", "created", "modified")

    def to_representation(self, instance: OfferingUser) -> dict:
        data = super().to_representation(instance)
        if data.get("username") == "":
            data["username"] = None  # Waldur: no account name yet
        return data


class OfferingUserRequestSerializer(serializers.Serializer):
    offering = serializers.CharField(help_text="Offering hyperlink or uuid (hex or dashed).")
    user = serializers.CharField(help_text="User hyperlink or uuid (hex or dashed).")
    username = serializers.CharField(required=False, allow_blank=True, max_length=100)


class OfferingUserFilter(StableOrderingMixin, django_filters.FilterSet):
    offering_uuid = django_filters.UUIDFilter(field_name="offering__uuid")
    offering = LinkFilter(field_name="offering__uuid")
    user_uuid = django_filters.UUIDFilter(field_name="user__marketplace_profile__uuid")
    user_username = django_filters.CharFilter(field_name="user__username")
    provider_uuid = django_filters.UUIDFilter(field_name="offering__customer__uuid")
    username = django_filters.CharFilter()
    is_restricted = StrictBooleanFilter()
    state = django_filters.MultipleChoiceFilter(choices=OfferingUser.States.choices)
    o = django_filters.OrderingFilter(fields=("created", "modified", "username"))

    class Meta:
        model = OfferingUser
        fields: list[str] = []


def offering_users_for(user) -> QuerySet[OfferingUser]:
    """Accounts on offerings the user sees as provider, plus the user's own; staff and support: all."""
    queryset = OfferingUser.objects.select_related(
        "offering", "offering__customer", "user", "user__marketplace_profile"
    ).order_by("created", "id")
    managed = managed_offerings_q(user, prefix="offering__")
    return queryset if managed is None else queryset.filter(managed | Q(user=user))


def _manages_account(user, account: OfferingUser) -> bool:
    return can_manage_offering(user, account.offering)


@extend_schema_view(
    **list_and_retrieve(OfferingUserSerializer),
    create=extend_schema(
        request=OfferingUserRequestSerializer, responses=responses({201: OfferingUserSerializer}, 400, 403)
    ),
    destroy=extend_schema(responses=responses({204: None}, 403, 404)),
)
class OfferingUserViewSet(
    UUIDLookupMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = OfferingUserSerializer
    filterset_class = OfferingUserFilter
    permission_classes = [ActionPolicyPermission]
    action_policies = {"list": None, "retrieve": None, "create": None, "destroy": _manages_account}

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return OfferingUser.objects.none()
        return offering_users_for(self.request.user)

    def create(self, request, *args, **kwargs):
        data = validated(OfferingUserRequestSerializer, request)
        offering = Offering.objects.filter(uuid=parse_uuid(data["offering"])).first()
        person = User.objects.filter(marketplace_profile__uuid=parse_uuid(data["user"]), is_active=True).first()
        if offering is None or person is None:
            field = "offering" if offering is None else "user"
            raise serializers.ValidationError({field: ["Object with this uuid does not exist."]})
        account = offering_user_create(
            actor=request.user, offering=offering, user=person, username=data.get("username", "")
        )
        account = get_object_or_404(self.get_queryset(), pk=account.pk)
        return Response(self.get_serializer(account).data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance: OfferingUser) -> None:
        offering_user_delete(actor=self.request.user, account=instance)
