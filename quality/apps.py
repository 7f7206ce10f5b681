from django.apps import AppConfig


class QualityConfig(AppConfig):
    name = "quality"
    verbose_name = "Quality"

    def ready(self) -> None:
        from . import (  # noqa: F401
            exports,  # registers the consensus, dpo and sft export views
            receivers,  # connects the signal receivers
        )
