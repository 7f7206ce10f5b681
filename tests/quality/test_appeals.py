"""Appeals: filed once within the window, assigned to another QA lead, decided with money and
rosters following, upheld by the deadline, and safe when two people act at once."""

import random
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from accounts.models import Expertise, Membership
from config.exceptions import Conflict
from marketplace.models import Transaction
from quality import appeals, history, jobs, reviews
from quality.models import Appeal, QualityAction, QualityRule, Review
from quality.rules import evaluate_rules, reverse_action
from tasks import services as task_services
from tasks.export import expert_pseudonym
from tasks.models import Annotation, Assignment, ProjectExpert, Webhook, WebhookDelivery
from tasks.routing import next_assignment
from tests import factories
from tests.concurrency import race
from tests.marketplace.conftest import (
    assert_books_balance,
    available,
    earned,
    fees,
    reserved,
)
from tests.quality.appeal_setup import (
    Appeals,
    appeal_of,
    organization_with_leads,
    rejected,
    removal,
    work,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def setting(customer) -> Appeals:
    return organization_with_leads(customer)


@pytest.fixture
def organization(setting):
    return setting.organization


@pytest.fixture
def qa_lead(setting):
    return setting.qa_lead


@pytest.fixture
def second_lead(setting):
    return setting.second_lead


@pytest.fixture
def project(setting):
    return setting.project


@pytest.fixture
def short(db) -> Appeals:
    """An organization whose funds cover one task at a time."""
    return organization_with_leads(factories.customer(), funds="4.00", items=2)


class TestFiling:
    def test_a_rejection_is_appealed_once_and_its_price_held(self, customer, project,
                                                             organization, expert, qa_lead):
        annotation = rejected(project, expert, qa_lead)
        before = available(organization)
        appeal = appeal_of(annotation, "  Side A cites the guideline.  ")
        assert (appeal.subject, appeal.status, appeal.reason) == (
            "rejection", "pending", "Side A cites the guideline.")
        assert appeal.first_decided_by == qa_lead and appeal.assignee == customer
        assert appeal.due_at - appeal.created_at == pytest.approx(timedelta(days=7),
                                                                  abs=timedelta(seconds=5))
        assert available(organization) == before - Decimal("4.00")
        assert reserved(organization) == Decimal("4.00")
        hold = Transaction.objects.get(idempotency_key=f"appeal:{appeal.pk}:hold")
        assert hold.assignment_id == annotation.assignment_id
        with pytest.raises(Conflict) as refused:
            appeal_of(annotation)
        assert refused.value.code == "already_appealed"
        assert Appeal.objects.count() == 1
        assert_books_balance()

    def test_only_own_rejected_work_within_the_window(self, project, expert, qa_lead,
                                                      settings):
        annotation = work(project, expert)
        with pytest.raises(Conflict) as refused:
            appeal_of(annotation)
        assert refused.value.code == "not_rejected"
        reviews.review_annotation(annotation_id=annotation.pk, reviewer=qa_lead,
                                  verdict="reject", comment="No.")
        with pytest.raises(Annotation.DoesNotExist):
            appeals.file_appeal(expert=factories.expert(), reason="Mine?",
                                annotation_id=annotation.pk)
        with pytest.raises(ValidationError) as blank:
            appeal_of(annotation, "   ")
        assert blank.value.message_dict == {"reason": ["Say why the decision should change."]}
        with pytest.raises(ValidationError):
            appeals.file_appeal(expert=expert, reason="Both", annotation_id=annotation.pk,
                                quality_action_id=1)
        Assignment.objects.filter(pk=annotation.assignment_id).update(
            finished_at=timezone.now() - timedelta(days=settings.APPEAL_WINDOW_DAYS, seconds=1))
        with pytest.raises(Conflict) as late:
            appeal_of(annotation)
        assert late.value.code == "too_late"
        assert not Appeal.objects.exists()

    def test_assignee_has_the_fewest_pending_appeals_and_is_not_the_first(
            self, customer, project, organization, qa_lead, second_lead):
        third = factories.member(organization, role=Membership.Role.QA_LEAD)
        experts = [factories.expert() for _ in range(3)]
        filed = [appeal_of(rejected(project, e, qa_lead)) for e in experts]
        # The owner (lowest id) first, then the other leads by fewest pending; never qa_lead.
        assert [a.assignee for a in filed] == [customer, second_lead, third]
        assert qa_lead not in {a.assignee for a in filed}

    def test_no_other_reviewer_leaves_it_unassigned(self, expert):
        owner = factories.customer()
        organization = factories.organization_of(owner)
        factories.fund(organization, "8.00")
        project = factories.project(owner, items=1, price_per_item=Decimal("4.00"),
                                    currency="USD")
        appeal = appeal_of(rejected(project, expert, owner))
        assert appeal.assignee is None and appeal.first_decided_by == owner

    def test_short_funds_hold_nothing_and_the_appeal_stands(self, short, expert):
        annotation = rejected(short.project, expert, short.qa_lead)
        next_assignment(factories.expert(), short.project, rng=random.Random(1))  # takes 4.00
        appeal = appeal_of(annotation)
        assert appeal.status == "pending"
        assert not Transaction.objects.filter(idempotency_key=f"appeal:{appeal.pk}:hold").exists()

    def test_webhook_deliveries_for_filing_and_decision(self, customer, project, expert,
                                                        qa_lead, second_lead):
        Webhook.objects.create(project=project, url="https://example.com/hook", secret="s",
                               events=["appeal.filed", "appeal.decided"])
        appeal = appeal_of(rejected(project, expert, qa_lead))
        appeals.decide_appeal(appeal_id=appeal.pk, by=second_lead, upheld=False,
                              reason="The guideline says B.")
        filed, decided = WebhookDelivery.objects.order_by("pk")
        assert (filed.event, decided.event) == ("appeal.filed", "appeal.decided")
        assert filed.payload["appeal"]["id"] == appeal.pk
        assert filed.payload["appeal"]["expert"] == expert_pseudonym(project.pk, expert.pk)
        assert "expert_id" not in filed.payload["appeal"]
        assert decided.payload["appeal"]["status"] == "denied"
        assert decided.payload["appeal"]["decision_reason"] == "The guideline says B."


class TestDeciding:
    def test_upheld_rejection_pays_the_price_less_the_fee(self, project, organization,
                                                          expert, qa_lead, second_lead):
        annotation = rejected(project, expert, qa_lead)
        appeal = appeal_of(annotation)
        spent_before = available(organization) + reserved(organization)
        decided = appeals.decide_appeal(appeal_id=appeal.pk, by=second_lead, upheld=True,
                                        reason="Side A is right.")
        assert (decided.status, decided.decided_by, decided.automatic) == (
            "upheld", second_lead, False)
        assert Assignment.objects.get(pk=annotation.assignment_id).status == "approved"
        assert earned(expert) == Decimal("3.20") and fees() == Decimal("0.80")
        assert available(organization) + reserved(organization) == spent_before - Decimal("4")
        assert decided.details["paid"] == [{"assignment": annotation.assignment_id,
                                            "amount": "3.20", "currency": "USD"}]
        last = Review.objects.filter(annotation=annotation).latest("decided_at")
        assert (last.verdict, last.reviewer) == ("accept", second_lead)
        with pytest.raises(Conflict) as again:
            appeals.decide_appeal(appeal_id=appeal.pk, by=second_lead, upheld=False,
                                  reason="Changed my mind.")
        assert again.value.code == "decided"
        assert_books_balance()

    def test_denied_rejection_releases_the_hold(self, project, organization, expert,
                                                qa_lead, second_lead):
        annotation = rejected(project, expert, qa_lead)
        before = available(organization)
        appeal = appeal_of(annotation)
        decided = appeals.decide_appeal(appeal_id=appeal.pk, by=second_lead, upheld=False,
                                        reason="B is right.")
        assert decided.status == "denied" and decided.decision_reason == "B is right."
        assert available(organization) == before and reserved(organization) == 0
        assert Transaction.objects.filter(idempotency_key=f"appeal:{appeal.pk}:release").exists()
        assert earned(expert) == 0
        assert Assignment.objects.get(pk=annotation.assignment_id).status == "rejected"
        assert_books_balance()

    def test_first_decider_is_refused_and_outsiders_too(self, project, expert, qa_lead,
                                                        second_lead, other_customer):
        appeal = appeal_of(rejected(project, expert, qa_lead))
        with pytest.raises(PermissionDenied, match="another QA lead decides this appeal"):
            appeals.decide_appeal(appeal_id=appeal.pk, by=qa_lead, upheld=True, reason="x")
        with pytest.raises(PermissionDenied):
            appeals.decide_appeal(appeal_id=appeal.pk, by=other_customer, upheld=True,
                                  reason="x")
        with pytest.raises(PermissionDenied):
            appeals.decide_appeal(appeal_id=appeal.pk, by=expert, upheld=True, reason="x")
        with pytest.raises(ValidationError) as blank:
            appeals.decide_appeal(appeal_id=appeal.pk, by=second_lead, upheld=True, reason=" ")
        assert list(blank.value.message_dict) == ["reason"]
        assert Appeal.objects.get(pk=appeal.pk).status == "pending"

    def test_nobody_is_assigned_or_decides_their_own_appeal(self, setting, expert):
        Membership.objects.create(user=expert, organization=setting.organization,
                                  role=Membership.Role.QA_LEAD)
        Membership.objects.filter(user=setting.owner).update(role=Membership.Role.MEMBER)
        Membership.objects.filter(user=setting.second_lead).delete()
        appeal = appeal_of(rejected(setting.project, expert, setting.qa_lead))
        assert appeal.assignee is None
        with pytest.raises(PermissionDenied, match="Nobody decides their own appeal"):
            appeals.decide_appeal(appeal_id=appeal.pk, by=expert, upheld=True, reason="Me.")

    def test_the_only_reviewer_may_decide_their_own_first_decision(self, expert):
        owner = factories.customer()
        factories.fund(factories.organization_of(owner), "8.00")
        project = factories.project(owner, items=1, price_per_item=Decimal("4.00"),
                                    currency="USD")
        appeal = appeal_of(rejected(project, expert, owner))
        assert appeals.decide_appeal(appeal_id=appeal.pk, by=owner, upheld=False,
                                     reason="Still B.").status == "denied"

    def test_upheld_with_short_funds_stays_pending(self, short, expert):
        annotation = rejected(short.project, expert, short.qa_lead)
        next_assignment(factories.expert(), short.project, rng=random.Random(1))
        appeal = appeal_of(annotation)
        with pytest.raises(Conflict) as refused:
            appeals.decide_appeal(appeal_id=appeal.pk, by=short.second_lead, upheld=True,
                                  reason="A is right.")
        assert refused.value.code == "insufficient_funds"
        assert Appeal.objects.get(pk=appeal.pk).status == "pending"
        assert Assignment.objects.get(pk=annotation.assignment_id).status == "rejected"

    def test_appeals_are_not_bound_by_the_overturn_window(self, project, expert, qa_lead,
                                                          second_lead):
        annotation = rejected(project, expert, qa_lead)
        appeal = appeal_of(annotation)
        Assignment.objects.filter(pk=annotation.assignment_id).update(
            finished_at=timezone.now() - timedelta(days=40))
        assert appeals.decide_appeal(appeal_id=appeal.pk, by=second_lead, upheld=True,
                                     reason="Right.").status == "upheld"

    def test_upheld_removal_restores_the_roster_and_pays_voided_work(
            self, project, organization, expert, second_lead):
        voided = [work(project, expert) for _ in range(2)]
        action = removal(project, expert)
        assert ProjectExpert.objects.get(project=project, expert=expert).access == "removed"
        appeal = appeals.file_appeal(expert=expert, reason="My skips were broken items.",
                                     quality_action_id=action.pk)
        assert appeal.first_decided_by is None and appeal.assignee is not None
        decided = appeals.decide_appeal(appeal_id=appeal.pk, by=second_lead, upheld=True,
                                        reason="The items were broken.")
        assert ProjectExpert.objects.get(project=project, expert=expert).access == "allowed"
        action.refresh_from_db()
        assert action.reversed_by == second_lead
        assert "stay voided" not in action.details["reversal"]
        assert set(Assignment.objects.filter(pk__in=[a.assignment_id for a in voided])
                   .values_list("status", flat=True)) == {"approved"}
        assert decided.details["overturned_assignments"] == [a.assignment_id for a in voided]
        assert earned(expert) == Decimal("6.40")
        assert len(decided.details["paid"]) == 2
        assert_books_balance()

    def test_upheld_suspension_is_lifted(self, customer, project, expert, second_lead):
        work(project, expert)
        QualityRule.objects.create(project=project, metric="skip_rate", comparator="gte",
                                   value="0", action="suspend_domain", min_evidence=1,
                                   suspend_days=7)
        action = evaluate_rules(project, expert.pk)[0]
        suspended = Expertise.objects.filter(expert__user=expert, suspended_until__isnull=False)
        assert suspended.exists()
        appeal = appeals.file_appeal(expert=expert, reason="Skips were fine.",
                                     quality_action_id=action.pk)
        appeals.decide_appeal(appeal_id=appeal.pk, by=second_lead, upheld=True, reason="Yes.")
        assert not suspended.exists()
        assert Appeal.objects.get(pk=appeal.pk).details["restored"] == "The suspension was lifted."

    def test_reversed_or_foreign_actions_cannot_be_appealed(self, project, expert, customer):
        work(project, expert)
        action = removal(project, expert)
        with pytest.raises(QualityAction.DoesNotExist):
            appeals.file_appeal(expert=factories.expert(), reason="x",
                                quality_action_id=action.pk)
        reverse_action(action_id=action.pk, user=customer)
        with pytest.raises(Conflict) as refused:
            appeals.file_appeal(expert=expert, reason="x", quality_action_id=action.pk)
        assert refused.value.code == "reversed"

    def test_hourly_rejection_upheld_says_the_time_was_paid(self, customer, organization,
                                                            expert, qa_lead, second_lead):
        factories.fund(organization, "500.00")
        project = factories.project(customer, items=2, contract="hourly",
                                    hourly_rate=Decimal("30.00"), currency="USD")
        annotation = rejected(project, expert, qa_lead)
        appeal = appeal_of(annotation)
        assert not Transaction.objects.filter(idempotency_key=f"appeal:{appeal.pk}:hold").exists()
        decided = appeals.decide_appeal(appeal_id=appeal.pk, by=second_lead, upheld=True,
                                        reason="Fine.")
        assert "Hourly contract" in decided.details["hourly"]
        assert Assignment.objects.get(pk=annotation.assignment_id).status == "approved"


class TestLapse:
    def test_lapsed_appeals_are_upheld_once(self, project, expert, qa_lead, second_lead):
        annotation = rejected(project, expert, qa_lead)
        appeal = appeal_of(annotation)
        later = factories.expert()
        waiting = appeal_of(rejected(project, later, qa_lead))
        Appeal.objects.filter(pk=appeal.pk).update(due_at=timezone.now() - timedelta(minutes=1))
        assert jobs.decide_lapsed_appeals() == 1
        assert jobs.decide_lapsed_appeals() == 0
        appeal.refresh_from_db()
        assert (appeal.status, appeal.automatic, appeal.decided_by) == ("upheld", True, None)
        assert appeal.decision_reason.startswith("No decision by ")
        assert appeal.decision_reason.endswith(" UTC: decided in the expert's favour.")
        assert earned(expert) == Decimal("3.20")
        assert history.record_of(annotation.assignment).outcome == history.Outcome(
            "accepted", "Accepted", history.DEADLINE,
            f"Rejection overturned on appeal. {appeal.decision_reason}", appeal.decided_at)
        assert Appeal.objects.get(pk=waiting.pk).status == "pending"
        assert ("quality.jobs.decide_lapsed_appeals", 15) in jobs.SCHEDULES

    def test_short_funds_leave_it_for_the_next_run(self, short, expert):
        annotation = rejected(short.project, expert, short.qa_lead)
        other = next_assignment(factories.expert(), short.project,
                                rng=random.Random(1)).assignment
        appeal = appeal_of(annotation)
        Appeal.objects.filter(pk=appeal.pk).update(due_at=timezone.now() - timedelta(minutes=1))
        assert appeals.decide_lapsed_appeals() == 0
        assert Appeal.objects.get(pk=appeal.pk).status == "pending"
        task_services.skip(assignment_id=other.pk, user=other.expert)
        assert appeals.decide_lapsed_appeals() == 1
        assert earned(expert) == Decimal("3.20")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
class TestConcurrency:
    def test_two_deciders_at_once_decide_and_pay_once(self, project, expert, qa_lead,
                                                      second_lead, customer):
        annotation = rejected(project, expert, qa_lead)
        appeal = appeal_of(annotation)
        results = race(
            lambda: appeals.decide_appeal(appeal_id=appeal.pk, by=second_lead, upheld=True,
                                          reason="A."),
            lambda: appeals.decide_appeal(appeal_id=appeal.pk, by=customer, upheld=True,
                                          reason="A too."),
            lambda: appeals.decide_lapsed_appeals(now=timezone.now() + timedelta(days=8)))
        decided = [r for r in results if isinstance(r, Appeal)]
        conflicts = [r for r in results if isinstance(r, Conflict)]
        lapsed = [r for r in results if isinstance(r, int)]
        assert len(lapsed) == 1 and len(decided) + lapsed[0] == 1, results
        assert len(decided) + len(conflicts) == 2, results
        assert {c.code for c in conflicts} == {"decided"}
        assert Transaction.objects.filter(
            idempotency_key=f"approval:{annotation.assignment_id}").count() == 1
        assert earned(expert) == Decimal("3.20")
        assert Appeal.objects.get(pk=appeal.pk).status == "upheld"
        assert_books_balance()

    def test_two_filings_at_once_make_one_appeal(self, project, expert, qa_lead):
        annotation = rejected(project, expert, qa_lead)
        results = race(lambda: appeal_of(annotation), lambda: appeal_of(annotation))
        assert sorted(type(r).__name__ for r in results) == ["Appeal", "Conflict"], results
        assert [r.code for r in results if isinstance(r, Conflict)] == ["already_appealed"]
        assert Appeal.objects.count() == 1
        assert Transaction.objects.filter(idempotency_key__startswith="appeal:").count() == 1
