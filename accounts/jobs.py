"""The accounts app's periodic jobs."""

from django.utils import timezone
from knox.models import get_token_model

SCHEDULES = [
    ("accounts.jobs.delete_expired_tokens", 60),
]


def delete_expired_tokens() -> int:
    """Delete API tokens past their expiry (a request with one is refused whether or not it
    is still stored); answers how many. Safe to run twice, or at once on two workers."""
    deleted, _ = get_token_model().objects.filter(expiry__lt=timezone.now()).delete()
    return deleted
