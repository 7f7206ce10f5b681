"""Agreement reports in the admin, drawn for a QA lead to read at a glance.

The change page shows a finished report as charts (laid out by ``quality.report_charts``,
as on the workspace's report page), then the judges, the most disputed items and the
pairwise kappas as tables.

"Run report" computes a fresh report of the selected reports' projects; adding a report
does the same for one project.
"""

from django.contrib import admin, messages
from django.db.models import QuerySet

from .models import AgreementReport
from .report_charts import report_charts
from .reporting import request_report, schedule


@admin.register(AgreementReport)
class AgreementReportAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "status", "requested_by", "created_at", "finished_at"]
    list_filter = ["status", ("project", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["project", "requested_by"]
    search_fields = ["project__name"]
    raw_id_fields = ["project"]
    actions = ["run_report"]
    change_form_template = "admin/quality/agreementreport/change_form.html"

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["project"]
        return ["project", "status", "requested_by", "created_at", "started_at",
                "finished_at", "error"]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.get_fields(request, obj)

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change):
        obj.requested_by = request.user
        super().save_model(request, obj, form, change)
        schedule(obj)

    @admin.action(description="Run report: compute a new report of these projects")
    def run_report(self, request, queryset: QuerySet[AgreementReport]) -> None:
        projects = {report.project for report in queryset.select_related("project")}
        for project in projects:
            request_report(project, request.user)
        self.message_user(request, f"Requested {len(projects)} new report(s); they appear "
                                   f"here as pending and are computed in the background.",
                          messages.SUCCESS)

    def render_change_form(self, request, context, add=False, change=False, form_url="",
                           obj=None):
        if obj is not None and obj.status == AgreementReport.Status.DONE and obj.result:
            context.update(report_charts(obj.result))
        return super().render_change_form(request, context, add, change, form_url, obj)
