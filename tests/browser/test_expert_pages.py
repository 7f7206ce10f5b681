"""An expert's pages around the work, in a real browser: the history with a rejection and its
reason, the market with an application, and earnings with a payout request."""

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from accounts.models import Membership
from marketplace import services as money_services
from quality import rules
from tasks.models import Project
from tests import factories

REASON = "The chosen answer misses the contraindication in the prompt."


@pytest.fixture
def reviewed_work():
    """A paid preference project where a QA lead accepted, rejected and fixed an expert's
    answers, and a rule flagged the expert and was undone."""
    owner = factories.customer(organization="Acme Cardio")
    organization = factories.organization_of(owner)
    factories.fund(organization, "200.00")
    qa = factories.member(organization, role=Membership.Role.QA_LEAD)
    project = factories.project(owner, items=4, price_per_item=Decimal("6.00"),
                                review_rate=Decimal("1"))
    expert = factories.expert(username="dr-browser")
    accepted, rejected, fixed = (factories.answered(expert, project, {"better": "A"})
                                 for _ in range(3))
    factories.reviewed(accepted, qa, "accept")
    factories.reviewed(rejected, qa, "reject", comment=REASON)
    factories.reviewed(fixed, qa, "fix", answer={"better": "B", "rewrite": "Stop the drug."},
                       comment="B names the interaction.")
    rule = rules.create_rule(user=qa, project=project, metric="rejection_rate",
                                        comparator="gt", value=Decimal("0.2"), action="flag",
                                        min_evidence=1)
    rules.evaluate_rules(project, expert.pk)
    rules.reverse_action(action_id=rule.actions.get().pk, user=qa,
                                    note="Discussed with the expert.")
    return {"owner": owner, "expert": expert, "project": project, "fixed": fixed}


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_an_expert_sees_a_rejection_with_its_reason(page, login, screenshot, reviewed_work):
    login(reviewed_work["expert"])
    page.goto("/workspace/")
    page.get_by_role("link", name="History").first.click()
    rejected = page.locator("tr.history-rejected")
    expect(rejected).to_contain_text("Rejected")
    expect(rejected).to_contain_text(REASON)
    expect(rejected).to_contain_text("by QA lead")
    expect(page.locator("tr.history-approved").first).to_contain_text("4.80 USD")
    screenshot("expert-history")

    page.get_by_role("link", name=reviewed_work["fixed"].item.external_id).click()
    expect(page.locator(".answers .fix")).to_contain_text("B (second completion)")
    expect(page.locator(".answers")).to_contain_text("A (first completion)")
    screenshot("expert-history-answer")

    page.get_by_role("link", name="Back to your history").click()
    page.get_by_role("link", name="Quality actions on your work").click()
    expect(page.locator("#content")).to_contain_text("Undone")
    expect(page.locator("#content")).to_contain_text("Discussed with the expert.")
    screenshot("expert-quality-actions")


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_an_expert_applies_to_a_project_and_sees_it_pending(page, login, screenshot):
    owner = factories.customer(organization="Heart Labs")
    project = factories.project(owner, items=2, price_per_item=Decimal("8.00"),
                                instructions="Rank the completions by clinical accuracy; "
                                             "rewrite when none is safe.")
    expert = factories.expert()
    private = factories.project(owner, items=1, visibility=Project.Visibility.PRIVATE)
    money_services.invite_expert(project=private, expert=expert, by=owner,
                                 message="Your echo reviews were the best we had.")
    login(expert)
    page.goto("/workspace/market/")
    expect(page.locator(".market-invitations")).to_contain_text("the best we had")
    card = page.locator(f"#project-{project.pk}")
    expect(card).to_contain_text("6.40 USD")
    card.get_by_text("Apply to this project").click()
    card.get_by_label("Message").fill("Board-certified cardiologist, 12 years.")
    screenshot("expert-market")
    card.get_by_role("button", name="Apply").click()
    expect(page.locator(".messagelist")).to_contain_text("You applied to")
    expect(page.locator(f"#project-{project.pk}")).to_contain_text("Application pending")
    expect(page.locator(".market-applications")).to_contain_text("Pending")

    page.locator(".market-invitations").get_by_role("button", name="Accept").click()
    expect(page.locator(".messagelist")).to_contain_text(f"You joined {private.name}.")
    expect(page.locator(f"#project-{private.pk}")).to_contain_text("You are on this project")
    screenshot("expert-market-joined")


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_an_expert_requests_a_payout_and_sees_the_balance_drop(page, login, screenshot,
                                                               reviewed_work):
    login(reviewed_work["expert"])
    page.goto("/workspace/earnings/")
    expect(page.locator("#balance")).to_have_text("9.60 USD")
    page.get_by_label("Amount (USD)").fill("20")
    page.get_by_role("button", name="Request payout").click()
    expect(page.locator(".errornote, .errorlist").first).to_be_visible()
    expect(page.locator(".errorlist")).to_contain_text("Your balance is 9.60 USD")
    screenshot("expert-earnings-refused")
    page.get_by_label("Amount (USD)").fill("5.00")
    page.get_by_role("button", name="Request payout").click()
    expect(page.locator(".messagelist")).to_contain_text("of 5.00 USD requested")
    expect(page.locator("#balance")).to_have_text("4.60 USD")
    expect(page.locator(".earnings-payouts")).to_contain_text("Requested")
    screenshot("expert-earnings")
