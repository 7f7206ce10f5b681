"""Demo data for a fresh install: ``make run`` calls this so that the first page already has
people to log in as and work to do.

Every installed app may have a ``demo`` module with a ``seed(demo)`` step, and a
``work(demo)`` step for what people do once everything exists. All ``seed`` steps run first,
then all ``work`` steps, each phase in the order of INSTALLED_APPS, which is the order the
apps depend on each other, so accounts never imports the apps built on it: experts can only
pull paid work once the last app, the marketplace, has funded the organization. Every demo
user shares one published password, so the command refuses to run with DEBUG off unless told
otherwise: a production database must never get a superuser anyone can guess.
"""

from collections.abc import Callable, Iterator
from importlib import import_module

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.demo import Demo

PHASES = ("seed", "work")


def demo_steps() -> Iterator[Callable[[Demo], None]]:
    modules = []
    for config in apps.get_app_configs():
        name = f"{config.name}.demo"
        try:
            modules.append(import_module(name))
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
    for phase in PHASES:
        for module in modules:
            if hasattr(module, phase):
                yield getattr(module, phase)


class Command(BaseCommand):
    help = ("Create demo users, an organization, verified experts, projects, and the work done "
            "on them: answers, reviews, agreement reports and earnings; safe to run again.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("--allow-without-debug", action="store_true",
                            help="Seed even though DEBUG is off (a staging database).")

    def handle(self, *args, **options) -> None:
        if not settings.DEBUG and not options["allow_without_debug"]:
            raise CommandError("seed_demo creates users with a published password; it runs "
                               "only with DEBUG=1 unless --allow-without-debug is given.")
        demo = Demo()
        with transaction.atomic():
            for step in demo_steps():
                step(demo)
        self.stdout.write(f"Demo logins (password for all: {demo.password}):")
        width = max(len(username) for username, _ in demo.logins)
        for username, description in demo.logins:
            self.stdout.write(f"  {username:<{width}}  {description}")
