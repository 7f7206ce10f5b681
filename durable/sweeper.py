"""Hand out again what dead workers left, and send what the broker never delivered.

Runs every minute on the schedule and whenever a worker process starts (so a worker that the
cluster replaces after a crash finds its predecessor's job at once). One sweeper works at a
time across every host: on PostgreSQL it holds a transaction-level advisory lock, and a
second sweeper that cannot take it returns at once.
"""

import logging
import socket
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from .models import Job
from .runner import end, send

logger = logging.getLogger(__name__)

# pg_try_advisory_xact_lock key: the bytes of "durable!" read as a signed 64-bit integer.
LOCK_KEY = int.from_bytes(b"durable!", "big", signed=True)


@dataclass
class Swept:
    requeued: int = 0
    failed: int = 0
    sent: int = 0
    pruned: int = 0


def holder_alive(holder: str, *, host: str | None = None) -> bool | None:
    """Whether the process holding a lease still runs: True or False for a holder on this
    host, None (cannot tell) for one elsewhere, whose lease alone says."""
    holder_host, _, pid = holder.rpartition(":")
    if holder_host != (host or socket.gethostname()) or not pid.isascii() or not pid.isdigit():
        return None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:
        return None
    # The state follows the command name in parentheses; a zombie has finished running.
    return stat.rpartition(")")[2].split()[0] != "Z"


def _lock() -> bool:
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [LOCK_KEY])
        return cursor.fetchone()[0]


def sweep() -> Swept:
    """Requeue (or end, when no attempt is left) running jobs whose worker is dead or whose
    lease ran out, send queued jobs that are due and were never or long ago sent, and delete
    finished jobs older than ``JOB_KEEP_DAYS``."""
    swept = Swept()
    now = timezone.now()
    with transaction.atomic():
        if not _lock():
            return swept
        running = Job.objects.select_for_update(skip_locked=True).filter(
            status=Job.Status.RUNNING)
        for job in running:
            alive = holder_alive(job.holder)
            if alive or (alive is None and job.lease_until > now):
                continue
            error = (f"The worker {job.holder} died during attempt {job.attempts}."
                     if alive is False else
                     f"The worker {job.holder} stopped renewing its lease during attempt "
                     f"{job.attempts}.")
            logger.warning("job %s (%s): %s", job.pk, job.key, error)
            if job.attempts >= settings.JOB_MAX_ATTEMPTS:
                swept.failed += end(job, error)
                continue
            swept.requeued += Job.objects.filter(
                pk=job.pk, status=Job.Status.RUNNING, attempts=job.attempts,
            ).update(status=Job.Status.QUEUED, failures=F("failures") + 1, error=error,
                     holder="", lease_until=None, enqueued_at=None, available_at=now)
        resend_before = now - timedelta(seconds=settings.JOB_RESEND_AFTER_S)
        due = list(Job.objects.filter(status=Job.Status.QUEUED, available_at__lte=now).filter(
            Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=resend_before))
            .order_by("available_at", "pk").values_list("pk", flat=True)[:1000])
        for job_id in due:
            transaction.on_commit(partial(send, job_id), robust=True)
        swept.sent = len(due)
        swept.pruned, _ = Job.objects.filter(
            status__in=[Job.Status.DONE, Job.Status.FAILED],
            finished_at__lt=now - timedelta(days=settings.JOB_KEEP_DAYS)).delete()
    return swept


def sweep_on_spawn(**kwargs) -> None:
    """django-q2's post_spawn receiver: a new worker process sweeps before taking work. A
    database that cannot be reached must not keep the worker from starting."""
    try:
        swept = sweep()
    except DatabaseError:
        logger.exception("the sweep at worker start failed; the scheduled one will retry")
        return
    if swept.requeued or swept.failed:
        logger.info("worker start: %s", swept)
