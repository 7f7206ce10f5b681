"""A background job's state and claim, kept in the database beside the work it does.

The broker (django-q2 on Redis or on the ORM) only carries "run job N now"; whether job N
still has to run, who runs it and until when lives here. A worker claims a job by taking its
lease, renews the lease while it works, and records the outcome. A worker that dies stops
renewing; the sweeper then hands the job out again. Correctness never depends on the broker
delivering a message once, or at all.
"""

from django.db import models
from django.db.models import Q


class Job(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    func = models.CharField(max_length=200, help_text="Dotted path of the function to run.")
    args = models.JSONField(default=list, blank=True)
    key = models.CharField(
        max_length=200, unique=True,
        help_text="What the job is about, e.g. 'tasks.process_batch:42': one job per key.")
    give_up = models.CharField(
        max_length=200, blank=True,
        help_text="Dotted path called with the job's args and its error when no attempt is "
                  "left, so that the work it was about ends visibly instead of waiting.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveIntegerField(default=0, help_text="Claims so far.")
    failures = models.PositiveIntegerField(
        default=0, help_text="Attempts that raised or whose worker died.")
    holder = models.CharField(max_length=200, blank=True,
                              help_text="host:pid of the worker holding the lease.")
    lease_until = models.DateTimeField(null=True, blank=True)
    available_at = models.DateTimeField(help_text="Not handed out before this time.")
    enqueued_at = models.DateTimeField(null=True, blank=True,
                                       help_text="When it was last sent to the broker.")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_s = models.FloatField(null=True, blank=True,
                                   help_text="Seconds the last attempt ran, once it ended.")
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-pk"]
        indexes = [
            models.Index(fields=["status", "lease_until"], name="durable_job_status_lease"),
            models.Index(fields=["status", "available_at"], name="durable_job_status_available"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="running") | Q(lease_until__isnull=False),
                name="durable_job_running_has_lease"),
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.status})"
