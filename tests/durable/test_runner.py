"""Enqueueing, claiming, running and failing a job (durable.runner)."""

import os
import socket
from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.models import OrmQ

from durable import runner
from durable.models import Job
from tests.concurrency import race

from .functions import lines

MARK = "tests.durable.functions.mark"


@pytest.fixture
def log(tmp_path):
    return str(tmp_path / "runs.log")


def test_a_job_is_sent_once_its_transaction_commits_and_a_key_is_recorded_once(
        db, log, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        job = runner.enqueue(MARK, log, "a", key="demo:1")
        again = runner.enqueue(MARK, log, "other", key="demo:1")
    assert again.pk == job.pk and len(callbacks) == 1
    job.refresh_from_db()
    assert (job.status, job.args, job.attempts) == ("queued", [log, "a"], 0)
    assert job.enqueued_at is not None
    assert OrmQ.objects.count() == 1, "the broker holds one message for the job"


def test_a_job_enqueued_in_a_transaction_that_rolls_back_is_not_recorded(db, log):
    from django.db import transaction

    with pytest.raises(RuntimeError), transaction.atomic():
        runner.enqueue(MARK, log, "a", key="demo:1")
        raise RuntimeError("the work it was about is not stored either")
    assert not Job.objects.exists()


def test_running_a_job_marks_it_done_and_a_second_run_does_nothing(db, log):
    job = runner.enqueue(MARK, log, "a", key="demo:1")
    assert runner.run(job.pk) == "done"
    assert runner.run(job.pk) is None
    job.refresh_from_db()
    assert lines(log) == ["a"]
    assert (job.status, job.attempts, job.failures, job.lease_until) == ("done", 1, 0, None)
    assert job.holder == f"{socket.gethostname()}:{os.getpid()}"
    assert job.duration_s >= 0 and job.finished_at >= job.started_at


def test_a_job_not_yet_due_is_left_for_later(db, log):
    job = runner.enqueue(MARK, log, "a", key="demo:1")
    Job.objects.filter(pk=job.pk).update(available_at=timezone.now() + timedelta(minutes=1))
    assert runner.run(job.pk) is None
    assert lines(log) == []


def test_a_failing_job_waits_longer_before_each_attempt_then_gives_up_once(db, log, settings):
    settings.JOB_MAX_ATTEMPTS = 3
    job = runner.enqueue("tests.durable.functions.mark_then_fail", log, "a", key="demo:1",
                         give_up="tests.durable.functions.gave_up")
    waits = []
    for _ in range(2):
        before = timezone.now()
        assert runner.run(job.pk) == "queued"
        job.refresh_from_db()
        waits.append(round((job.available_at - before).total_seconds()))
        assert job.error == "RuntimeError: a broke" and job.enqueued_at is None
        Job.objects.filter(pk=job.pk).update(available_at=timezone.now())
    assert waits == [10, 20]
    assert runner.run(job.pk) == "failed"
    assert runner.run(job.pk) is None
    job.refresh_from_db()
    assert (job.status, job.attempts, job.failures) == ("failed", 3, 3)
    assert lines(log) == ["a", "a", "a", "gave up on a: RuntimeError: a broke"]


def test_backoff_is_capped_at_ten_minutes():
    assert [runner.backoff(n).total_seconds() for n in (1, 2, 3, 7, 8, 30)] == [
        10, 20, 40, 600, 600, 600]


@pytest.mark.django_db(transaction=True)
def test_the_heartbeat_renews_the_lease_while_the_job_runs(log, settings):
    settings.JOB_LEASE_S = 0.3
    job = runner.enqueue("tests.durable.functions.mark_slowly", log, "a", 1.0, key="demo:1")
    leases = []

    def watch():
        import time

        from django.db import connection
        for _ in range(8):
            time.sleep(0.12)
            leases.append(Job.objects.get(pk=job.pk).lease_until)
        connection.close()

    assert race(lambda: runner.run(job.pk), watch)[0] == "done"
    seen = sorted({lease for lease in leases if lease is not None})
    assert len(seen) >= 3, "the lease moved forward several times during one run"


@pytest.mark.postgres
def test_of_workers_handed_the_same_job_at_once_one_runs_it(log):
    job = runner.enqueue("tests.durable.functions.mark_slowly", log, "a", 0.2, key="demo:1")
    results = race(*[lambda: runner.run(job.pk)] * 6)
    assert sorted(map(str, results)) == ["None"] * 5 + ["done"]
    assert lines(log) == ["a"]
