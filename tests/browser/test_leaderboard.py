"""A QA lead reads the model leaderboard of a preference project whose items name the models
that wrote their completions, in a real browser."""

import pytest
from playwright.sync_api import expect

from accounts.models import Membership
from quality import reporting
from quality.models import AgreementReport
from tests import factories
from tests.quality.test_leaderboard_report import preference  # noqa: F401  (fixture)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_qa_lead_reads_the_model_leaderboard(page, login, screenshot, customer,
                                               preference):  # noqa: F811
    project, _ = preference
    qa = factories.member(factories.organization_of(customer), role=Membership.Role.QA_LEAD)
    login(qa)
    page.goto(f"/workspace/projects/{project.pk}/reports/")
    page.get_by_role("button", name="Run a new report").click()
    reporting.compute(AgreementReport.objects.get(project=project).pk)

    board = page.locator(".model-leaderboard section[data-question='better']")
    expect(board).to_contain_text("12 comparisons on 4 items")
    rows = board.locator("tbody tr")
    expect(rows).to_have_count(3)
    assert [rows.nth(n).get_attribute("data-model") for n in range(3)] == ["mid", "big",
                                                                           "small"]
    expect(rows.nth(2)).to_contain_text("28%")  # small: 2 wins and a tie in 9
    expect(board.locator("svg .leaderboard-interval")).to_have_count(3)
    expect(page.locator(".model-leaderboard section[data-question='order']")).to_contain_text(
        "No comparisons between two different models yet.")
    page.locator(".model-leaderboard").scroll_into_view_if_needed()
    screenshot("report-leaderboard")
