from django.apps import AppConfig


class TasksConfig(AppConfig):
    name = "tasks"
    verbose_name = "Projects and work"

    def ready(self) -> None:
        from . import receivers  # noqa: F401  (connects the signal receivers)
