from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "ops"
    verbose_name = "Operations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.contrib import admin

        # The admin's landing page shows the operators' dashboard above the app list (ops/dashboard.py).
        admin.site.index_template = "admin/ops/index.html"
