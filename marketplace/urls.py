from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from marketplace.version import VersionView
from marketplace.views import ApiRootView, landing

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
    path("", include("ops.urls")),  # order statistics (api/marketplace-stats/order_stats/), /metrics, /health
    path("api/", include("marketplace.compat")),  # published clients: configuration, extra reads, not-served
    path("api/", include("orders.urls")),
    path("api/", include("offerings.agent_urls")),
    path("api/", include("offerings.urls")),
    path("api/", include("permissions.urls")),
    path("api/version/", VersionView.as_view(), name="version"),
    path("api/", ApiRootView.as_view(), name="api-root"),
    path("", landing, name="landing"),
]

handler400 = "core.api.errors.bad_request"
handler403 = "core.api.errors.permission_denied"
handler404 = "core.api.errors.not_found"
handler500 = "core.api.errors.server_error"
