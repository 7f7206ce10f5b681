from django.apps import AppConfig


class MarketplaceConfig(AppConfig):
    name = "marketplace"
    verbose_name = "Money and marketplace"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from . import receivers  # noqa: F401  (connects the signal receivers)
        from .jobs import ensure_schedules

        post_migrate.connect(ensure_schedules, sender=self)
