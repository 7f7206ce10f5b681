"""The application's metrics, counted from the job and assignment rows at scrape time."""

from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client import CollectorRegistry, generate_latest

from config.collectors import ApplicationCollector
from durable.models import Job
from tasks.routing import next_assignment
from tests import factories
from tests.servers import samples

INGEST = "tasks.jobs.process_batch"
REPORT = "quality.jobs.compute_report"


def scrape() -> dict:
    registry = CollectorRegistry()
    registry.register(ApplicationCollector())
    return samples(generate_latest(registry).decode())


def job(func: str, status: str, **fields) -> Job:
    now = timezone.now()
    return Job.objects.create(func=func, key=f"{func}:{Job.objects.count()}", status=status,
                              available_at=now, **fields)


@pytest.fixture
def jobs(db):
    now = timezone.now()
    job(INGEST, Job.Status.QUEUED)
    job(INGEST, Job.Status.QUEUED, failures=1, duration_s=2.0)
    job(INGEST, Job.Status.RUNNING, lease_until=now + timedelta(seconds=60), attempts=1)
    job(INGEST, Job.Status.RUNNING, lease_until=now - timedelta(seconds=5), attempts=1)
    job(INGEST, Job.Status.DONE, duration_s=0.3, attempts=1)
    job(INGEST, Job.Status.DONE, duration_s=42.0, attempts=2, failures=1)
    job(REPORT, Job.Status.FAILED, duration_s=700.0, attempts=3, failures=3)


def by_func(scrape: dict, name: str, func: str, **labels: str) -> float:
    return scrape[(name, tuple(sorted({"func": func, **labels}.items())))]


def test_jobs_are_counted_by_function_and_state(jobs):
    metrics = scrape()
    assert metrics[("annomarket_application_metrics_up", ())] == 1
    assert by_func(metrics, "annomarket_jobs_queued", INGEST) == 2
    assert by_func(metrics, "annomarket_jobs_running", INGEST) == 2
    assert by_func(metrics, "annomarket_job_leases_open", INGEST) == 1
    assert by_func(metrics, "annomarket_job_leases_expired", INGEST) == 1
    assert by_func(metrics, "annomarket_jobs_queued", REPORT) == 0
    assert by_func(metrics, "annomarket_job_failures_total", INGEST) == 2
    assert by_func(metrics, "annomarket_job_failures_total", REPORT) == 3


def test_job_durations_fill_a_histogram_by_function(jobs):
    metrics = scrape()

    def bucket(func: str, bound: str) -> float:
        return by_func(metrics, "annomarket_job_duration_seconds_bucket", func, le=bound)

    assert bucket(INGEST, "0.1") == 0
    assert bucket(INGEST, "0.5") == 1
    assert bucket(INGEST, "5.0") == 2
    assert bucket(INGEST, "60.0") == 3
    assert bucket(INGEST, "+Inf") == 3
    assert by_func(metrics, "annomarket_job_duration_seconds_count", INGEST) == 3
    assert by_func(metrics, "annomarket_job_duration_seconds_sum", INGEST) == pytest.approx(44.3)
    assert bucket(REPORT, "600.0") == 0
    assert bucket(REPORT, "1800.0") == 1


def test_open_assignment_leases_are_counted(db, customer):
    project = factories.project(customer, items=3)
    held = [next_assignment(factories.expert(), project).assignment for _ in range(2)]
    assert scrape()[("annomarket_assignment_leases_open", ())] == 2
    held[0].expires_at = timezone.now() - timedelta(seconds=1)
    held[0].save(update_fields=["expires_at"])
    assert scrape()[("annomarket_assignment_leases_open", ())] == 1


def test_the_broker_queue_is_measured(db):
    assert scrape()[("annomarket_broker_queue_size", ())] == 0


def test_without_jobs_there_are_no_job_series(db):
    metrics = scrape()
    assert not [name for name, _ in metrics if name.startswith("annomarket_job")]
