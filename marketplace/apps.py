from django.apps import AppConfig


class MarketplaceConfig(AppConfig):
    name = "marketplace"
    verbose_name = "Money and marketplace"

    def ready(self) -> None:
        from . import receivers  # noqa: F401  (connects the signal receivers)
