"""Written answers in a real browser: a QA lead scores an answer of an SFT project on its
rubric while rejecting it, then runs the project's report and reads the written-answer
tables where a text-only project used to show a chart of n/a."""

import pytest
from playwright.sync_api import expect

from accounts.models import Membership
from quality import jobs
from quality.models import AgreementReport, Review
from tasks.export import expert_pseudonym
from tasks.models import Annotation
from tests import factories
from tests.quality.test_written import sft  # noqa: F401  (fixture)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_qa_lead_scores_on_the_rubric_and_reads_the_written_answers(
        page, login, screenshot, sft):  # noqa: F811
    project, experts = sft
    qa = factories.member(project.organization, role=Membership.Role.QA_LEAD,
                          username="sft-qa")
    surgery = Annotation.objects.get(project=project, expert=experts["cat"],
                                     item__external_id="p0")

    login(qa)
    page.goto(f"/workspace/review/{surgery.pk}/")
    expect(page.locator(".review-reject .review-rubric")).to_contain_text("Medically right.")
    page.fill("#id_reject-rubric_accuracy", "1")
    page.fill("#id_reject-rubric_clarity", "2")
    page.fill("#id_reject-comment", "Surgery is not indicated for this complaint.")
    screenshot("review-rubric")
    page.locator(".review-reject input[type=submit]").click()
    expect(page.locator(".messagelist")).to_contain_text("Rejected: p0")
    assert Review.objects.exclude(verdict="").get(annotation=surgery).rubric == {
        "accuracy": 1, "clarity": 2}

    page.goto(f"/workspace/projects/{project.pk}/reports/")
    page.get_by_role("button", name="Run a new report").click()
    jobs.build_agreement_report(AgreementReport.objects.get(project=project).pk)
    table = page.locator(".written-question[data-question=response] table.written-experts")
    expect(table.locator("tbody tr:not(.written-total)")).to_have_count(3)
    expect(table.locator("thead")).to_contain_text("accuracy")
    expect(table.locator("thead")).to_contain_text("clarity")
    # Cat's only review is the rejection just given, scored 1 and 2.
    cat = table.locator("tbody tr", has_text=expert_pseudonym(project.pk, experts["cat"].pk))
    expect(cat).to_contain_text("100%")
    expect(cat).to_contain_text("1.00")
    expect(cat).to_contain_text("2.00")
    expect(table.locator("tr.written-total")).to_contain_text("All experts")
    expect(page.locator(".written-consensus")).to_contain_text("with several answers")
    expect(page.locator(".written-least-agreeing tbody tr").first).to_contain_text("p")
    # No alpha or expert chart of n/a for a project of written answers only.
    expect(page.locator(".agreement-report svg")).to_have_count(0)
    screenshot("report-written")
