"""Agreement reports and judge answers over HTTP: who may ask, 202 then done, and row errors."""

import pytest
from django_q.conf import Conf

from accounts.models import Membership
from quality import jobs
from quality.models import AgreementReport, JudgeAnnotation
from tests import factories
from tests.conftest import client_for
from tests.quality.test_report import QUESTIONS, answer, make_project

pytestmark = pytest.mark.django_db


@pytest.fixture
def project(customer):
    project = make_project(customer, QUESTIONS)
    experts = [factories.expert() for _ in range(2)]
    for n in range(3):
        item = project.items.create(external_id=f"item-{n}", data={"text": f"Case {n}"},
                                    overlap=3)
        for expert in experts:
            answer(project, item, expert, {"topic": "a", "quality": 3 + n % 2})
    return project


def test_a_member_requests_a_report_and_reads_it_once_done(
        customer, project, monkeypatch, django_capture_on_commit_callbacks):
    monkeypatch.setattr(Conf, "SYNC", True)  # django-q runs the job in-process
    api = client_for(customer)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = api.post(f"/api/v1/projects/{project.pk}/reports/")
    assert len(callbacks) == 1
    assert response.status_code == 202, response.content
    assert response.json()["status"] == "pending"
    assert response["Location"] == f"/api/v1/reports/{response.json()['id']}/"
    body = api.get(response["Location"]).json()
    assert body["status"] == "done", body
    assert body["project"] == project.pk
    assert [q["question"] for q in body["questions"]] == ["topic", "quality", "note"]
    assert body["questions"][0]["annotations"] == 6
    for key in ("experts", "disputed_items", "pairwise_kappa", "judges", "confusion"):
        assert key in body
    assert len(body["experts"]) == 2
    # Every figure the report stores reaches the API, none renamed or left out.
    stored = AgreementReport.objects.get(pk=body["id"]).result
    for key in ("questions", "experts", "pairwise_kappa", "disputed_items", "tie_seed"):
        assert body[key] == stored[key], key
    assert body["tie_seed"] == project.pk


def test_a_pending_report_has_no_figures(customer, project):
    report = AgreementReport.objects.create(project=project, requested_by=customer)
    body = client_for(customer).get(f"/api/v1/reports/{report.pk}/").json()
    assert body["status"] == "pending"
    assert "questions" not in body and "experts" not in body


def test_reports_are_listed_newest_first(customer, project):
    first = AgreementReport.objects.create(project=project)
    second = AgreementReport.objects.create(project=project)
    body = client_for(customer).get(f"/api/v1/projects/{project.pk}/reports/").json()
    assert body["count"] == 2
    assert [r["id"] for r in body["results"]] == [second.pk, first.pk]
    assert "questions" not in body["results"][0]


def test_qa_leads_and_operators_may_ask(customer, staff, project):
    qa = factories.member(factories.organization_of(customer), role=Membership.Role.QA_LEAD)
    for user in (qa, staff):
        response = client_for(user).post(f"/api/v1/projects/{project.pk}/reports/")
        assert response.status_code == 202


def test_other_organizations_and_experts_get_404(other_customer, expert, project, api):
    report = AgreementReport.objects.create(project=project)
    for user in (other_customer, expert):
        client = client_for(user)
        assert client.post(f"/api/v1/projects/{project.pk}/reports/").status_code == 404
        assert client.get(f"/api/v1/projects/{project.pk}/reports/").status_code == 404
        assert client.get(f"/api/v1/reports/{report.pk}/").status_code == 404
    assert api.get(f"/api/v1/reports/{report.pk}/").status_code == 401
    assert AgreementReport.objects.count() == 1


def test_the_job_records_a_failure_and_leaves_done_reports_alone(project, monkeypatch):
    report = AgreementReport.objects.create(project=project)

    def broken(project):
        raise ValueError("an answer to 'topic' is not one of ['a', 'b', 'c']")

    monkeypatch.setattr("quality.reporting.build_report", broken)
    jobs.build_agreement_report(report.pk)
    report.refresh_from_db()
    assert report.status == "failed"
    assert "not one of" in report.error and report.finished_at
    monkeypatch.undo()
    jobs.build_agreement_report(report.pk)
    report.refresh_from_db()
    assert (report.status, report.error) == ("done", "")
    finished = report.finished_at
    jobs.build_agreement_report(report.pk)
    report.refresh_from_db()
    assert report.finished_at == finished
    jobs.build_agreement_report(report.pk + 1000)  # deleted meanwhile: nothing to do


def test_a_report_whose_job_gives_up_fails_with_the_reason_unless_it_is_done(project):
    running = AgreementReport.objects.create(project=project, status="running")
    done = AgreementReport.objects.create(project=project, status="done", result={})
    for report in (running, done):
        jobs.give_up_report(report.pk, error="The worker w:1 died during attempt 3.")
        report.refresh_from_db()
    assert (running.status, running.error) == ("failed", "The worker w:1 died during attempt 3.")
    assert running.finished_at is not None
    assert (done.status, done.error) == ("done", "")
    body = client_for(project.created_by).get(f"/api/v1/reports/{running.pk}/").json()
    assert (body["status"], body["error"]) == ("failed", running.error)


# Judges.

def judge_url(project):
    return f"/api/v1/projects/{project.pk}/judge-annotations/"


def test_judge_answers_are_upserted_by_item_and_judge(customer, project):
    api = client_for(customer)
    rows = [{"external_id": "item-0", "judge": "rm-v1", "answer": {"topic": "b"}},
            {"external_id": "item-1", "judge": "rm-v1", "answer": {"topic": "a",
                                                                   "quality": 4}}]
    response = api.post(judge_url(project), rows, format="json")
    assert response.status_code == 201, response.content
    assert response.json() == {"created": 2, "updated": 0}
    rows[0]["answer"] = {"topic": "c"}
    rows[1]["judge"] = "gpt-judge"
    assert api.post(judge_url(project), rows, format="json").json() == {"created": 1,
                                                                          "updated": 1}
    stored = {(j.item.external_id, j.judge): j.answer for j in JudgeAnnotation.objects.all()}
    assert stored[("item-0", "rm-v1")] == {"topic": "c"}
    assert len(stored) == 3
    # Judges are not annotations: overlap and human counts are untouched.
    assert project.items.get(external_id="item-0").annotations.count() == 2


def test_bad_judge_rows_are_reported_and_nothing_is_written(customer, project):
    rows = [{"external_id": "item-0", "judge": "rm", "answer": {"topic": "a"}},
            {"external_id": "nope", "judge": "rm", "answer": {"topic": "a"}},
            {"external_id": "item-1", "judge": "rm", "answer": {"topic": "zzz"}},
            {"external_id": "item-0", "judge": "rm", "answer": {"topic": "b"}},
            {"external_id": "item-2", "answer": {"topic": "a"}},
            {"external_id": "item-2", "judge": "rm", "answer": {"colour": "red"}}]
    response = client_for(customer).post(judge_url(project), rows, format="json")
    assert response.status_code == 400
    errors = [(e["row"], e["field"]) for e in response.json()["errors"]]
    assert errors == [(2, "external_id"), (3, "answer.topic"), (4, "external_id"),
                      (5, "judge"), (6, "answer.colour")]
    assert not JudgeAnnotation.objects.exists()


def test_judge_body_must_be_a_list(customer, project):
    response = client_for(customer).post(judge_url(project), {"judge": "x"}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["row"] == 0


def test_judges_of_other_organizations_and_experts_get_404(other_customer, expert, project):
    rows = [{"external_id": "item-0", "judge": "rm", "answer": {"topic": "a"}}]
    for user in (other_customer, expert):
        response = client_for(user).post(judge_url(project), rows, format="json")
        assert response.status_code == 404
    assert not JudgeAnnotation.objects.exists()
