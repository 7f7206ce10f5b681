"""An appeal in a real browser: the expert appeals a rejection from their history, a QA lead
other than the first upholds it on the Appeals desk, and the expert reads "Upheld" and the
pay."""

import pytest
from playwright.sync_api import expect

from quality.models import Appeal
from tests import factories
from tests.quality.appeal_setup import organization_with_leads, rejected

CASE = "Side A follows the dosing guideline the rejection cites."


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_an_expert_appeals_and_a_qa_lead_upholds_it(page, login, screenshot, customer):
    setting = organization_with_leads(customer)
    expert = factories.expert(username="dr-appeal")
    annotation = rejected(setting.project, expert, setting.qa_lead)

    login(expert)
    page.goto("/workspace/history/")
    page.locator(".ws-history").get_by_role("link", name="Appeal").click()
    expect(page.locator("#appeal")).to_have_text("Appeal this rejection")
    page.fill("#id_reason", CASE)
    screenshot("appeal-expert-form")
    page.get_by_role("button", name="Appeal").click()
    expect(page.locator(".messagelist")).to_contain_text("Your appeal was filed")
    expect(page.locator(".appeal-status")).to_contain_text("Waiting for a decision")
    appeal = Appeal.objects.get(annotation=annotation)
    assert appeal.assignee == setting.owner

    login(setting.second_lead)
    page.goto("/workspace/")
    page.locator(".ws-menu").get_by_role("link", name="Appeals", exact=True).click()
    row = page.locator(f"#appeal-{appeal.pk}")
    expect(row).to_contain_text(CASE)
    screenshot("appeal-desk")
    row.get_by_label("Reason for the expert").fill("Agreed: A follows the guideline.")
    row.get_by_role("button", name="Uphold").click()
    expect(page.locator(".messagelist")).to_contain_text(f"Appeal {appeal.pk} upheld.")
    expect(page.locator(f"#appeal-{appeal.pk}")).to_contain_text("Paid 3.20 USD")

    login(expert)
    page.goto("/workspace/history/appeals/")
    status = page.locator(".appeal-status")
    expect(status).to_contain_text("Upheld")
    expect(status).to_contain_text("by QA lead")
    expect(status).to_contain_text("Paid 3.20 USD")
    expect(page.locator("#content")).not_to_contain_text(setting.second_lead.username)
    screenshot("appeal-expert-upheld")
