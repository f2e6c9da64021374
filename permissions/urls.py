from rest_framework.routers import SimpleRouter

from permissions.views import CustomerViewSet, ProjectViewSet, UserViewSet

router = SimpleRouter(trailing_slash=True)
router.register("customers", CustomerViewSet, basename="customer")
router.register("projects", ProjectViewSet, basename="project")
router.register("users", UserViewSet, basename="user")
urlpatterns = router.urls
