"""Calibration in a real browser: a QA lead switches it on from the keyboard, reads what it
does, and switches it off; an expert then sees the project's time and hourly pay on the
market and on the work page."""

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from accounts.models import Membership
from tasks.models import Project
from tasks.routing import next_assignment
from tests import factories


@pytest.mark.django_db(transaction=True)
def test_a_qa_lead_switches_calibration_on_and_off_and_an_expert_sees_the_pay(
        page, login, screenshot, taxonomy):
    owner = factories.customer(organization="Heartwise Labs")
    project = factories.project(owner, items=2, gold=20, price_per_item=Decimal("3.00"))
    Project.objects.filter(pk=project.pk).update(estimated_seconds=240)
    factories.fund(factories.organization_of(owner))
    qa_lead = factories.member(factories.organization_of(owner), role=Membership.Role.QA_LEAD)

    login(qa_lead)
    page.goto(f"/workspace/projects/{project.pk}/experts/")
    page.get_by_role("link", name="Calibration").click()
    expect(page.locator("#content")).to_contain_text("The project has 20 gold items.")
    page.fill("#id_gold_first", "3")
    page.fill("#id_min_gold", "10")
    page.press("#id_min_gold", "Enter")
    expect(page.locator(".field-min_gold .errorlist")).to_contain_text(
        "judge on at least 11 gold answers")
    screenshot("calibration-refused")
    page.fill("#id_min_gold", "20")
    page.press("#id_min_gold", "Enter")
    expect(page.locator(".messagelist")).to_contain_text("Calibration is on")
    expect(page.locator(".calibration-what")).to_contain_text("first answers 3 gold items")
    screenshot("calibration-on")
    page.get_by_role("button", name="Switch calibration off").click()
    expect(page.locator(".messagelist")).to_contain_text("Calibration is off")
    project.refresh_from_db()
    assert project.gold_first == 0

    page.context.clear_cookies()
    expert = factories.expert()
    login(expert)
    page.goto("/workspace/market/")
    expect(page.locator(f"#project-{project.pk}")).to_contain_text(
        "About 4 min per item · about 36.00 USD/h after fees")
    screenshot("market-estimate")
    lease = next_assignment(expert, project).assignment
    page.goto(f"/workspace/work/{lease.pk}/")
    expect(page.locator("#work-estimate")).to_have_text(
        "About 4 min per item · about 36.00 USD/h after fees (customer's estimate)")
    screenshot("work-estimate")
