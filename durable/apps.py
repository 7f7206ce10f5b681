from django.apps import AppConfig


class DurableConfig(AppConfig):
    name = "durable"
    verbose_name = "Background jobs"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate
        from django_q.signals import post_spawn

        from .schedules import ensure_schedules
        from .sweeper import sweep_on_spawn

        post_migrate.connect(ensure_schedules, sender=self)
        post_spawn.connect(sweep_on_spawn, dispatch_uid="durable.sweep_on_spawn")
