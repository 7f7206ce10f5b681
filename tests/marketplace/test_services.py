"""Money following the work: deposits, reservations at lease, releases, payment at approval,
rejections, overturns and the quality bonus."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from accounts.models import Expertise
from config.exceptions import Conflict
from marketplace import services
from marketplace.models import Bonus, Deposit, Transaction
from tasks import services as task_services
from tasks.jobs import auto_approve
from tasks.models import Assignment
from tasks.routing import reclaim_expired
from tests import factories
from tests.marketplace.conftest import (
    assert_books_balance,
    available,
    deposit,
    earned,
    fees,
    lease,
    paid_project,
    reserved,
    submit,
)

pytestmark = pytest.mark.django_db


class TestDeposits:
    def test_a_deposit_raises_available_funds(self, organization, staff):
        deposit(organization, "100.00", staff=staff)
        assert available(organization) == Decimal("100.00")
        assert_books_balance()

    def test_the_reference_makes_it_idempotent(self, organization, staff):
        kwargs = {"organization": organization, "amount": Decimal("50.00"), "currency": "USD",
                  "reference": "INV-1", "by": staff}
        first, created = services.record_deposit(**kwargs)
        again, created_again = services.record_deposit(**kwargs)
        assert (created, created_again, again.pk) == (True, False, first.pk)
        assert available(organization) == Decimal("50.00")
        with pytest.raises(Conflict):
            services.record_deposit(**{**kwargs, "amount": Decimal("51.00")})

    def test_only_operators_record_payments(self, organization, customer):
        with pytest.raises(PermissionDenied):
            services.record_deposit(organization=organization, amount=Decimal("1.00"),
                                    currency="USD", reference="x", by=customer)

    def test_a_refund_cannot_exceed_available_funds(self, organization, staff):
        deposit(organization, "10.00", staff=staff)
        with pytest.raises(ValidationError) as excinfo:
            services.record_deposit(organization=organization, amount=Decimal("10.01"),
                                    currency="USD", reference="R-1", by=staff,
                                    kind=Deposit.Kind.REFUND)
        assert "amount" in excinfo.value.message_dict
        services.record_deposit(organization=organization, amount=Decimal("4.00"),
                                currency="USD", reference="R-2", by=staff,
                                kind=Deposit.Kind.REFUND)
        assert available(organization) == Decimal("6.00")
        assert_books_balance()


class TestLeases:
    def test_a_lease_reserves_its_price(self, customer, organization):
        deposit(organization, "10.00")
        project = paid_project(customer)
        assignment = lease(factories.expert(), project).assignment
        assert assignment.price == Decimal("4.00")
        assert (available(organization), reserved(organization)) == (Decimal("6.00"),
                                                                     Decimal("4.00"))
        assert_books_balance()

    def test_a_lease_the_funds_cannot_cover_is_refused_with_the_reason(self, customer,
                                                                       organization):
        deposit(organization, "5.00")
        project = paid_project(customer)
        assert lease(factories.expert(), project).assignment is not None
        result = lease(factories.expert(), project)
        assert result.assignment is None
        assert result.reasons == {project.pk: f"{organization.name}'s balance cannot cover "
                                              f"another task at 4.00 USD"}
        assert Assignment.objects.count() == 1, "the refused lease rolled back"
        assert (available(organization), reserved(organization)) == (Decimal("1.00"),
                                                                     Decimal("4.00"))

    def test_a_refused_project_is_passed_over_for_the_next_one(self, customer, organization):
        unfunded = paid_project(customer)
        unpaid = factories.project(customer, items=1)
        result = lease(factories.expert())
        assert result.assignment.project_id == unpaid.pk
        assert result.reasons == {unfunded.pk: f"{organization.name}'s balance cannot cover "
                                               f"another task at 4.00 USD"}
        assert list(Assignment.objects.values_list("project_id", flat=True)) == [unpaid.pk]
        assert sum(unfunded.items.values_list("filled", flat=True)) == 0
        assert_books_balance()

    def test_unpaid_projects_need_no_funds(self, customer, organization):
        project = factories.project(customer, items=1)
        assert lease(factories.expert(), project).assignment is not None
        assert not Transaction.objects.exists()

    @pytest.mark.parametrize("how", ["skip", "expire", "reject"])
    def test_skip_expiry_and_rejection_release_the_reservation(self, customer, organization,
                                                               how):
        deposit(organization, "4.00")
        project = paid_project(customer)
        assignment = lease(factories.expert(), project).assignment
        if how == "skip":
            task_services.skip(assignment_id=assignment.pk, user=assignment.expert)
        elif how == "expire":
            reclaim_expired(now=timezone.now() + timedelta(days=1))
        else:
            task_services.reject_assignment(submit(assignment))
        assert (available(organization), reserved(organization)) == (Decimal("4.00"), 0)
        assert earned(assignment.expert) == 0
        assert_books_balance()

    def test_funding_says_why_a_project_gets_no_work(self, customer, organization):
        project = paid_project(customer)
        funding = services_funding(project)
        assert (funding.can_lease, funding.hold_per_task) == (False, Decimal("4.00"))
        assert funding.reason == (f"{organization.name}'s balance cannot cover another task "
                                  f"at 4.00 USD")
        deposit(organization, "4.00")
        assert services_funding(project).can_lease


def services_funding(project):
    from marketplace.statements import funding

    project.refresh_from_db()
    return funding(project)


class TestApproval:
    def test_approval_pays_the_expert_less_the_fee(self, customer, organization, settings):
        settings.PLATFORM_FEE_RATE = Decimal("0.20")
        deposit(organization, "10.00")
        project = paid_project(customer)
        assignment = submit(lease(factories.expert(), project).assignment)
        task_services.approve_assignment(assignment)
        assert earned(assignment.expert) == Decimal("3.20")
        assert fees() == Decimal("0.80")
        assert (available(organization), reserved(organization)) == (Decimal("6.00"), 0)
        assert_books_balance()

    def test_rejection_pays_nothing(self, customer, organization):
        deposit(organization, "10.00")
        project = paid_project(customer)
        assignment = submit(lease(factories.expert(), project).assignment)
        task_services.reject_assignment(assignment)
        assert earned(assignment.expert) == 0
        assert available(organization) == Decimal("10.00")

    def test_an_overturned_rejection_pays_once(self, customer, organization, staff):
        deposit(organization, "10.00")
        project = paid_project(customer)
        assignment = submit(lease(factories.expert(), project).assignment)
        task_services.reject_assignment(assignment)
        task_services.overturn_rejection(assignment, by=staff)
        assert earned(assignment.expert) == Decimal("3.20")
        # Rejected and overturned again: paid already, nothing moves.
        task_services.reject_assignment(assignment)
        task_services.overturn_rejection(assignment, by=staff)
        assert earned(assignment.expert) == Decimal("3.20")
        assert available(organization) == Decimal("6.00")
        assert_books_balance()

    def test_an_overturn_the_funds_cannot_pay_is_refused_asking_for_a_deposit(
            self, customer, organization, staff):
        deposit(organization, "4.00")
        project = paid_project(customer)
        assignment = submit(lease(factories.expert(), project).assignment)
        task_services.reject_assignment(assignment)
        # The released funds went to another lease meanwhile.
        lease(factories.expert(), project)
        with pytest.raises(Conflict) as excinfo:
            task_services.overturn_rejection(assignment, by=staff)
        assert excinfo.value.code == "insufficient_funds"
        assert "deposit" in excinfo.value.message
        assignment.refresh_from_db()
        assert assignment.status == Assignment.Status.REJECTED, "the overturn rolled back"
        deposit(organization, "4.00")
        task_services.overturn_rejection(assignment, by=staff)
        assert earned(assignment.expert) == Decimal("3.20")
        assert_books_balance()

    def test_automatic_approval_pays(self, customer, organization):
        deposit(organization, "10.00")
        project = paid_project(customer, auto_approve_after_s=0)
        assignment = submit(lease(factories.expert(), project).assignment)
        assert auto_approve() == 1
        assert auto_approve() == 0
        assert earned(assignment.expert) == Decimal("3.20")
        assert Transaction.objects.filter(kind="approval").count() == 1


class TestQualityBonus:
    @pytest.fixture
    def project(self, customer, organization):
        deposit(organization, "100.00")
        project = paid_project(customer, price="10.00")
        services.set_quality_bonus(project=project, rate=Decimal("0.100"),
                                   min_trust=Decimal("0.800"), by=customer)
        return project

    def trusted(self, trust: str):
        expert = factories.expert()
        Expertise.objects.filter(expert_id=expert.pk).update(trust=Decimal(trust))
        return expert

    def test_the_lease_reserves_the_bonus_with_the_price(self, project, organization):
        lease(self.trusted("0.5"), project)
        assert reserved(organization) == Decimal("11.00")

    def test_trusted_experts_get_it_at_approval(self, project, organization):
        assignment = submit(lease(self.trusted("0.9"), project).assignment)
        task_services.approve_assignment(assignment)
        assert earned(assignment.expert) == Decimal("8.00") + Decimal("0.80")
        assert fees() == Decimal("2.00") + Decimal("0.20")
        bonus = Bonus.objects.get()
        assert (bonus.kind, bonus.amount, bonus.assignment_id) == ("quality", Decimal("1.00"),
                                                                   assignment.pk)
        assert (available(organization), reserved(organization)) == (Decimal("89.00"), 0)
        assert_books_balance()

    def test_others_get_the_price_and_the_hold_goes_back(self, project, organization):
        assignment = submit(lease(self.trusted("0.8"), project).assignment)
        task_services.approve_assignment(assignment)
        assert earned(assignment.expert) == Decimal("8.00")
        assert not Bonus.objects.exists()
        assert (available(organization), reserved(organization)) == (Decimal("90.00"), 0)
        assert_books_balance()


class TestBonuses:
    def test_a_bonus_pays_less_the_fee_once_per_key(self, customer, organization):
        deposit(organization, "20.00")
        project = paid_project(customer)
        expert = lease(factories.expert(), project).assignment.expert
        kwargs = {"project": project, "expert": expert, "amount": Decimal("5.00"),
                  "reason": "Thorough rewrites", "idempotency_key": "b-1", "by": customer}
        first, created = services.grant_bonus(**kwargs)
        again, created_again = services.grant_bonus(**kwargs)
        assert (created, created_again, again.pk) == (True, False, first.pk)
        assert earned(expert) == Decimal("4.00")
        with pytest.raises(Conflict):
            services.grant_bonus(**{**kwargs, "amount": Decimal("6.00")})
        assert_books_balance()

    def test_bonuses_need_funds_a_reason_and_an_expert_of_the_project(self, customer,
                                                                      organization):
        project = paid_project(customer)
        expert = factories.expert()
        kwargs = {"project": project, "expert": expert, "amount": Decimal("5.00"),
                  "reason": "Great", "idempotency_key": "b-2", "by": customer}
        with pytest.raises(ValidationError) as excinfo:
            services.grant_bonus(**kwargs)
        assert "expert" in excinfo.value.message_dict
        deposit(organization, "4.00")
        lease(expert, project)
        with pytest.raises(Conflict) as conflict:
            services.grant_bonus(**kwargs)
        assert conflict.value.code == "insufficient_funds"
        with pytest.raises(ValidationError):
            services.grant_bonus(**{**kwargs, "reason": " "})

    def test_only_owners_and_admins_pay_bonuses(self, customer, organization):
        project = paid_project(customer)
        qa_lead = factories.member(organization, role="qa_lead")
        with pytest.raises(PermissionDenied):
            services.grant_bonus(project=project, expert=factories.expert(),
                                 amount=Decimal("1.00"), reason="x", idempotency_key="k",
                                 by=qa_lead)
