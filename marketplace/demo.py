"""The money part of the demo data: an opening deposit for the demo organization."""

from decimal import Decimal

from django.contrib.auth import get_user_model

from accounts.demo import OPERATOR, ORGANIZATION, Demo
from accounts.models import Organization

from . import services

User = get_user_model()


def seed(demo: Demo) -> None:
    """A deposit for Acme AI, so that its paid projects, the hourly one too, hand out work
    at once; its reference makes a second run record nothing."""
    services.record_deposit(organization=Organization.objects.get(name=ORGANIZATION),
                            amount=Decimal("1000.00"), currency="USD",
                            reference="demo-opening-deposit",
                            by=User.objects.get(username=OPERATOR))
