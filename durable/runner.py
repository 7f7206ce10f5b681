"""Enqueue a job and run it: claim its lease, keep the lease while working, record the end.

A job's function must be safe to run twice (each app's ``jobs.py`` says how); this module
makes sure it normally runs once, and that it runs again when the worker running it died.
"""

import logging
import os
import socket
import threading
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.module_loading import import_string
from django_q.tasks import async_task

from .models import Job

logger = logging.getLogger(__name__)

RUN = "durable.runner.run"


def holder() -> str:
    """Who holds a lease: ``host:pid`` of the process running the job."""
    return f"{socket.gethostname()}:{os.getpid()}"


def lease() -> timedelta:
    return timedelta(seconds=settings.JOB_LEASE_S)


def enqueue(func: str, *args, key: str, give_up: str = "") -> Job:
    """Record the job ``key`` in the caller's transaction and send it to the broker once that
    commits; a key already recorded answers its job and sends nothing.

    Recording it with the work it is about (a batch, a report) means both commit or neither
    does. If the broker cannot be reached at commit, the job stays recorded and the sweeper
    sends it later.
    """
    job, created = Job.objects.get_or_create(
        key=key, defaults={"func": func, "args": list(args), "give_up": give_up,
                           "available_at": timezone.now()})
    if created:
        transaction.on_commit(partial(send, job.pk), robust=True)
    return job


def send(job_id: int) -> None:
    """Hand the job to the broker and note when; the sweeper sends it again if it is still
    queued long after (a broker that lost it, a worker that died before claiming it)."""
    Job.objects.filter(pk=job_id).update(enqueued_at=timezone.now())
    async_task(RUN, job_id, task_name=f"job-{job_id}-{time.monotonic_ns()}")


def run(job_id: int) -> str | None:
    """Run the job if it is queued and due; answer its status afterwards, or None when there
    was nothing to do (done, failed, not yet due, or held by a live worker)."""
    job = claim(job_id)
    if job is None:
        return None
    started = time.monotonic()
    try:
        with heartbeat(job):
            import_string(job.func)(*job.args)
    except Exception as exc:
        return _record_failure(job, exc, time.monotonic() - started)
    Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING, attempts=job.attempts).update(
        status=Job.Status.DONE, finished_at=timezone.now(), lease_until=None,
        duration_s=time.monotonic() - started)
    return Job.Status.DONE


def claim(job_id: int) -> Job | None:
    """Take the job's lease if it is queued and due. One conditional UPDATE, so of two
    workers handed the same job only one gets it."""
    now = timezone.now()
    claimed = Job.objects.filter(
        pk=job_id, status=Job.Status.QUEUED, available_at__lte=now,
    ).update(status=Job.Status.RUNNING, attempts=F("attempts") + 1, holder=holder(),
             lease_until=now + lease(), started_at=now, finished_at=None, duration_s=None)
    return Job.objects.get(pk=job_id) if claimed else None


@contextmanager
def heartbeat(job: Job) -> Iterator[None]:
    """Renew the job's lease every third of its length while the body runs, from a thread
    with a database connection of its own; a worker that dies stops renewing it."""
    stop = threading.Event()
    every = settings.JOB_LEASE_S / 3

    def renew() -> None:
        try:
            while not stop.wait(every):
                try:
                    renewed = Job.objects.filter(
                        pk=job.pk, status=Job.Status.RUNNING, attempts=job.attempts,
                    ).update(lease_until=timezone.now() + lease())
                except DatabaseError:
                    logger.exception("job %s: could not renew its lease", job.pk)
                    continue
                if not renewed:
                    logger.warning("job %s (%s) lost its lease while running", job.pk, job.key)
                    return
        finally:
            connection.close()

    beat = threading.Thread(target=renew, name=f"job-{job.pk}-heartbeat", daemon=True)
    beat.start()
    try:
        yield
    finally:
        stop.set()
        beat.join()


def backoff(attempts: int) -> timedelta:
    """Wait before the next attempt: 10 s, 20 s, 40 s... at most ten minutes."""
    return timedelta(seconds=min(10 * 2 ** max(attempts - 1, 0), 600))


def _record_failure(job: Job, exc: Exception, seconds: float) -> str:
    logger.exception("job %s (%s) failed on attempt %s", job.pk, job.key, job.attempts)
    error = "".join(traceback.format_exception_only(exc)).strip()
    if job.attempts >= settings.JOB_MAX_ATTEMPTS:
        end(job, error, duration_s=seconds)
        return Job.Status.FAILED
    Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING, attempts=job.attempts).update(
        status=Job.Status.QUEUED, failures=F("failures") + 1, error=error, lease_until=None,
        holder="", enqueued_at=None, duration_s=seconds,
        available_at=timezone.now() + backoff(job.attempts))
    return Job.Status.QUEUED


@transaction.atomic
def end(job: Job, error: str, *, duration_s: float | None = None) -> bool:
    """Record that the job failed for good and let its work end visibly (``give_up``), both
    in one transaction; answer False if someone else already ended or re-took it."""
    ended = Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING,
                               attempts=job.attempts).update(
        status=Job.Status.FAILED, failures=F("failures") + 1, error=error, lease_until=None,
        finished_at=timezone.now(), duration_s=duration_s)
    if ended and job.give_up:
        import_string(job.give_up)(*job.args, error=error)
    return bool(ended)
