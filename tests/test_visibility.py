"""What each user may see, as the models' QuerySets scope it: the same rows for every surface.

Two organizations each run a project with a row of every project-owned kind; a member sees
their own organization's rows only, an operator sees all, an expert and an anonymous visitor
see none of the customer's side, and an expert sees exactly their own records.
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from accounts.models import ExpertProfile, Membership, Organization
from marketplace import services as market_services
from marketplace.models import Application, Payout, ProjectInvitation
from quality.models import (
    AgreementReport,
    QualificationAttempt,
    QualificationTest,
    QualityAction,
    QualityRule,
)
from tasks.models import Annotation, Assignment, Batch, Item, Project, Webhook
from tests import factories

pytestmark = pytest.mark.django_db


class World:
    """Each organization's project with one row of each kind that belongs to a project."""

    def __init__(self):
        self.owner = factories.customer()
        self.other_owner = factories.customer()
        self.organization = factories.organization_of(self.owner)
        self.qa_lead = factories.member(self.organization, role=Membership.Role.QA_LEAD)
        self.expert = factories.expert()
        self.other_expert = factories.expert()
        self.staff = factories.staff_user()
        self.project = self.fill(factories.project(self.owner, items=2, gold=1))
        self.other_project = self.fill(factories.project(self.other_owner, items=2, gold=1))

    def fill(self, project: Project) -> Project:
        Batch.objects.create(project=project, file_format="json")
        Webhook.objects.create(project=project, url="https://hooks.example.com/",
                               events=["item.completed"], secret="s")
        AgreementReport.objects.create(project=project)
        rule = QualityRule.objects.create(project=project, metric="skip_rate", comparator="gt",
                                          value=Decimal("0.5"), action="flag")
        QualityAction.objects.create(rule=rule, project=project, expert=self.expert,
                                     action="flag", reason="Skips a lot.")
        factories.answered(self.expert, project)
        ProjectInvitation.objects.create(project=project, expert=self.other_expert)
        market_services.apply_to_project(project=project, expert=self.expert)
        return project


@pytest.fixture
def world() -> World:
    return World()


IN_PROJECT = [Batch, Webhook, AgreementReport, QualityRule, QualityAction, Annotation,
              ProjectInvitation, Application]


@pytest.mark.parametrize("model", IN_PROJECT, ids=lambda model: model.__name__)
def test_project_rows_follow_their_project(world, model):
    def projects(user) -> set[int]:
        return set(model.objects.visible_to(user).values_list("project_id", flat=True))

    assert projects(world.owner) == {world.project.pk}
    assert projects(world.qa_lead) == {world.project.pk}
    assert projects(world.other_owner) == {world.other_project.pk}
    assert projects(world.staff) == {world.project.pk, world.other_project.pk}
    assert projects(world.expert) == set()
    assert projects(AnonymousUser()) == set()
    owners_rows = model.objects.filter(project=world.project).count()
    assert model.objects.visible_to(world.qa_lead).count() == owners_rows, "no duplicates"


def test_projects(world):
    assert list(Project.objects.visible_to(world.qa_lead)) == [world.project]
    assert set(Project.objects.visible_to(world.staff)) == {world.project, world.other_project}
    assert not Project.objects.visible_to(world.expert).exists()
    assert not Project.objects.visible_to(AnonymousUser()).exists()


def test_organizations_carry_the_users_role(world):
    mine = Organization.objects.visible_to(world.qa_lead)
    assert [(o.pk, o.role) for o in mine] == [(world.organization.pk, "qa_lead")]
    everyone = Organization.objects.visible_to(world.staff)
    assert {o.pk: o.role for o in everyone} == {
        world.organization.pk: None, world.other_project.organization_id: None}
    assert not Organization.objects.visible_to(world.expert).exists()
    assert not Organization.objects.visible_to(AnonymousUser()).exists()


class TestItems:
    def test_members_see_their_projects_items_gold_included(self, world):
        assert set(Item.objects.visible_to(world.qa_lead)) == set(world.project.items.all())

    def test_experts_see_the_items_they_held(self, world):
        held = set(Assignment.objects.filter(expert=world.expert).values_list("item_id",
                                                                               flat=True))
        assert len(held) == 2
        assert set(Item.objects.visible_to(world.expert).values_list("pk", flat=True)) == held
        assert not Item.objects.visible_to(world.other_expert).exists()

    def test_an_expert_who_is_also_a_member_is_counted_once(self, world):
        Membership.objects.create(user=world.expert, organization=world.organization,
                                  role=Membership.Role.MEMBER)
        visible = list(Item.objects.visible_to(world.expert).values_list("pk", flat=True))
        assert len(visible) == len(set(visible)) == world.project.items.count() + 1

    def test_operators_see_every_item_and_visitors_none(self, world):
        assert Item.objects.visible_to(world.staff).count() == Item.objects.count()
        assert not Item.objects.visible_to(AnonymousUser()).exists()


class TestAnExpertsOwnRecords:
    def test_assignments_held(self, world):
        assert {a.expert_id for a in Assignment.objects.held_by(world.expert)} == {
            world.expert.pk}
        assert not Assignment.objects.held_by(world.other_expert).exists()
        assert not Assignment.objects.held_by(AnonymousUser()).exists()

    def test_quality_actions_invitations_and_applications(self, world):
        assert QualityAction.objects.of_expert(world.expert).count() == 2
        assert not QualityAction.objects.of_expert(world.other_expert).exists()
        assert ProjectInvitation.objects.of_expert(world.other_expert).count() == 2
        assert not ProjectInvitation.objects.of_expert(world.expert).exists()
        assert Application.objects.of_expert(world.expert).count() == 2
        assert not Application.objects.of_expert(AnonymousUser()).exists()

    def test_attempts_and_payouts(self, world):
        test = QualificationTest.objects.create(
            domain=world.project.domain, name="Cardiology", fields=[], questions=[])
        now = timezone.now()
        QualificationAttempt.objects.create(test=test, expert=world.expert, started_at=now,
                                            expires_at=now + timedelta(hours=1))
        Payout.objects.create(expert=world.other_expert, amount=Decimal("5.00"),
                              currency="USD")
        assert QualificationAttempt.objects.of_expert(world.expert).count() == 1
        assert not QualificationAttempt.objects.of_expert(world.other_expert).exists()
        assert Payout.objects.of_expert(world.other_expert).count() == 1
        assert not Payout.objects.of_expert(world.expert).exists()


def test_an_experts_full_profile_is_theirs_and_the_operators(world):
    assert [p.user_id for p in ExpertProfile.objects.visible_to(world.expert)] == [
        world.expert.pk]
    assert ExpertProfile.objects.visible_to(world.staff).count() == 2
    assert not ExpertProfile.objects.visible_to(world.owner).exists()
    assert not ExpertProfile.objects.visible_to(AnonymousUser()).exists()
