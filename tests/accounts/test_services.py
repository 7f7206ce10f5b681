"""Rules of the account services that the HTTP tests do not reach."""

import threading
from collections.abc import Callable
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connections, transaction

from accounts import access, services
from accounts.models import Credential, Domain, Expertise, ExpertProfile, Membership, Organization
from tests import factories

pytestmark = pytest.mark.django_db
User = get_user_model()


def race(count: int, call: Callable[[int], object], monkeypatch) -> list[object]:
    """Run ``call`` in ``count`` threads that all pass the services' up-front duplicate checks
    before any of them inserts, so that only the database's constraints can decide."""
    barrier = threading.Barrier(count, timeout=20)
    manager = type(User.objects)
    create_user = manager.create_user

    def create_user_after_everyone_checked(self, *args, **kwargs):
        barrier.wait()
        return create_user(self, *args, **kwargs)

    monkeypatch.setattr(manager, "create_user", create_user_after_everyone_checked)
    outcomes: list[object] = [None] * count

    def run(index: int) -> None:
        try:
            outcomes[index] = call(index)
        except Exception as exc:
            outcomes[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


def expert_signup(username: str, email: str) -> ExpertProfile:
    return services.signup_expert(
        username=username, email=email, password=factories.PASSWORD, full_name="Racer",
        highest_degree="phd", field_of_study="Physics",
        domains=Domain.objects.filter(slug="physics-quantum"), languages=["en"])


def assert_one_winner(outcomes: list[object]) -> None:
    winners = [o for o in outcomes if not isinstance(o, Exception)]
    losers = [o for o in outcomes if isinstance(o, Exception)]
    assert len(winners) == 1, outcomes
    assert all(isinstance(o, ValidationError) for o in losers), losers


@pytest.mark.postgres
def test_concurrent_signups_with_one_username_make_one_user(monkeypatch):
    outcomes = race(4, lambda i: expert_signup("racer", f"racer{i}@example.com"), monkeypatch)
    assert_one_winner(outcomes)
    assert User.objects.filter(username="racer").count() == 1
    assert ExpertProfile.objects.count() == Expertise.objects.count() == 1


@pytest.mark.postgres
def test_concurrent_signups_with_one_username_in_any_case_make_one_user(monkeypatch):
    names = ["Racer", "racer", "RACER"]
    outcomes = race(3, lambda i: expert_signup(names[i], f"racer{i}@example.com"), monkeypatch)
    assert_one_winner(outcomes)
    assert User.objects.filter(username__iexact="racer").count() == 1


@pytest.mark.postgres
def test_concurrent_signups_with_one_email_in_any_case_make_one_user(monkeypatch):
    emails = ["Same@Example.com", "same@example.com", "SAME@EXAMPLE.COM"]
    outcomes = race(3, lambda i: expert_signup(f"racer{i}", emails[i]), monkeypatch)
    assert_one_winner(outcomes)
    assert User.objects.filter(email__iexact="same@example.com").count() == 1


@pytest.mark.postgres
def test_concurrent_customer_signups_for_one_organization_make_one_owner(monkeypatch):
    outcomes = race(3, lambda i: services.signup_customer(
        username=f"founder{i}", email=f"founder{i}@example.com", password=factories.PASSWORD,
        organization_name="Race Labs"), monkeypatch)
    assert_one_winner(outcomes)
    assert Organization.objects.filter(name="Race Labs").count() == 1
    assert User.objects.filter(username__startswith="founder").count() == 1
    assert Membership.objects.get().role == Membership.Role.OWNER


def test_the_database_refuses_usernames_that_differ_only_in_case():
    User.objects.create_user("Ada", "ada1@example.com", factories.PASSWORD)
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create_user("ada", "ada2@example.com", factories.PASSWORD)


def test_the_database_refuses_emails_that_differ_only_in_case():
    User.objects.create_user("first", "Ada@Example.com", factories.PASSWORD)
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create_user("second", "ada@example.com", factories.PASSWORD)


def test_experts_cannot_change_their_own_verification_or_status(expert):
    profile = expert.expert_profile
    with pytest.raises(ValidationError) as error:
        services.update_expert_profile(profile, verification="verified", status="active",
                                       bio="Trust me")
    assert set(error.value.message_dict) == {"verification", "status"}
    profile.refresh_from_db()
    assert profile.bio == ""


def test_claiming_a_qualified_domain_again_keeps_it_qualified(expert):
    profile = expert.expert_profile
    cardiology = Domain.objects.get(slug="medicine-cardiology")
    services.qualify_expertise(expert=profile, domain=cardiology, score=Decimal("0.85"),
                               source=Expertise.Source.TEST)
    services.update_expert_profile(profile, domains=[cardiology])
    expertise = profile.expertise.get(domain=cardiology)
    assert expertise.level == Expertise.Level.QUALIFIED
    assert expertise.qualification_score == Decimal("0.85")


def test_an_operator_can_qualify_a_domain_never_claimed(expert):
    profile = expert.expert_profile
    tax = Domain.objects.get(slug="law-tax")
    expertise = services.qualify_expertise(expert=profile, domain=tax, score=None,
                                           source=Expertise.Source.OPERATOR)
    assert expertise.level == Expertise.Level.QUALIFIED
    assert expertise.qualification_score is None and expertise.qualified_at is not None
    expertise = services.qualify_expertise(expert=profile, domain=tax, score=Decimal("0.6"),
                                           source=Expertise.Source.TEST)
    assert expertise.qualification_score == Decimal("0.6")
    assert expertise.source == Expertise.Source.TEST


def test_verifying_after_a_rejection_clears_the_old_reason(staff, expert):
    profile = expert.expert_profile
    services.set_verification(expert=profile, actor=staff, reason="Blurry diploma scan",
                              verification=ExpertProfile.Verification.REJECTED)
    profile = services.set_verification(expert=profile, actor=staff,
                                        verification=ExpertProfile.Verification.VERIFIED)
    assert profile.verification_reason == ""
    assert profile.can_work


def test_suspension_needs_a_reason_and_reinstating_clears_it(staff, expert):
    profile = expert.expert_profile
    with pytest.raises(ValidationError) as error:
        services.set_expert_status(expert=profile, actor=staff, reason="  ",
                                   status=ExpertProfile.Status.SUSPENDED)
    assert "reason" in error.value.message_dict
    profile = services.set_expert_status(expert=profile, actor=staff, reason="Spam",
                                         status=ExpertProfile.Status.SUSPENDED)
    assert not profile.can_work
    profile = services.set_expert_status(expert=profile, actor=staff,
                                         status=ExpertProfile.Status.ACTIVE)
    profile.refresh_from_db()
    assert profile.can_work and profile.status_reason == ""


def test_credential_review_records_who_when_and_why(staff, expert):
    credential = Credential.objects.create(expert=expert.expert_profile, degree="phd",
                                           institution="ETH Zurich", year=2015)
    services.review_credential(credential=credential, actor=staff, notes="Registry match",
                               status=Credential.Status.VERIFIED)
    credential.refresh_from_db()
    assert credential.status == Credential.Status.VERIFIED
    assert credential.reviewed_by == staff and credential.reviewed_at is not None
    assert credential.reviewer_notes == "Registry match"


def test_staff_manage_members_of_any_organization(staff, customer):
    organization = factories.organization_of(customer)
    newcomer = User.objects.create_user("cofounder", "co@example.com", factories.PASSWORD)
    membership = services.add_member(organization=organization, actor=staff, user=newcomer,
                                     role=Membership.Role.OWNER)
    assert membership.role == Membership.Role.OWNER


def test_admins_cannot_demote_or_remove_owners(customer):
    organization = factories.organization_of(customer)
    admin = factories.member(organization, role=Membership.Role.ADMIN)
    owner = Membership.objects.get(user=customer)
    with pytest.raises(PermissionDenied):
        services.change_member_role(membership=owner, actor=admin,
                                    role=Membership.Role.MEMBER)
    with pytest.raises(PermissionDenied):
        services.remove_member(membership=owner, actor=admin)
    assert Membership.objects.get(pk=owner.pk).role == Membership.Role.OWNER


def test_an_owner_may_step_down_once_another_owner_exists(customer):
    organization = factories.organization_of(customer)
    successor = factories.member(organization, role=Membership.Role.MEMBER)
    services.change_member_role(membership=Membership.objects.get(user=successor),
                                actor=customer, role=Membership.Role.OWNER)
    services.change_member_role(membership=Membership.objects.get(user=customer),
                                actor=customer, role=Membership.Role.ADMIN)
    assert access.role_in(customer, organization) == Membership.Role.ADMIN
    assert access.role_in(successor, organization) == Membership.Role.OWNER


def test_outsiders_cannot_manage_members(customer, other_customer):
    organization = factories.organization_of(customer)
    with pytest.raises(PermissionDenied):
        services.add_member(organization=organization, actor=other_customer,
                            user=other_customer, role=Membership.Role.MEMBER)
