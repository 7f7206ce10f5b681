"""The expert's history pages: review outcomes with their reasons and the reviewer's role,
pay, one answer beside the reviewer's fix, quality actions, and nothing of gold or of other
experts."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import Membership
from config.money import after_fee
from marketplace import hourly
from marketplace.models import TimeEntry
from quality import rules
from tasks.models import Assignment, Item
from tests import factories
from tests.marketplace.conftest import hourly_worked
from tests.web.clients import signed_in

pytestmark = pytest.mark.django_db

REASON = "The second answer cites a withdrawn guideline."


@pytest.fixture
def work(customer):
    """A QA lead, a paid project and an expert with one accepted, one rejected and one
    fixed answer (the price is 4.00, so an approval pays 3.20 after the 20% fee)."""
    organization = factories.organization_of(customer)
    factories.fund(organization, "100.00")
    qa = factories.member(organization, role=Membership.Role.QA_LEAD, username="qa-anna")
    project = factories.project(customer, items=4, price_per_item=Decimal("4.00"),
                                currency="USD", review_rate=Decimal("1"))
    expert = factories.expert(username="dr-history")
    accepted, rejected, fixed = (factories.answered(expert, project) for _ in range(3))
    factories.reviewed(accepted, qa, "accept")
    factories.reviewed(rejected, qa, "reject", comment=REASON)
    factories.reviewed(fixed, qa, "fix", answer={"better": "B", "rewrite": "Fixed rewrite."},
                       comment="B is safer.")
    return {"expert": expert, "qa": qa, "project": project, "accepted": accepted,
            "rejected": rejected, "fixed": fixed}


def test_the_history_shows_each_outcome_with_its_reason_role_and_pay(work):
    response = signed_in(work["expert"]).get("/workspace/history/")
    assert response.status_code == 200
    text = response.content.decode()
    assert REASON in text
    assert "Rejected" in text and "Accepted" in text and "Fixed by the reviewer" in text
    assert "by QA lead" in text
    assert "qa-anna" not in text  # the reviewer is named by role, not by name
    assert text.count("3.20 USD") == 2  # the accepted and the fixed answer; rejected pays 0
    assert [line["outcome"].code for line in response.context["lines"]] == [
        "fixed", "rejected", "accepted"]  # newest first


def test_the_history_filters_by_project_and_status(work, customer):
    other = factories.project(customer, items=1, price_per_item=Decimal("4.00"))
    factories.answered(work["expert"], other)
    client = signed_in(work["expert"])
    rows = client.get("/workspace/history/", {"status": "rejected"}).context["lines"]
    assert [line["assignment"].pk for line in rows] == [work["rejected"].assignment_id]
    rows = client.get("/workspace/history/", {"project": other.pk}).context["lines"]
    assert [line["assignment"].project_id for line in rows] == [other.pk]


def test_a_bad_filter_is_named_and_ignored(work):
    response = signed_in(work["expert"]).get("/workspace/history/", {"status": "bogus"})
    assert response.status_code == 200
    assert "Status: Select a valid choice" in response.content.decode()
    assert len(response.context["lines"]) == 3


def test_a_fixed_answer_is_shown_beside_the_reviewers_fix(work):
    assignment = work["fixed"].assignment_id
    response = signed_in(work["expert"]).get(f"/workspace/history/{assignment}/")
    assert response.status_code == 200
    text = response.content.decode()
    assert "The reviewer's fix" in text
    assert "B (second completion)" in text and "A (first completion)" in text
    assert "Fixed rewrite." in text and "B is safer." in text
    assert "Paid 3.20 USD" in text


def test_another_experts_assignment_answers_404(work):
    other = factories.expert()
    response = signed_in(other).get(f"/workspace/history/{work['rejected'].assignment_id}/")
    assert response.status_code == 404


def test_no_gold_and_no_other_experts_answer_reach_the_expert(customer):
    factories.fund(factories.organization_of(customer))
    project = factories.project(customer, items=1, gold=1, price_per_item=Decimal("1.00"),
                                gold_rate=Decimal("1"), overlap=2, max_overlap=2)
    Item.objects.filter(project=project, is_gold=True).update(
        external_id="q-7", gold={"better": "B"})
    first, second = factories.expert(), factories.expert()
    factories.answered(first, project, {"better": "A", "rewrite": "Other expert's words."})
    mine = factories.answered(second, project, {"better": "A"})
    assert Assignment.objects.filter(expert=second, is_gold=True).exists()
    client = signed_in(second)
    for url in ("/workspace/history/", f"/workspace/history/{mine.assignment_id}/"):
        text = client.get(url).content.decode().lower()
        assert "gold" not in text
        assert "other expert" not in text
        assert "second completion" not in text  # the gold answer, B


def test_which_model_wrote_each_completion_stays_hidden(customer):
    fields = [{"name": "prompt", "type": "text"}, {"name": "completions", "type": "text_list"},
              {"name": "models", "type": "text_list"}]
    project = factories.project(customer, fields=fields, activate=False, questions=[
        {"name": "better", "kind": "pairwise", "field": "completions", "models": "models"}])
    factories.add_items(project, [{"prompt": "p", "completions": ["first", "second"],
                                   "models": ["model-north", "model-south"]}])
    mine = factories.answered(factories.expert(), project, {"better": "A"})
    text = signed_in(mine.expert).get(f"/workspace/history/{mine.assignment_id}/").content
    assert b"second" in text
    assert b"model-north" not in text


def test_quality_actions_show_the_reason_and_the_undo(work):
    rule = rules.create_rule(
        user=work["qa"], project=work["project"], metric="rejection_rate", comparator="gt",
        value=Decimal("0.1"), action="flag", min_evidence=1)
    rules.evaluate_rules(work["project"], work["expert"].pk)
    action = rule.actions.get()
    rules.reverse_action(action_id=action.pk, user=work["qa"],
                                    note="One rejection is not a pattern.")
    response = signed_in(work["expert"]).get("/workspace/history/actions/")
    assert response.status_code == 200
    text = response.content.decode()
    assert action.reason in text
    assert "Undone" in text and "One rejection is not a pattern." in text
    assert signed_in(factories.expert()).get(
        "/workspace/history/actions/").context["page_obj"].paginator.count == 0


def test_history_pages_are_for_experts(customer):
    for url in ("/workspace/history/", "/workspace/history/actions/"):
        assert signed_in(customer).get(url).status_code == 403


def test_query_counts_do_not_grow_with_rows(work, customer, django_assert_max_num_queries):
    more = factories.project(customer, items=6, price_per_item=Decimal("2.00"),
                             review_rate=Decimal("1"))
    for _ in range(6):
        annotation = factories.answered(work["expert"], more)
        factories.reviewed(annotation, work["qa"], "reject", comment="Not quite.")
    for threshold in ("0.1", "0.2", "0.3"):
        rules.create_rule(user=work["qa"], project=more, metric="rejection_rate",
                                     comparator="gt", value=Decimal(threshold), action="flag",
                                     min_evidence=1)
    rules.evaluate_rules(more, work["expert"].pk)
    client = signed_in(work["expert"])
    with django_assert_max_num_queries(13):  # one of them reads hourly time paid weekly
        response = client.get("/workspace/history/")
    assert len(response.context["lines"]) == 9
    with django_assert_max_num_queries(12):
        client.get(f"/workspace/history/{work['fixed'].assignment_id}/")
    with django_assert_max_num_queries(8):  # one of them reads the actions' appeals
        response = client.get("/workspace/history/actions/")
    assert len(response.context["page_obj"]) == 3


def test_hourly_work_reads_as_paid_with_the_week_not_as_unpaid(customer):
    """Hourly time is paid by the weekly payment, rejected or not: the history says so
    until it is paid, then shows what it paid."""
    project, expert = hourly_worked(customer, factories.organization_of(customer))
    client = signed_in(expert)
    page = client.get("/workspace/history/").content.decode()
    assert "with the week's time" in page
    assert "unpaid project" not in page and "not paid" not in page
    rejected = Assignment.objects.get(project=project, status="rejected")
    detail = client.get(f"/workspace/history/{rejected.pk}/").content.decode()
    assert "paid with the weekly payment of its week, rejected or not" in detail
    assert "Rejected work is not paid" not in detail

    hourly.pay_weekly(timezone.now() + timedelta(days=7))
    entry = TimeEntry.objects.get(assignment=rejected)
    detail = client.get(f"/workspace/history/{rejected.pk}/").content.decode()
    assert f"Paid {after_fee(entry.amount)} USD (after the platform fee)" in detail
