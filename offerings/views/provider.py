"""/api/marketplace-provider-offerings/: the offerings a user manages, as a provider and its site agent
see them, plus the optional look-ups the agent tolerates missing but may as well get right (§B.5)."""

from __future__ import annotations

import uuid as uuid_lib

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework.decorators import action
from rest_framework.response import Response

from core.api.representation import requested_fields
from core.api.schema import list_and_retrieve, responses
from offerings import selectors as scoping
from offerings import serializers as s
from offerings.filters import OfferingFilter
from offerings.views.catalogue import ReadOnlyViewSet

DEFAULT_EXPOSED_USER_FIELDS = ("username", "full_name", "email")
_EMPTY_LIST = extend_schema(responses=responses({200: s.AccountSerializer(many=True)}, 404))


@extend_schema_view(**list_and_retrieve(s.ProviderOfferingDetailsSerializer))
class ProviderOfferingViewSet(ReadOnlyViewSet):
    serializer_class = s.ProviderOfferingDetailsSerializer
    filterset_class = OfferingFilter
    action_policies = {
        "list": None,
        "retrieve": None,
        "user_attribute_config": None,
        "list_project_service_accounts": None,
        "list_course_accounts": None,
    }

    def get_queryset(self):
        queryset = scoping.provider_offerings_for(self.request.user)
        if self.action in ("list", "retrieve"):
            queryset = scoping.offering_details(queryset, requested_fields(self.request))
        return queryset

    @extend_schema(responses=responses({200: s.UserAttributeConfigSerializer}, 404))
    @action(detail=True, methods=["get"], url_path="user-attribute-config", filter_backends=[])
    def user_attribute_config(self, request, uuid=None):
        """No per-offering configuration is stored: every offering exposes the default basics."""
        offering = self.get_object()
        config = {
            "uuid": uuid_lib.uuid5(offering.uuid, "user-attribute-config"),
            "created": offering.created,
            "modified": offering.modified,
            "exposed_fields": list(DEFAULT_EXPOSED_USER_FIELDS),
            "is_default": True,
            "offering_uuid": offering.uuid,
            "offering_name": offering.name,
            **{f"expose_{name}": True for name in DEFAULT_EXPOSED_USER_FIELDS},
        }
        return Response(s.UserAttributeConfigSerializer(config).data)

    def _no_accounts(self) -> Response:
        self.get_object()
        return self.get_paginated_response(self.paginate_queryset([]))

    @_EMPTY_LIST
    @action(detail=True, methods=["get"], filter_backends=[])
    def list_project_service_accounts(self, request, uuid=None):
        """Service accounts are not managed here: always an empty list."""
        return self._no_accounts()

    @_EMPTY_LIST
    @action(detail=True, methods=["get"], filter_backends=[])
    def list_course_accounts(self, request, uuid=None):
        """Course accounts are not managed here: always an empty list."""
        return self._no_accounts()
