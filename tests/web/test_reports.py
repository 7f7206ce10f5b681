"""Agreement reports in the workspace: the project's reports with their status, a new one
asked for as the API asks, a done report drawn as the admin draws it, a computing one that
reloads itself, a failed one that says why, and 404 for another organization."""

import pytest
from rest_framework.test import APIClient

from accounts.models import Membership
from quality import jobs
from quality.models import AgreementReport
from tests import factories
from tests.quality.test_report import scene  # noqa: F401  (fixture)
from tests.web.clients import signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def done(scene):  # noqa: F811
    project, _, _ = scene
    report = AgreementReport.objects.create(project=project)
    jobs.build_agreement_report(report.pk)
    report.refresh_from_db()
    assert report.status == "done"
    return report


@pytest.fixture
def qa(customer):
    return factories.member(factories.organization_of(customer), role=Membership.Role.QA_LEAD)


@pytest.fixture
def plain_member(customer):
    return factories.member(factories.organization_of(customer))


def test_the_project_lists_its_reports_with_their_status(done, qa):
    AgreementReport.objects.create(project=done.project, status="failed", error="Out of memory")
    response = signed_in(qa).get(f"/workspace/projects/{done.project.pk}/reports/")
    assert response.status_code == 200
    text = response.content.decode()
    assert [r.status for r in response.context["page_obj"].object_list] == ["failed", "done"]
    assert f'href="/workspace/reports/{done.pk}/"' in text
    assert "12 items, 36 answers" in text and "Out of memory" in text
    assert "Run a new report" in text


def test_a_new_report_is_asked_for_as_the_api_asks(done, plain_member,
                                                   django_capture_on_commit_callbacks):
    project = done.project
    with django_capture_on_commit_callbacks() as callbacks:
        response = signed_in(plain_member).post(f"/workspace/projects/{project.pk}/reports/run/")
    report = AgreementReport.objects.filter(project=project).first()
    assert response.status_code == 302
    assert response["Location"] == f"/workspace/reports/{report.pk}/"
    assert (report.status, report.requested_by) == ("pending", plain_member)
    assert len(callbacks) == 1
    api = APIClient()
    api.force_authenticate(plain_member)
    assert api.post(f"/api/v1/projects/{project.pk}/reports/").status_code == 202


def test_running_a_report_needs_a_post(done, qa):
    response = signed_in(qa).get(f"/workspace/projects/{done.project.pk}/reports/run/")
    assert response.status_code == 405
    assert AgreementReport.objects.count() == 1


def test_a_done_report_is_drawn_as_in_the_admin(done, plain_member):
    response = signed_in(plain_member).get(f"/workspace/reports/{done.pk}/")
    assert response.status_code == 200
    text = response.content.decode()
    start = text.index('class="agreement-report"')
    report = text[start:text.index("</table>", text.index("Pairwise Cohen", start))]
    assert report.count("<svg") == 3
    assert "Krippendorff's alpha per question" in report
    assert "Confusion against consensus for topic" in report
    assert "12 items, 36 human answers" in report and "item-11" in report
    assert "Gwet's AC" in report and "Brennan-Prediger" in report and "Ties drawn" in report
    assert 'http-equiv="refresh"' not in text


@pytest.mark.parametrize("status", ["pending", "running"])
def test_a_report_being_computed_reloads_itself(scene, qa, status):  # noqa: F811
    project, _, _ = scene
    report = AgreementReport.objects.create(project=project, status=status)
    response = signed_in(qa).get(f"/workspace/reports/{report.pk}/")
    text = response.content.decode()
    assert '<meta http-equiv="refresh" content="3">' in text
    assert "This page reloads every 3 seconds" in text
    assert 'class="agreement-report"' not in text


def test_a_failed_report_says_why(scene, qa):  # noqa: F811
    project, _, _ = scene
    report = AgreementReport.objects.create(project=project, status="failed",
                                            error="The worker ran out of memory.")
    text = signed_in(qa).get(f"/workspace/reports/{report.pk}/").content.decode()
    assert "could not be computed: The worker ran out of memory." in text
    assert 'http-equiv="refresh"' not in text


def test_another_organizations_reports_answer_404(done, other_customer, expert):
    project = done.project
    for outsider in (other_customer, expert):
        client = signed_in(outsider)
        assert client.get(f"/workspace/projects/{project.pk}/reports/").status_code == 404
        assert client.get(f"/workspace/reports/{done.pk}/").status_code == 404
        assert client.post(f"/workspace/projects/{project.pk}/reports/run/").status_code == 404
    assert AgreementReport.objects.count() == 1


def test_the_report_pages_query_count_is_bounded(done, qa, django_assert_max_num_queries):
    for status in ("pending", "running", "failed"):
        AgreementReport.objects.create(project=done.project, status=status, requested_by=qa)
    client = signed_in(qa)
    with django_assert_max_num_queries(8):
        response = client.get(f"/workspace/projects/{done.project.pk}/reports/")
    assert len(response.context["page_obj"].object_list) == 4
    with django_assert_max_num_queries(6):
        assert client.get(f"/workspace/reports/{done.pk}/").status_code == 200
