from rest_framework.routers import SimpleRouter

from offerings.views.catalogue import CategoryViewSet, PlanViewSet, PublicOfferingViewSet, ServiceProviderViewSet
from offerings.views.offering_users import OfferingUserViewSet
from offerings.views.provider import ProviderOfferingViewSet

router = SimpleRouter(trailing_slash=True)
router.register("marketplace-categories", CategoryViewSet, basename="marketplace-category")
router.register("marketplace-public-offerings", PublicOfferingViewSet, basename="marketplace-public-offering")
router.register("marketplace-provider-offerings", ProviderOfferingViewSet, basename="marketplace-provider-offering")
router.register("marketplace-plans", PlanViewSet, basename="marketplace-plan")
router.register("marketplace-service-providers", ServiceProviderViewSet, basename="marketplace-service-provider")
router.register("marketplace-offering-users", OfferingUserViewSet, basename="marketplace-offering-user")
urlpatterns = router.urls
