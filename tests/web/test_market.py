"""The expert's market page: projects they qualify for with their pay after the fee,
applying, invitations, and 404 for projects not listed to them."""

from decimal import Decimal

import pytest

from marketplace import services
from marketplace.models import Application, ProjectInvitation
from tasks.models import Project, ProjectExpert
from tests import factories
from tests.web.clients import signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def listed(customer):
    return factories.project(customer, items=2, price_per_item=Decimal("5.00"),
                             instructions="Pick the answer a cardiologist would sign.")


def test_the_market_shows_what_the_expert_earns_after_the_fee(expert, listed):
    response = signed_in(expert).get("/workspace/market/")
    assert response.status_code == 200
    text = response.content.decode()
    assert listed.name in text
    assert "4.00 USD" in text  # 5.00 less the 20% platform fee
    assert "Pick the answer a cardiologist would sign." in text
    assert "pairwise" in text and "Cardiology" in text


def test_the_market_shows_the_time_per_item_and_the_hourly_pay(expert, listed, customer):
    Project.objects.filter(pk=listed.pk).update(estimated_seconds=400)
    hourly = factories.project(customer, items=1, activate=False)
    Project.objects.filter(pk=hourly.pk).update(
        contract="hourly", price_per_item=0, hourly_rate=Decimal("50.00"),
        weekly_cap_hours=Decimal("20"), status="active")
    factories.fund(factories.organization_of(customer))
    text = signed_in(expert).get("/workspace/market/").content.decode()
    assert "About 7 min per item · about 36.00 USD/h after fees" in text
    assert "(customer&#x27;s estimate)" in text
    assert "40.00 USD/h after fees, hourly, up to 20 h a week" in text


def test_projects_of_other_domains_are_not_listed_and_answer_404(expert, customer):
    law = factories.project(customer, items=1, domain="law")
    client = signed_in(expert)
    assert law.name not in client.get("/workspace/market/").content.decode()
    response = client.post(f"/workspace/market/{law.pk}/apply/", {"message": "Please"})
    assert response.status_code == 404
    assert not Application.objects.exists()


def test_an_expert_applies_with_a_message_and_sees_it_pending(expert, listed):
    client = signed_in(expert)
    response = client.post(f"/workspace/market/{listed.pk}/apply/",
                           {"message": "Ten years of echo reading."}, follow=True)
    application = Application.objects.get(expert=expert, project=listed)
    assert application.message == "Ten years of echo reading."
    assert application.status == Application.Status.PENDING
    text = response.content.decode()
    assert "You applied to" in text and "Application pending" in text
    response = client.post(f"/workspace/market/{listed.pk}/apply/", {}, follow=True)
    assert "You already applied to this project." in response.content.decode()
    assert Application.objects.filter(expert=expert).count() == 1


def test_a_too_long_message_is_refused_by_name(expert, listed):
    response = signed_in(expert).post(f"/workspace/market/{listed.pk}/apply/",
                                      {"message": "x" * 5001}, follow=True)
    assert "Message: Ensure this value has at most 5000 characters" in (
        response.content.decode())
    assert not Application.objects.exists()


def test_an_invited_expert_accepts_and_joins_the_private_project(expert, customer):
    private = factories.project(customer, items=1, visibility=Project.Visibility.PRIVATE)
    invitation, _ = services.invite_expert(project=private, expert=expert, by=customer,
                                           message="We need you.")
    client = signed_in(expert)
    text = client.get("/workspace/market/").content.decode()
    assert "We need you." in text and private.name in text
    response = client.post(f"/workspace/market/invitations/{invitation.pk}/",
                           {"answer": "accept"}, follow=True)
    assert f"You joined {private.name}." in response.content.decode()
    assert ProjectExpert.objects.filter(project=private, expert=expert,
                                        access=ProjectExpert.Access.ALLOWED).exists()
    response = client.post(f"/workspace/market/invitations/{invitation.pk}/",
                           {"answer": "decline"}, follow=True)
    assert "This invitation is already accepted." in response.content.decode()


def test_a_bad_answer_to_an_invitation_changes_nothing(expert, customer):
    private = factories.project(customer, items=1, visibility=Project.Visibility.PRIVATE)
    invitation, _ = services.invite_expert(project=private, expert=expert, by=customer)
    response = signed_in(expert).post(f"/workspace/market/invitations/{invitation.pk}/",
                                      {"answer": "maybe"}, follow=True)
    assert "Answer: choose accept or decline." in response.content.decode()
    invitation.refresh_from_db()
    assert invitation.status == ProjectInvitation.Status.PENDING


def test_another_experts_invitation_answers_404(expert, customer):
    private = factories.project(customer, items=1, visibility=Project.Visibility.PRIVATE)
    invitation, _ = services.invite_expert(project=private, expert=expert, by=customer)
    response = signed_in(factories.expert()).post(
        f"/workspace/market/invitations/{invitation.pk}/", {"answer": "accept"})
    assert response.status_code == 404
    invitation.refresh_from_db()
    assert invitation.status == ProjectInvitation.Status.PENDING


def test_the_market_is_for_experts(customer):
    assert signed_in(customer).get("/workspace/market/").status_code == 403


def test_the_query_count_does_not_grow_with_projects(expert, customer,
                                                     django_assert_max_num_queries):
    projects = [factories.project(customer, items=1, price_per_item=Decimal("3.00"))
                for _ in range(6)]
    for project in projects[:3]:
        services.apply_to_project(project=project, expert=expert, message="Me")
    private = [factories.project(customer, items=1, visibility=Project.Visibility.PRIVATE)
               for _ in range(3)]
    for project in private:
        services.invite_expert(project=project, expert=expert, by=customer)
    services.set_quality_bonus(project=projects[0], rate=Decimal("0.1"),
                               min_trust=Decimal("0.6"), by=customer)
    client = signed_in(expert)
    with django_assert_max_num_queries(10):
        response = client.get("/workspace/market/")
    assert len(response.context["cards"]) == 9
    assert len(response.context["applications"]) == 3
