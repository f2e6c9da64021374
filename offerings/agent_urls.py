from rest_framework.routers import SimpleRouter

from offerings.agent_views import AgentIdentityViewSet, AgentProcessorViewSet, AgentServiceViewSet

router = SimpleRouter(trailing_slash=True)
router.register("marketplace-site-agent-identities", AgentIdentityViewSet, basename="agent-identity")
router.register("marketplace-site-agent-services", AgentServiceViewSet, basename="agent-service")
router.register("marketplace-site-agent-processors", AgentProcessorViewSet, basename="agent-processor")
urlpatterns = router.urls
