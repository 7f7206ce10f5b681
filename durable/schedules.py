"""The periodic jobs of every app, kept in django-q2's schedule table.

Each app lists its own in ``<app>.jobs.SCHEDULES`` as (dotted function, minutes between runs);
after migrations they are created or updated once, whatever the number of runs.
"""

from importlib import import_module

from django.apps import apps


def declared() -> list[tuple[str, int]]:
    """Every installed app's SCHEDULES, in app order."""
    schedules = []
    for app in apps.get_app_configs():
        try:
            module = import_module(f"{app.name}.jobs")
        except ModuleNotFoundError as missing:
            if missing.name != f"{app.name}.jobs":
                raise
            continue
        schedules.extend(getattr(module, "SCHEDULES", []))
    return schedules


def ensure_schedules(**kwargs) -> None:
    from django_q.models import Schedule

    for func, minutes in declared():
        Schedule.objects.update_or_create(
            name=func, defaults={"func": func, "schedule_type": Schedule.MINUTES,
                                 "minutes": minutes, "repeats": -1})
