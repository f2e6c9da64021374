"""Routes of orders/compat_views.py: sub-paths of collections other routers own, so they are listed here
explicitly (included before those routers in marketplace/urls.py)."""

from django.urls import re_path

from core.api.lookups import UUID_PATTERN
from orders.compat_views import (
    ComponentUsageViewSet,
    DashboardMyOrderViewSet,
    ProviderOfferingOrderViewSet,
    ServiceProviderConsumersViewSet,
)

_LIST = {"get": "list", "head": "list"}

urlpatterns = [
    re_path(
        r"^marketplace-orders/dashboard-my-orders/$",
        DashboardMyOrderViewSet.as_view(_LIST),
        name="marketplace-order-dashboard-my-orders",
    ),
    re_path(
        rf"^marketplace-provider-offerings/(?P<offering_uuid>{UUID_PATTERN})/orders/$",
        ProviderOfferingOrderViewSet.as_view({"get": "list"}),
        name="marketplace-provider-offering-orders",
    ),
    re_path(
        rf"^marketplace-provider-offerings/(?P<offering_uuid>{UUID_PATTERN})/orders/(?P<order_uuid>{UUID_PATTERN})/$",
        ProviderOfferingOrderViewSet.as_view({"get": "retrieve"}),
        name="marketplace-provider-offering-order",
    ),
    re_path(
        rf"^marketplace-service-providers/(?P<uuid>{UUID_PATTERN})/projects/$",
        ServiceProviderConsumersViewSet.as_view({"get": "projects"}),
        name="marketplace-service-provider-projects",
    ),
    re_path(
        rf"^marketplace-service-providers/(?P<uuid>{UUID_PATTERN})/users/$",
        ServiceProviderConsumersViewSet.as_view({"get": "users"}),
        name="marketplace-service-provider-users",
    ),
    re_path(
        r"^marketplace-component-usages/$", ComponentUsageViewSet.as_view(_LIST), name="marketplace-component-usages"
    ),
]
