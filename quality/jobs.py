"""Background jobs of the quality app (django-q2). Each is idempotent: a rerun only finds
what is left to do."""

from django.db import transaction
from django.utils import timezone

from tasks.models import Project, ProjectExpert

from . import services
from .models import QualityRule
from .rules import experts_on

SCHEDULES = [
    # (function, minutes between runs)
    ("quality.jobs.evaluate_rules", 15),
    ("quality.jobs.expire_attempts", 5),
]


def evaluate_rules() -> int:
    """Apply every project's active rules to each expert on it; returns the actions taken.

    Submissions and reviews evaluate their expert at once; this run catches what time alone
    changes (day windows) and rules added or changed after the work was done. Each expert is
    evaluated in a transaction of its own.
    """
    taken = 0
    now = timezone.now()
    projects = Project.objects.filter(
        pk__in=QualityRule.objects.filter(active=True).values("project_id")
    ).exclude(status=Project.Status.ARCHIVED)
    for project in projects:
        removed = set(ProjectExpert.objects.filter(
            project=project, access=ProjectExpert.Access.REMOVED).values_list("expert_id",
                                                                                flat=True))
        for expert_id in experts_on(project).values_list("expert_id", flat=True):
            if expert_id in removed:
                continue
            taken += len(services.evaluate_rules(project, expert_id, now=now))
    return taken


def expire_attempts() -> int:
    """Mark qualification attempts whose time ran out as expired."""
    return services.expire_attempts()



def build_agreement_report(report_id: int) -> None:
    """Compute an agreement report (quality.report.build_report).

    A report that is done is left alone, so a repeated run changes nothing; one left running
    by a worker that died, or failed, is computed again. A failure is recorded on the report
    with its error text for the customer to read, and is not raised: the same data would
    fail the same way on every retry.
    """
    import logging

    from .models import AgreementReport
    from .report import build_report

    with transaction.atomic():
        report = (AgreementReport.objects.select_for_update().select_related("project")
                  .filter(pk=report_id).first())
        if report is None or report.status == AgreementReport.Status.DONE:
            return
        report.status, report.error = AgreementReport.Status.RUNNING, ""
        report.started_at, report.finished_at = timezone.now(), None
        report.save(update_fields=["status", "error", "started_at", "finished_at"])
    try:
        result = build_report(report.project)
    except Exception as exc:
        logging.getLogger(__name__).exception("Agreement report %s failed", report_id)
        AgreementReport.objects.filter(pk=report_id).update(
            status=AgreementReport.Status.FAILED, error=f"{type(exc).__name__}: {exc}",
            finished_at=timezone.now())
        return
    AgreementReport.objects.filter(pk=report_id).update(
        status=AgreementReport.Status.DONE, result=result, finished_at=timezone.now())


def give_up_report(report_id: int, *, error: str) -> None:
    """The report's job has no attempt left (durable.runner.end): the report fails with the
    reason, for the customer to read, instead of staying pending or running."""
    from .models import AgreementReport

    AgreementReport.objects.filter(pk=report_id).exclude(
        status=AgreementReport.Status.DONE).update(
        status=AgreementReport.Status.FAILED, error=error, finished_at=timezone.now())
