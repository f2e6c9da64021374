"""Routes for the published clients beyond the marketplace's own API (README "Compatibility"):
/api/configuration/, the order-side read endpoints of orders/compat_urls.py, and a clear JSON 404 for the
Waldur endpoints this product deliberately does not serve (billing, clouds, support, …)."""

from __future__ import annotations

from django.http import JsonResponse
from django.urls import include, path, re_path
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from marketplace.version import project_version

# Waldur collections python-waldur-client 0.6 can call that make no sense here: no invoicing or credits,
# no cloud or HPC back ends of Waldur's own, no helpdesk, no invitations or event subscriptions.
NOT_SERVED = (
    "invoices", "invoice-items", "payment-profiles", "customer-credits", "project-credits",
    "openstack-flavors", "openstack-floating-ips", "openstack-images", "openstack-instances",
    "openstack-networks", "openstack-security-groups", "openstack-server-groups", "openstack-snapshots",
    "openstack-subnets", "openstack-tenants", "openstack-volumes", "openstack-volume-types",
    "service-settings", "slurm-allocations", "slurm-allocation-user-usages", "slurm-associations",
    "marketplace-slurm", "marketplace-slurm-remote", "marketplace-robot-accounts",
    "marketplace-offering-permissions", "component-user-usage-limits", "freeipa-profiles", "remote-eduteams",
    "support-issues", "support-comments", "user-invitations", "event-subscriptions", "project-types", "keys",
)  # fmt: skip


def not_served(request, collection: str, rest: str = ""):
    """404 with a reason: the path is a Waldur endpoint, deliberately not part of this marketplace."""
    return JsonResponse(
        {
            "detail": f"Not served by this marketplace: /api/{collection}/ is a Waldur endpoint outside its "
            "scope (see the Compatibility section of the README).",
            "code": "not_served",
        },
        status=404,
    )


class ConfigurationView(APIView):
    """What python-waldur-client's get_configuration() reads: public facts about this server."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        auth=[],
        responses={
            200: inline_serializer(
                "Configuration",
                {
                    "WALDUR_CORE": serializers.DictField(),
                    "WALDUR_MARKETPLACE": serializers.DictField(),
                },
            )
        },
    )
    def get(self, request: Request) -> Response:
        return Response(
            {
                "WALDUR_CORE": {"SITE_NAME": "Marketplace orders", "VERSION": project_version()},
                "WALDUR_MARKETPLACE": {
                    "ORDER_STATES": [
                        "pending-consumer", "pending-provider", "pending-project", "pending-start-date",
                        "executing", "done", "erred", "canceled", "rejected",
                    ],
                    "INVOICES": False,
                },
            }
        )  # fmt: skip


_COLLECTIONS = "|".join(NOT_SERVED)

urlpatterns = [
    path("configuration/", ConfigurationView.as_view(), name="configuration"),
    path("", include("orders.compat_urls")),
    re_path(rf"^(?P<collection>{_COLLECTIONS})/(?P<rest>.*)$", not_served, name="not-served"),
    re_path(
        r"^(?P<collection>marketplace-component-usages)/(?P<rest>set_usage/)$", not_served, name="not-served-usage"
    ),
]
