"""Background jobs of the work loop. Each is idempotent: running it twice changes nothing more.
"""

from datetime import timedelta

from django.db import connection
from django.utils import timezone

from config.exceptions import Conflict

from .ingest import fail_batch, run_batch
from .models import Assignment, Project
from .routing import reclaim_expired
from .services import approve_assignment

SCHEDULES = [
    # (function, minutes between runs)
    ("tasks.jobs.expire_leases", 1),
    ("tasks.webhooks.deliver_due_webhooks", 1),
    ("tasks.jobs.auto_approve", 5),
]


def expire_leases() -> int:
    """Mark every lease past its expiry as expired; routing already ignores them."""
    total = 0
    while True:
        count = reclaim_expired(now=timezone.now())
        total += count
        if count == 0:
            return total


def auto_approve(limit: int = 5000) -> int:
    """Approve submitted work whose project's approval delay has passed and that no review
    holds. Each approval is its own transaction, so a rerun only finds what is left."""
    now = timezone.now()
    submitted = Assignment.objects.filter(status=Assignment.Status.SUBMITTED,
                                          annotation__held_for_review=False)
    approved = 0
    for project in Project.objects.filter(pk__in=submitted.values("project_id")):
        cutoff = now - timedelta(seconds=project.auto_approve_after_s)
        due = submitted.filter(project=project, submitted_at__lte=cutoff).order_by("pk")
        for assignment_id in list(due.values_list("pk", flat=True)[:limit - approved]):
            try:
                approve_assignment(Assignment(pk=assignment_id))
            except Conflict:  # reviewed or approved meanwhile
                continue
            approved += 1
    return approved


def process_batch(batch_id: int) -> None:
    """Ingest an upload too large for its request (see tasks.ingest.run_batch); a batch that
    is already done or failed is left as it is. It runs as a durable job (durable.runner):
    if its worker dies, the ingest transaction is rolled back and the job runs again.

    Loads this large leave the planner's statistics describing a much smaller table, and
    routing's pick would then sort every open item of the project instead of walking its
    index until autovacuum came by; the statistics are refreshed at once instead.
    """
    run_batch(batch_id)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE tasks_item")


def give_up_batch(batch_id: int, *, error: str) -> None:
    """The batch's job has no attempt left (durable.runner.end): the batch fails, saying
    so, and its spooled file goes."""
    fail_batch(batch_id, "The upload could not be stored: " + error + " Upload it again.")
