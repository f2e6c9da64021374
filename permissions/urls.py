from rest_framework.routers import SimpleRouter

from permissions.views import CustomerViewSet, ProjectViewSet, RoleViewSet, UserViewSet

router = SimpleRouter(trailing_slash=True)
router.register("customers", CustomerViewSet, basename="customer")
router.register("projects", ProjectViewSet, basename="project")
router.register("users", UserViewSet, basename="user")
router.register("roles", RoleViewSet, basename="role")
urlpatterns = router.urls
