"""The money an appealed rejection waits on: held once, given back once and only the appeal's
own hold, and random sequences of appeals and their decisions among deposits and leases keep
the books balanced and pay each upheld rejection once."""

import contextlib
import random
from decimal import Decimal

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from config.exceptions import Conflict
from marketplace import appeals, ledger, statements
from marketplace.ledger import Line
from marketplace.models import Account, Transaction
from quality import appeals as quality_appeals
from quality import reviews
from quality.models import Appeal
from tasks import services as task_services
from tasks.models import Annotation, Assignment
from tasks.routing import next_assignment
from tests import factories
from tests.marketplace.conftest import assert_books_balance, available, reserved
from tests.quality.appeal_setup import PRICE, organization_with_leads, rejected

pytestmark = pytest.mark.django_db


def rejected_work(setting, expert) -> Assignment:
    annotation = rejected(setting.project, expert, setting.qa_lead)
    return Assignment.objects.get(pk=annotation.assignment_id)


@pytest.fixture
def setting(customer):
    return organization_with_leads(customer, funds="20.00")


def test_the_hold_is_taken_once(setting, expert):
    assignment = rejected_work(setting, expert)
    assert appeals.hold_for_appeal(assignment, 7)
    assert appeals.hold_for_appeal(assignment, 7)  # the same key: nothing more moves
    assert (available(setting.organization), reserved(setting.organization)) == (
        Decimal("16.00"), Decimal("4.00"))
    assert_books_balance()


def test_the_release_gives_back_only_the_appeals_hold(setting, expert):
    assignment = rejected_work(setting, expert)
    appeals.hold_for_appeal(assignment, 7)
    free, held = ledger.organization_accounts(setting.organization.pk, "USD")
    ledger.post(kind=Transaction.Kind.RESERVATION, lines=[Line(free, Decimal("-1.50")),
                                                          Line(held, Decimal("1.50"))],
                idempotency_key="other-hold", assignment_id=assignment.pk)
    appeals.release_appeal_hold(assignment, 7)
    appeals.release_appeal_hold(assignment, 7)
    assert reserved(setting.organization) == Decimal("1.50")
    assert available(setting.organization) == Decimal("18.50")
    assert_books_balance()


def test_nothing_held_nothing_released(setting, expert):
    assignment = rejected_work(setting, expert)
    appeals.release_appeal_hold(assignment, 8)
    assert not Transaction.objects.filter(idempotency_key="appeal:8:release").exists()
    assignment.price = Decimal("0.00")
    assert not appeals.hold_for_appeal(assignment, 8)
    assert Account.objects.get(kind="reserved", organization=setting.organization).balance == 0


class AppealBooks(RuleBasedStateMachine):
    """Rejections appealed, upheld, denied and lapsed, among deposits and leases that take the
    funds away, in any order."""

    def __init__(self):
        super().__init__()
        self.setting = organization_with_leads(factories.customer(), funds="12.00", items=12)
        self.experts = [factories.expert() for _ in range(3)]

    def lease(self, expert_index: int):
        return next_assignment(self.experts[expert_index], self.setting.project,
                               rng=random.Random(expert_index)).assignment

    @rule(amount=st.sampled_from(["4.00", "6.50", "10.00"]))
    def deposit(self, amount):
        factories.fund(self.setting.organization, amount)

    @rule(expert=st.integers(0, 2), reject=st.booleans())
    def work(self, expert, reject):
        assignment = self.lease(expert)
        if assignment is None:
            return
        annotation = task_services.submit(assignment_id=assignment.pk,
                                          user=self.experts[expert], answer={"better": "A"})
        reviews.review_annotation(annotation_id=annotation.pk, reviewer=self.setting.qa_lead,
                                  verdict="reject" if reject else "accept", comment="No.")

    @rule(data=st.data())
    def appeal(self, data):
        open_ = list(Annotation.objects.filter(
            project=self.setting.project, assignment__status="rejected",
            appeals__isnull=True).values_list("pk", flat=True))
        if open_:
            annotation = Annotation.objects.get(pk=data.draw(st.sampled_from(open_)))
            quality_appeals.file_appeal(expert=annotation.expert, reason="Look again.",
                                        annotation_id=annotation.pk)

    @rule(data=st.data(), upheld=st.booleans(), lapse=st.booleans())
    def decide(self, data, upheld, lapse):
        pending = list(Appeal.objects.filter(project=self.setting.project,
                                             status="pending").values_list("pk", flat=True))
        if not pending:
            return
        appeal_id = data.draw(st.sampled_from(pending))
        if lapse:
            Appeal.objects.filter(pk=appeal_id).update(due_at=timezone.now())
            quality_appeals.decide_lapsed_appeals()
            return
        with contextlib.suppress(Conflict):
            quality_appeals.decide_appeal(appeal_id=appeal_id, by=self.setting.second_lead,
                                          upheld=upheld, reason="Decided.")

    @invariant()
    def books_balance(self):
        assert_books_balance()

    @invariant()
    def deposits_are_available_reserved_or_spent(self):
        balance = statements.organization_balance(self.setting.organization, "USD")
        assert balance["deposits"] == (
            balance["available"] + balance["reserved"] + balance["spent"])

    @invariant()
    def decisions_and_money_agree(self):
        appeals_ = Appeal.objects.filter(project=self.setting.project).select_related(
            "annotation__assignment")
        for appeal in appeals_:
            assignment = appeal.annotation.assignment
            approvals = Transaction.objects.filter(idempotency_key=f"approval:{assignment.pk}")
            held = ledger.outstanding_holds([assignment.pk]).get(assignment.pk, (0, 0))[1]
            if appeal.status == "upheld":
                assert assignment.status == "approved" and approvals.count() == 1
                assert held == 0
            else:
                assert assignment.status == "rejected" and not approvals.exists()
                assert held == (PRICE if appeal.status == "pending" and Transaction.objects.filter(
                    idempotency_key=f"appeal:{appeal.pk}:hold").exists() else 0)


@pytest.mark.postgres
def test_random_appeals_keep_the_books_balanced(db):
    run_state_machine_as_test(AppealBooks, settings=settings(
        max_examples=5, stateful_step_count=40, deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]))
