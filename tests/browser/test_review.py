"""The QA lead's desk in a real browser: the queue, one answer rejected with a reason (after
being told a reason is needed) and another fixed, the expert reading the rejection in their
history; then a report run and followed until its charts appear, and the project's experts.
"""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from accounts.models import Membership
from quality import jobs, rules
from quality.models import AgreementReport, QualityAction, Review
from tasks.models import Annotation
from tests import factories
from tests.quality.test_report import scene  # noqa: F401  (fixture)

REASON = "The chosen completion recommends a dose above the guideline's maximum."


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_qa_lead_rejects_one_answer_and_fixes_another(page, login, screenshot, customer):
    organization = factories.organization_of(customer)
    qa = factories.member(organization, role=Membership.Role.QA_LEAD, username="acme-qa")
    project = factories.project(customer, items=3, overlap=2, max_overlap=2,
                                review_rate=Decimal("1"))
    experts = [factories.expert(username=f"dr-browser-{n}") for n in range(2)]
    for expert in experts:
        for _ in range(2):
            factories.answered(expert, project, {"better": "A", "rewrite": "Take it daily."})

    login(qa)
    page.goto("/workspace/")
    page.locator(".ws-menu").get_by_role("link", name="Review", exact=True).click()
    expect(page.locator(".review-projects")).to_contain_text(project.name)
    screenshot("review-projects")
    page.get_by_role("link", name=project.name).click()
    expect(page.locator(".review-queue tbody tr")).to_have_count(4)
    screenshot("review-queue")

    page.get_by_role("link", name="Start with the first").click()
    expect(page.locator(".review-this")).to_be_visible()
    expect(page.locator(".review-other")).to_have_count(1)
    expect(page.locator(".review-item")).to_contain_text("Answer B")
    rejected = int(re.search(r"/review/(\d+)/", page.url).group(1))
    screenshot("review-annotation")

    page.locator(".review-reject input[type=submit]").click()
    expect(page.locator(".review-reject .errorlist")).to_contain_text(
        "A rejection needs a comment the expert can read.")
    screenshot("review-reject-without-reason")
    assert Review.objects.get(annotation=rejected).verdict == ""

    page.fill("#id_reject-comment", REASON)
    page.locator(".review-reject input[type=submit]").click()
    expect(page.locator(".messagelist")).to_contain_text("Rejected:")
    fixed = int(re.search(r"/review/(\d+)/", page.url).group(1))
    assert fixed != rejected
    item = Annotation.objects.get(pk=fixed).item_id
    page.check(f"input[name='fix-a-{item}-better'][value='B']")
    page.fill(f"#id_fix-a-{item}-rewrite", "Take it once a day with food.")
    page.fill("#id_fix-comment", "B follows the guideline.")
    screenshot("review-fix")
    page.get_by_role("button", name="Save the fix and approve").click()
    expect(page.locator(".messagelist")).to_contain_text("Fixed:")

    review = Review.objects.exclude(verdict="").get(annotation=rejected)
    assert (review.verdict, review.comment, review.reviewer) == ("reject", REASON, qa)
    review = Review.objects.exclude(verdict="").get(annotation=fixed)
    assert review.answer == {"better": "B", "rewrite": "Take it once a day with food."}

    expert = Annotation.objects.get(pk=rejected).expert
    login(expert)
    page.goto("/workspace/history/")
    expect(page.locator("#content")).to_contain_text(REASON)
    screenshot("review-expert-history")


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_qa_lead_runs_a_report_and_reads_the_experts(page, login, screenshot,
                                                      customer, scene):  # noqa: F811
    project, experts, _ = scene
    qa = factories.member(factories.organization_of(customer), role=Membership.Role.QA_LEAD)
    rule = rules.create_rule(user=qa, project=project, metric="agreement_with_consensus",
                                comparator="lt", value=Decimal("0.95"), action="flag",
                                min_evidence=1, name="Agreement below 95%")
    # The scene's answers were stored directly, so the rule's finding is recorded as a rule
    # records one.
    QualityAction.objects.create(rule=rule, project=project, expert=experts[2], action="flag",
                                 reason="Agreement with consensus 0.67 < 0.95 over the last "
                                        "20 answers (12 observations).", metric_value=0.67)

    login(qa)
    page.goto(f"/workspace/projects/{project.pk}/reports/")
    expect(page.locator("#content")).to_contain_text("No report yet")
    page.get_by_role("button", name="Run a new report").click()
    expect(page.locator("#report-computing")).to_contain_text("reloads every 3 seconds")
    screenshot("report-pending")
    jobs.build_agreement_report(AgreementReport.objects.get(project=project).pk)
    expect(page.locator(".agreement-report svg")).to_have_count(3)
    expect(page.locator(".agreement-report").first).to_contain_text("12 items, 36 human answers")
    screenshot("report-done")
    page.get_by_role("link", name="Agreement reports").first.click()
    expect(page.locator(".report-list")).to_contain_text("Done")
    screenshot("report-list")

    page.get_by_role("link", name="Experts", exact=True).click()
    expect(page.locator(".expert-figures tbody.expert-row")).to_have_count(4)
    expect(page.locator(".expert-action-list")).to_contain_text("Agreement below 95%")
    screenshot("experts")
    page.fill(".expert-undo input[name=note]", "Gold item was ambiguous.")
    page.get_by_role("button", name="Undo").click()
    expect(page.locator(".messagelist")).to_contain_text("The flag was withdrawn.")
    expect(page.locator(".expert-action-list")).to_contain_text("Gold item was ambiguous.")
    screenshot("experts-undone")
