"""Handing out again what dead workers left (durable.sweeper)."""

import os
import socket
import subprocess
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection, transaction
from django.utils import timezone
from django_q.models import OrmQ

from durable import runner
from durable.models import Job
from durable.sweeper import LOCK_KEY, holder_alive, sweep

from .functions import lines

HOST = socket.gethostname()


@pytest.fixture
def log(tmp_path):
    return str(tmp_path / "runs.log")


def dead_pid() -> int:
    """The pid of a process that ran and was reaped."""
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def running_job(log, *, holder: str, lease_s: float, attempts: int = 1, key="demo:1") -> Job:
    job = runner.enqueue("tests.durable.functions.mark", log, "a", key=key,
                         give_up="tests.durable.functions.gave_up")
    Job.objects.filter(pk=job.pk).update(
        status="running", attempts=attempts, holder=holder, started_at=timezone.now(),
        lease_until=timezone.now() + timedelta(seconds=lease_s), enqueued_at=timezone.now())
    return Job.objects.get(pk=job.pk)


def test_a_holder_is_alive_while_its_process_runs_on_this_host():
    assert holder_alive(f"{HOST}:{os.getpid()}") is True
    assert holder_alive(f"{HOST}:{dead_pid()}") is False
    assert holder_alive(f"elsewhere.internal:{os.getpid()}") is None
    assert holder_alive(f"{HOST}:²") is None
    assert holder_alive("") is None


def test_a_finished_process_not_yet_reaped_is_dead():
    process = subprocess.Popen(["true"])
    stat = Path(f"/proc/{process.pid}/stat")
    deadline = time.monotonic() + 10
    while stat.read_text().rpartition(")")[2].split()[0] != "Z":
        assert time.monotonic() < deadline, "the child never exited"
        time.sleep(0.01)
    try:
        assert holder_alive(f"{HOST}:{process.pid}") is False
    finally:
        process.wait()


def test_a_job_whose_worker_died_here_is_requeued_at_once_and_sent(
        db, log, django_capture_on_commit_callbacks):
    job = running_job(log, holder=f"{HOST}:{dead_pid()}", lease_s=60)
    with django_capture_on_commit_callbacks(execute=True):
        swept = sweep()
    assert (swept.requeued, swept.sent, swept.failed) == (1, 1, 0)
    job.refresh_from_db()
    assert (job.status, job.failures, job.holder, job.lease_until) == ("queued", 1, "", None)
    assert "died during attempt 1" in job.error
    assert OrmQ.objects.count() == 1, "the sweeper sent it to the broker"
    assert runner.run(job.pk) == "done"
    assert lines(log) == ["a"]


def test_a_live_worker_keeps_its_job_even_past_its_lease(db, log):
    job = running_job(log, holder=f"{HOST}:{os.getpid()}", lease_s=-60)
    assert sweep().requeued == 0
    job.refresh_from_db()
    assert job.status == "running"


def test_a_worker_elsewhere_keeps_its_job_until_its_lease_runs_out(db, log):
    job = running_job(log, holder="worker-7.internal:4242", lease_s=30)
    assert sweep().requeued == 0
    Job.objects.filter(pk=job.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    assert sweep().requeued == 1
    job.refresh_from_db()
    assert job.status == "queued"
    assert "stopped renewing its lease during attempt 1" in job.error


def test_a_job_out_of_attempts_ends_failed_and_gives_up_once(db, log, settings):
    settings.JOB_MAX_ATTEMPTS = 2
    job = running_job(log, holder=f"{HOST}:{dead_pid()}", lease_s=60, attempts=2)
    assert sweep().failed == 1
    assert sweep().failed == 0
    job.refresh_from_db()
    assert (job.status, job.failures) == ("failed", 1)
    assert lines(log) == [f"gave up on a: {job.error}"]


def test_queued_jobs_are_sent_when_never_sent_or_sent_long_ago(
        db, log, settings, django_capture_on_commit_callbacks):
    settings.JOB_RESEND_AFTER_S = 300
    never = runner.enqueue("tests.durable.functions.mark", log, "a", key="demo:1")
    recent = runner.enqueue("tests.durable.functions.mark", log, "b", key="demo:2")
    stale = runner.enqueue("tests.durable.functions.mark", log, "c", key="demo:3")
    later = runner.enqueue("tests.durable.functions.mark", log, "d", key="demo:4")
    now = timezone.now()
    Job.objects.filter(pk=recent.pk).update(enqueued_at=now - timedelta(seconds=10))
    Job.objects.filter(pk=stale.pk).update(enqueued_at=now - timedelta(seconds=301))
    Job.objects.filter(pk=later.pk).update(available_at=now + timedelta(minutes=5))
    assert never.enqueued_at is None
    with django_capture_on_commit_callbacks(execute=True):
        assert sweep().sent == 2
    sent = set(Job.objects.filter(enqueued_at__gte=now).values_list("key", flat=True))
    assert sent == {"demo:1", "demo:3"}


def test_finished_jobs_are_kept_for_a_while_then_deleted(db, log, settings):
    settings.JOB_KEEP_DAYS = 30
    old = runner.enqueue("tests.durable.functions.mark", log, "a", key="demo:1")
    new = runner.enqueue("tests.durable.functions.mark", log, "b", key="demo:2")
    for job in (old, new):
        runner.run(job.pk)
    Job.objects.filter(pk=old.pk).update(finished_at=timezone.now() - timedelta(days=31))
    assert sweep().pruned == 1
    assert list(Job.objects.values_list("key", flat=True)) == ["demo:2"]


@pytest.mark.postgres
def test_one_sweeper_works_at_a_time(log):
    running_job(log, holder=f"{HOST}:{dead_pid()}", lease_s=60)
    held, release = threading.Event(), threading.Event()

    def hold_the_lock():
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_KEY])
            held.set()
            release.wait(10)
        connection.close()

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    try:
        assert held.wait(10)
        assert sweep().requeued == 0, "another sweeper holds the lock"
    finally:
        release.set()
        holder.join()
    assert sweep().requeued == 1
