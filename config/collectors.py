"""The application's state as Prometheus metrics, read from PostgreSQL at each scrape.

Background jobs and leases live in the database, not in any one process, so their metrics are
counted there: every host answers the same numbers, however many web and worker hosts there
are (aggregate them across instances with ``max``, not ``sum``). Job durations and failures
are read from the job rows as well; the sweeper deletes old rows after ``JOB_KEEP_DAYS``,
which Prometheus sees as a counter reset.

A scrape that cannot read the database still answers: ``annomarket_application_metrics_up``
is then 0 and the other application metrics are absent.
"""

import logging
from collections.abc import Iterator

from django.db import DatabaseError
from django.db.models import Count, Q, Sum
from django.utils import timezone
from django_q.brokers import get_broker
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

# Jobs run from a fraction of a second (a webhook) to many minutes (a 100k-row batch).
JOB_DURATION_BUCKETS = (0.1, 0.5, 1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0,
                        3600.0)


def job_rows() -> list[dict]:
    """Per function, in one pass over the job table: jobs by status, leases open and run out,
    failed attempts, and the durations of finished runs counted into the histogram's
    buckets."""
    from durable.models import Job

    now = timezone.now()
    running = Q(status=Job.Status.RUNNING)
    timed = Q(duration_s__isnull=False)
    buckets = {f"le_{n}": Count("pk", filter=timed & Q(duration_s__lte=bound))
               for n, bound in enumerate(JOB_DURATION_BUCKETS)}
    return list(
        Job.objects.order_by().values("func").annotate(
            queued=Count("pk", filter=Q(status=Job.Status.QUEUED)),
            running=Count("pk", filter=running),
            leases_open=Count("pk", filter=running & Q(lease_until__gt=now)),
            leases_expired=Count("pk", filter=running & Q(lease_until__lte=now)),
            failures=Sum("failures", default=0),
            timed=Count("pk", filter=timed),
            seconds=Sum("duration_s", filter=timed, default=0.0),
            **buckets,
        ).order_by("func"))


def assignment_leases_open() -> int:
    from tasks.models import Assignment

    return Assignment.objects.filter(status=Assignment.Status.ASSIGNED,
                                     expires_at__gt=timezone.now()).count()


def job_metrics(rows: list[dict]) -> Iterator[Metric]:
    gauges = {
        "queued": GaugeMetricFamily("annomarket_jobs_queued",
                                    "Jobs waiting for a worker, by function.",
                                    labels=["func"]),
        "running": GaugeMetricFamily("annomarket_jobs_running",
                                     "Jobs held by a worker, by function.", labels=["func"]),
        "leases_open": GaugeMetricFamily(
            "annomarket_job_leases_open", "Running jobs whose lease is still held.",
            labels=["func"]),
        "leases_expired": GaugeMetricFamily(
            "annomarket_job_leases_expired",
            "Running jobs whose lease ran out: their worker died or stopped renewing it, "
            "and the sweeper hands them out again unless that worker runs on its host.",
            labels=["func"]),
    }
    failures = CounterMetricFamily("annomarket_job_failures",
                                   "Job attempts that raised or whose worker died.",
                                   labels=["func"])
    durations = HistogramMetricFamily("annomarket_job_duration_seconds",
                                      "Seconds each job's last finished attempt ran.",
                                      labels=["func"])
    for row in rows:
        for name, gauge in gauges.items():
            gauge.add_metric([row["func"]], row[name])
        failures.add_metric([row["func"]], row["failures"])
        buckets = [(str(bound), row[f"le_{n}"]) for n, bound in enumerate(JOB_DURATION_BUCKETS)]
        durations.add_metric([row["func"]], [*buckets, ("+Inf", row["timed"])],
                             sum_value=row["seconds"])
    yield from gauges.values()
    yield failures
    yield durations


class ApplicationCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("annomarket_application_metrics_up",
                               "1 when the application's metrics could be read from the "
                               "database at this scrape.")
        try:
            rows = job_rows()
            leases = assignment_leases_open()
        except DatabaseError as exc:
            logger.warning("metrics: the database could not be read: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from job_metrics(rows)
        yield GaugeMetricFamily("annomarket_assignment_leases_open",
                                "Items leased to experts whose lease has not expired.",
                                value=leases)
        yield from broker_metrics()


def broker_metrics() -> Iterator[Metric]:
    try:
        size = get_broker().queue_size()
    except Exception as exc:  # a broker that does not answer leaves its metric out
        logger.warning("metrics: the broker could not be read: %s", exc)
        return
    yield GaugeMetricFamily("annomarket_broker_queue_size",
                            "Messages waiting in the job broker's queue (Redis or the ORM).",
                            value=size)
