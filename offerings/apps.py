from django.apps import AppConfig


class OfferingsConfig(AppConfig):
    name = "offerings"
    verbose_name = "Catalogue"

    def ready(self) -> None:
        from offerings import agent_admin  # noqa: F401  (admin autodiscovery imports admin.py only)
