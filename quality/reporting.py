"""An agreement report's life: requested (pending), computed in the background (running),
then done with its figures or failed with the reason, for the customer to read.

The figures themselves come from `quality.report.build_report`; this module only moves the
report through its states, one transaction each.
"""

import logging

from django.db import transaction
from django.utils import timezone

from durable.runner import enqueue
from tasks.models import Project

from .models import AgreementReport
from .report import build_report

Status = AgreementReport.Status


def schedule(report: AgreementReport) -> None:
    """Compute the report in the background once the current transaction commits."""
    enqueue("quality.jobs.build_agreement_report", report.pk,
            key=f"quality.agreement_report:{report.pk}", give_up="quality.jobs.give_up_report")


@transaction.atomic
def request_report(project: Project, user=None) -> AgreementReport:
    """A new pending report of the project, scheduled."""
    report = AgreementReport.objects.create(project=project, requested_by=user)
    schedule(report)
    return report


def compute(report_id: int) -> None:
    """Compute a report and record the outcome.

    A report that is done is left alone, so a repeated run changes nothing; one left running
    by a worker that died, or failed, is computed again. A failure is recorded on the report
    with its error text for the customer to read, and is not raised: the same data would
    fail the same way on every retry.
    """
    with transaction.atomic():
        report = (AgreementReport.objects.select_for_update().select_related("project")
                  .filter(pk=report_id).first())
        if report is None or report.status == Status.DONE:
            return
        report.status, report.error = Status.RUNNING, ""
        report.started_at, report.finished_at = timezone.now(), None
        report.save(update_fields=["status", "error", "started_at", "finished_at"])
    try:
        result = build_report(report.project)
    except Exception as exc:
        logging.getLogger(__name__).exception("Agreement report %s failed", report_id)
        fail(report_id, error=f"{type(exc).__name__}: {exc}")
        return
    AgreementReport.objects.filter(pk=report_id).update(
        status=Status.DONE, result=result, finished_at=timezone.now())


def fail(report_id: int, *, error: str) -> None:
    """The report fails with the reason, unless it is done already."""
    AgreementReport.objects.filter(pk=report_id).exclude(status=Status.DONE).update(
        status=Status.FAILED, error=error, finished_at=timezone.now())
