"""Background jobs survive their worker being killed (durable.runner, durable.sweeper).

Real ``qcluster`` processes on the Redis broker (and, for the batch, on the ORM broker too)
work on the test database; the test kills one with SIGKILL in the middle of a job and checks
that the job ends once, with exactly its effect. The Redis broker never hands out again a job
that a dead worker took, and the ORM broker only after ``Q_RETRY`` (12 minutes), so what brings
the job back is the job table and the sweeper, which a replacement worker runs as it starts.

The jobs are recorded by this process, whose own broker is the ORM's on the test database;
with the Redis broker, the cluster's first sweep sends them (a job the broker never
delivered), one second after they were sent nowhere useful.
"""

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from durable.models import Job
from quality.models import AgreementReport
from quality.reporting import request_report
from tasks import ingest
from tasks.models import Batch, Item
from tests import factories
from tests.servers import ROOT, server_env

ROWS = 100_000


@pytest.fixture
def broker() -> str:
    """The cluster's broker: Redis, as in production, unless a test asks for the ORM's."""
    return "redis"


@pytest.fixture
def start_cluster(request, broker, settings,
                  tmp_path) -> Iterator[Callable[[], subprocess.Popen]]:
    """Start a ``manage.py qcluster`` with one worker, a 3-second job lease and resends after
    a second; every cluster started is killed at the end. Their output goes to
    ``cluster-N.log`` and is printed when a test fails."""
    settings.MEDIA_ROOT = tmp_path / "media"
    env = server_env(tmp_path, Q_WORKERS="1", JOB_LEASE_S="3", JOB_RESEND_AFTER_S="1",
                     LOG_LEVEL="INFO")
    if broker == "redis":
        env["REDIS_URL"] = request.getfixturevalue("redis_url")
    clusters: list[subprocess.Popen] = []

    def start() -> subprocess.Popen:
        log = (tmp_path / f"cluster-{len(clusters)}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"], cwd=ROOT, env=env,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        clusters.append(process)
        return process

    yield start
    for process in clusters:
        kill_group(process)
    for path in sorted(tmp_path.glob("cluster-*.log")):
        print(f"--- {path.name}\n{path.read_text(errors='replace')[-6000:]}")


def kill_group(process: subprocess.Popen) -> None:
    """SIGKILL the cluster and its workers at once, as a host that loses power would."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def wait_for(condition: Callable[[], object], what: str, timeout: float = 120) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"waited {timeout:.0f} s for {what}")


def holder_pid(job: Job) -> int:
    return int(job.holder.rpartition(":")[2])


def running(key: str) -> Callable[[], Job | None]:
    return lambda: Job.objects.filter(key=key, status="running").first()


def ended(key: str) -> Callable[[], Job | None]:
    return lambda: Job.objects.filter(key=key, status__in=["done", "failed"]).first()


@pytest.mark.postgres
@pytest.mark.parametrize("broker", ["redis", "orm"])
def test_a_batch_whose_worker_dies_mid_ingest_ends_done_once_with_exactly_its_rows(
        start_cluster, settings):
    owner = factories.customer()
    project = factories.project(owner, activate=False)
    body = "".join(json.dumps({"external_id": f"q-{n}", "data": factories.preference_data(n)})
                   + "\n" for n in range(ROWS)).encode()
    batch = ingest.upload(user=owner, project=project, stream=io.BytesIO(body),
                          file_format="jsonl", filename="big.jsonl")
    key = f"tasks.process_batch:{batch.pk}"
    assert batch.status == "pending" and Job.objects.filter(key=key).exists()
    time.sleep(1.1)
    start_cluster()

    job = wait_for(running(key), "the worker to claim the batch")
    wait_for(lambda: Batch.objects.get(pk=batch.pk).rows >= ingest.PROGRESS_EVERY,
             "the ingest to be under way")
    killed = holder_pid(job)
    os.kill(killed, signal.SIGKILL)
    assert Batch.objects.get(pk=batch.pk).status == "processing", "killed mid-way"

    job = wait_for(ended(key), "the job to end", timeout=240)
    batch.refresh_from_db()
    assert (batch.status, batch.rows, batch.created, batch.existing) == ("done", ROWS, ROWS, 0)
    assert Item.objects.filter(project=project).count() == ROWS
    assert Item.objects.filter(project=project).values("external_id").distinct().count() == ROWS
    assert (job.status, job.attempts, job.failures) == ("done", 2, 1)
    assert f":{killed} died during attempt 1" in job.error
    assert holder_pid(job) != killed, "a replacement worker finished it"
    assert list((Path(settings.MEDIA_ROOT) / "uploads").glob("*")) == [], "spool removed"


@pytest.mark.postgres
def test_a_report_whose_cluster_is_killed_mid_way_is_finished_by_the_next_one(start_cluster):
    owner = factories.customer()
    project = factories.project(owner)
    experts = [factories.expert() for _ in range(3)]
    annotations = factories.bulk_answered(project, experts, 20_000)
    report = request_report(project, owner)
    key = f"quality.agreement_report:{report.pk}"
    time.sleep(1.1)
    first = start_cluster()

    wait_for(lambda: AgreementReport.objects.get(pk=report.pk).status == "running",
             "a worker to start the report")
    kill_group(first)
    report.refresh_from_db()
    assert report.status == "running", "the cluster died while the report was computed"

    start_cluster()
    job = wait_for(ended(key), "the job to end", timeout=240)
    report.refresh_from_db()
    assert report.status == "done", report.error
    assert report.result["annotations"] == annotations
    assert (job.status, job.attempts, job.failures) == ("done", 2, 1)
    assert AgreementReport.objects.filter(project=project).count() == 1
