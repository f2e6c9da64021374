from rest_framework.routers import SimpleRouter

from orders.job_views import JobViewSet
from orders.resource_views import ProviderResourceViewSet, ResourceViewSet
from orders.views import OrderViewSet

router = SimpleRouter(trailing_slash=True)
router.register("marketplace-orders", OrderViewSet, basename="marketplace-order")
router.register("marketplace-order-jobs", JobViewSet, basename="marketplace-order-job")
router.register("marketplace-resources", ResourceViewSet, basename="marketplace-resource")
router.register("marketplace-provider-resources", ProviderResourceViewSet, basename="marketplace-provider-resource")
urlpatterns = router.urls
