"""Routes of what operators look at. A plain urlpatterns list: each ops module adds its own lines."""

from django.urls import path

from ops.metrics.views import metrics
from ops.stats import OrderHealthView, OrderStatsView

urlpatterns: list = []
urlpatterns.append(path("metrics", metrics, name="metrics"))  # /health/* is answered by ops.health.ProbeMiddleware
urlpatterns += [
    path("api/marketplace-stats/order_stats/", OrderStatsView.as_view(), name="marketplace-stats-order-stats"),
    path("api/marketplace-stats/order_health/", OrderHealthView.as_view(), name="marketplace-stats-order-health"),
]
