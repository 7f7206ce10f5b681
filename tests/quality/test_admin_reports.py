"""The agreement report page of the admin: charts for a done report, the Run report action."""

import pytest
from django.urls import reverse

from quality import jobs
from quality.models import AgreementReport, JudgeAnnotation
from quality.report_charts import alpha_chart, confusion_chart, expert_chart
from tests.quality.test_report import scene  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db


@pytest.fixture
def done(scene):  # noqa: F811
    project, _, items = scene
    for item in items:
        JudgeAnnotation.objects.create(project=project, item=item, judge="rm-v1",
                                       answer={"topic": "a"})
    report = AgreementReport.objects.create(project=project)
    jobs.build_agreement_report(report.pk)
    report.refresh_from_db()
    assert report.status == "done"
    return report


def test_a_done_report_renders_its_charts(client, staff, done):
    client.force_login(staff)
    response = client.get(reverse("admin:quality_agreementreport_change", args=[done.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    start = page.index('class="agreement-report"')
    report = page[start:page.index("</table>", page.index("Pairwise Cohen", start))]
    assert report.count("<svg") == 3  # alpha, experts, one label question's confusion
    assert "Krippendorff's alpha per question" in report
    assert "Confusion against consensus for topic" in report
    assert "12 items, 36 human answers" in report
    assert "rm-v1" in report and "Most disputed items" in report and "item-11" in report
    assert "<script" not in report


def test_a_pending_report_shows_no_charts(client, staff, scene):  # noqa: F811
    project, _, _ = scene
    report = AgreementReport.objects.create(project=project)
    client.force_login(staff)
    response = client.get(reverse("admin:quality_agreementreport_change", args=[report.pk]))
    assert response.status_code == 200
    assert 'class="agreement-report"' not in response.content.decode()


def test_run_report_requests_new_reports(client, staff, done, django_capture_on_commit_callbacks):
    client.force_login(staff)
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(reverse("admin:quality_agreementreport_changelist"),
                               {"action": "run_report", "_selected_action": [done.pk]})
    assert response.status_code == 302
    assert AgreementReport.objects.filter(project=done.project, status="pending").count() == 1
    assert len(callbacks) == 1


def test_adding_a_report_schedules_it(client, staff, done, django_capture_on_commit_callbacks):
    client.force_login(staff)
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(reverse("admin:quality_agreementreport_add"),
                               {"project": done.project.pk})
    assert response.status_code == 302
    report = AgreementReport.objects.latest("id")
    assert (report.status, report.requested_by) == ("pending", staff)
    assert len(callbacks) == 1


def test_chart_geometry():
    questions = [{"question": "q", "level": "nominal", "items": 3, "alpha": -0.1,
                  "alpha_ci": [-0.3, 0.1]},
                 {"question": "t", "level": "none", "items": 3, "alpha": None,
                  "alpha_ci": None}]
    chart = alpha_chart(questions)
    assert [t["label"] for t in chart["ticks"]][:2] == ["-0.4", "-0.2"]
    (row,) = chart["rows"]
    assert row["bar_x"] < chart["zero"] and row["ci_lo"] < row["bar_x"]
    assert alpha_chart(questions[1:]) is None and expert_chart([]) is None
    heat = confusion_chart({"question": "q", "labels": ["a", "b"], "matrix": [[3, 1], [0, 0]]})
    assert [c["count"] for c in heat["cells"]] == [3, 1, 0, 0]
    assert heat["cells"][0]["ink"] == "#fff" and heat["cells"][1]["ink"] == "#222"
