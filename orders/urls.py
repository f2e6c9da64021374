from django.urls import re_path
from rest_framework.routers import SimpleRouter

from core.api.lookups import UUID_PATTERN
from orders.attachment_views import OrderAttachmentView
from orders.job_views import JobViewSet
from orders.provider_resource_actions import ProviderResourceViewSet, ResourceViewSet
from orders.views import OrderViewSet

router = SimpleRouter(trailing_slash=True)
router.register("marketplace-orders", OrderViewSet, basename="marketplace-order")
router.register("marketplace-order-jobs", JobViewSet, basename="marketplace-order-job")
router.register("marketplace-resources", ResourceViewSet, basename="marketplace-resource")
router.register("marketplace-provider-resources", ProviderResourceViewSet, basename="marketplace-provider-resource")
urlpatterns = [
    *router.urls,
    re_path(
        rf"^marketplace-orders/(?P<uuid>{UUID_PATTERN})/attachments/(?P<field>[a-z_]+)/(?P<name>[^/]+)$",
        OrderAttachmentView.as_view(),
        name="marketplace-order-attachment",
    ),
]
