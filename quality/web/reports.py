"""Agreement reports of a project, drawn for a QA lead as the admin draws them.

Every member of the organization reads its reports and may ask for a new one, as in the
API (``POST /api/v1/projects/{id}/reports/``); it is computed in the background, and its
page reloads itself until it is done or failed. Another organization's project or report
answers 404.
"""

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import path
from django.views.decorators.http import require_POST

from config.workspace import FAILED, page, perform, render
from tasks.models import Project

from ..models import AgreementReport
from ..report_charts import report_charts
from ..reporting import request_report

PER_PAGE = 25
# Seconds between reloads of a report that is still being computed.
REFRESH_SECONDS = 3
Status = AgreementReport.Status


def _project(request: HttpRequest, project_id: int) -> Project:
    return get_object_or_404(Project.objects.visible_to(request.user)
                             .select_related("organization"), pk=project_id)


@page()
def project_reports(request: HttpRequest, project_id: int) -> HttpResponse:
    """The project's reports, newest first, with their status."""
    project = _project(request, project_id)
    reports = project.agreement_reports.select_related("requested_by")
    rows = Paginator(reports, PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "quality/web/reports.html", {"project": project, "page_obj": rows},
                  title=f"Agreement reports of {project.name}")


@page()
@require_POST
def run_report(request: HttpRequest, project_id: int) -> HttpResponse:
    project = _project(request, project_id)
    report = perform(request, request_report, project, request.user,
                     success="A new report is being computed; this page shows it when done.")
    if report is FAILED:
        return redirect("workspace:project-reports", project_id=project.pk)
    return redirect("workspace:report", report_id=report.pk)


@page()
def report_detail(request: HttpRequest, report_id: int) -> HttpResponse:
    """A done report as charts and tables; a pending or running one says so and reloads."""
    report = get_object_or_404(
        AgreementReport.objects.visible_to(request.user).select_related(
            "project__organization", "requested_by"), pk=report_id)
    context = {"report": report, "project": report.project,
               "computing": report.status in (Status.PENDING, Status.RUNNING),
               "refresh_seconds": REFRESH_SECONDS}
    if report.status == Status.DONE and report.result:
        context.update(report_charts(report.result))
    return render(request, "quality/web/report.html", context,
                  title=f"Agreement report {report.pk} of {report.project.name}")


urlpatterns = [
    path("projects/<int:project_id>/reports/", project_reports, name="project-reports"),
    path("projects/<int:project_id>/reports/run/", run_report, name="project-report-run"),
    path("reports/<int:report_id>/", report_detail, name="report"),
]
menu: list = []
