"""Background jobs of the work loop. Each is idempotent: running it twice changes nothing more.
"""

from django.utils import timezone

from .ingest import run_batch
from .routing import reclaim_expired

SCHEDULES = [
    # (function, minutes between runs)
    ("tasks.jobs.expire_leases", 1),
    ("tasks.webhooks.deliver_due_webhooks", 1),
]


def expire_leases() -> int:
    """Mark every lease past its expiry as expired; routing already ignores them."""
    total = 0
    while True:
        count = reclaim_expired(now=timezone.now())
        total += count
        if count == 0:
            return total


def process_batch(batch_id: int) -> None:
    """Ingest an upload too large for its request (see tasks.ingest.run_batch); a batch that
    is already done or failed is left as it is."""
    run_batch(batch_id)


def ensure_schedules(**kwargs) -> None:
    """Create the periodic jobs after migrations, once, whatever the number of runs."""
    from django_q.models import Schedule

    for func, minutes in SCHEDULES:
        Schedule.objects.update_or_create(
            name=func, defaults={"func": func, "schedule_type": Schedule.MINUTES,
                                 "minutes": minutes, "repeats": -1})
