import random

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from accounts.models import Domain, Membership
from config.exceptions import Conflict
from tasks import services
from tasks.models import Assignment, Item, Project
from tasks.routing import next_assignment
from tasks.signals import assignment_approved, item_completed, project_completed
from tests import factories

pytestmark = pytest.mark.django_db


def lease(project, expert=None):
    expert = expert or factories.expert()
    return next_assignment(expert, project, rng=random.Random(1)).assignment


def answer(assignment, choice="A"):
    services.submit(assignment_id=assignment.pk, user=assignment.expert,
                    answer={"better": choice})
    assignment.refresh_from_db()
    return assignment


@pytest.fixture
def received():
    """Signals sent during the test, by name, with their keyword arguments."""
    log: dict[str, list[dict]] = {}
    signals = {"approved": assignment_approved, "item_completed": item_completed,
               "project_completed": project_completed}
    receivers = {}
    for name, signal in signals.items():
        def receiver(sender, name=name, **kwargs):
            kwargs.pop("signal")
            log.setdefault(name, []).append(kwargs)
        receivers[name] = receiver
        signal.connect(receiver)
    yield log
    for name, signal in signals.items():
        signal.disconnect(receivers[name])


def errors_of(excinfo) -> dict:
    return excinfo.value.message_dict


class TestCreateProject:
    def test_max_overlap_defaults_to_overlap(self, customer):
        project = factories.project(customer, overlap=3)
        assert (project.overlap, project.max_overlap) == (3, 3)

    def test_unknown_settings_are_refused_by_name(self, customer):
        with pytest.raises(ValidationError) as excinfo:
            factories.project(customer, colour="blue")
        assert errors_of(excinfo) == {"colour": ["Unknown project setting."]}

    def test_outsiders_and_qa_leads_may_not_create(self, customer, other_customer):
        organization = factories.organization_of(customer)
        qa = factories.member(organization, role=Membership.Role.QA_LEAD)
        domain = Domain.objects.get(slug="medicine-cardiology")
        for user in [qa, other_customer]:
            with pytest.raises(PermissionDenied):
                services.create_project(user=user, organization=organization, name="x",
                                        domain=domain, preset="sft")


class TestUpdateProject:
    def test_everything_may_change_before_work(self, customer):
        project = factories.project(customer, items=2, activate=False)
        updated = services.update_project(
            user=customer, project=project, price_per_item="7.50", currency="EUR",
            domain=Domain.objects.get(slug="medicine-oncology"),
            questions=[{"name": "better", "kind": "pairwise", "strength": True}])
        updated.refresh_from_db()
        assert (str(updated.price_per_item), updated.currency, updated.domain.slug) == (
            "7.50", "EUR", "medicine-oncology")
        assert updated.questions == [{"name": "better", "kind": "pairwise", "required": True,
                                      "field": "completions", "strength": True}]

    @pytest.mark.parametrize("work", ["lease", "answer", "skip"])
    def test_what_work_depends_on_freezes_once_any_work_exists(self, customer, work):
        project = factories.project(customer, items=2)
        assignment = lease(project)
        if work == "answer":
            answer(assignment)
        elif work == "skip":
            services.skip(assignment_id=assignment.pk, user=assignment.expert)
        frozen = {"fields": [{"name": "text", "type": "text"}], "questions": [],
                  "domain": Domain.objects.get(slug="law-tax"), "price_per_item": "9.00",
                  "currency": "EUR"}
        with pytest.raises(ValidationError) as excinfo:
            services.update_project(user=customer, project=project, name="Renamed", **frozen)
        assert set(errors_of(excinfo)) == set(frozen)
        project.refresh_from_db()
        assert project.name != "Renamed"
        services.update_project(user=customer, project=project, name="Renamed",
                                instructions="New", gold_rate="0.2", visibility="private")
        project.refresh_from_db()
        assert (project.name, project.visibility) == ("Renamed", "private")

    def test_schema_changes_are_validated(self, customer):
        project = factories.project(customer, items=1, activate=False)
        with pytest.raises(ValidationError) as excinfo:
            services.update_project(user=customer, project=project,
                                    questions=[{"name": "better", "kind": "label"}])
        assert "questions" in errors_of(excinfo)

    def test_overlap_may_not_pass_max_overlap(self, customer):
        project = factories.project(customer, items=1, overlap=2, max_overlap=3)
        with pytest.raises(ValidationError) as excinfo:
            services.update_project(user=customer, project=project, overlap=4)
        assert set(errors_of(excinfo)) == {"max_overlap"}

    def test_qa_leads_may_not_change_a_project_but_staff_may(self, customer, staff):
        project = factories.project(customer, items=1)
        qa = factories.member(project.organization, role=Membership.Role.QA_LEAD)
        with pytest.raises(PermissionDenied):
            services.update_project(user=qa, project=project, name="x")
        services.update_project(user=staff, project=project, name="By an operator")
        project.refresh_from_db()
        assert project.name == "By an operator"


class TestOverlapChange:
    def test_raising_overlap_reopens_complete_items(self, customer):
        project = factories.project(customer, items=2, gold=1, overlap=1, max_overlap=3)
        done = answer(lease(project))
        services.update_project(user=customer, project=project, overlap=2)
        overlaps = dict(project.items.values_list("external_id", "overlap"))
        assert overlaps == {"item-0": 2, "item-1": 2, "gold-0": 1}
        item = Item.objects.get(pk=done.item_id)
        assert item.status == "in_progress"
        assert lease(project).item_id == item.pk

    def test_items_raised_by_dynamic_overlap_keep_their_extra_answers(self, customer):
        project = factories.project(customer, items=2, overlap=1, max_overlap=4)
        Item.objects.filter(external_id="item-0").update(overlap=3)
        services.update_project(user=customer, project=project, overlap=2)
        assert dict(project.items.values_list("external_id", "overlap")) == {
            "item-0": 3, "item-1": 2}

    def test_lowering_overlap_completes_items_that_hold_enough(self, customer, received):
        project = factories.project(customer, items=3, overlap=3, max_overlap=3)
        first, second = factories.expert(), factories.expert()
        for expert in [first, second]:
            answer(lease(project, expert))
        live = lease(project, first)
        assert live.item_id != Item.objects.get(external_id="item-0").pk
        services.update_project(user=customer, project=project, overlap=1)
        items = {i.external_id: i for i in project.items.all()}
        assert (items["item-0"].overlap, items["item-0"].status) == (2, "complete")
        assert items["item-2"].overlap == 1
        assert [kw["item"].external_id for kw in received["item_completed"]] == ["item-0"]
        assert "project_completed" not in received
        answer(live)
        answer(lease(project, second))
        project.refresh_from_db()
        assert project.status == Project.Status.COMPLETED


class TestTransitions:
    ACTIONS = ["activate", "pause", "complete", "archive"]
    ALLOWED = {
        ("draft", "activate"): "active", ("paused", "activate"): "active",
        ("active", "pause"): "paused",
        ("active", "complete"): "completed", ("paused", "complete"): "completed",
        ("draft", "archive"): "archived", ("paused", "archive"): "archived",
        ("completed", "archive"): "archived",
    }

    @pytest.mark.parametrize("source", ["draft", "active", "paused", "completed", "archived"])
    @pytest.mark.parametrize("action", ACTIONS)
    def test_every_transition(self, customer, received, source, action):
        project = factories.project(customer, items=1, activate=False)
        Project.objects.filter(pk=project.pk).update(status=source)
        target = self.ALLOWED.get((source, action))
        if target is None:
            with pytest.raises(Conflict) as excinfo:
                services.transition_project(user=customer, project=project, action=action)
            assert excinfo.value.code == "invalid_transition"
            target = source
        else:
            services.transition_project(user=customer, project=project, action=action)
        project.refresh_from_db()
        assert project.status == target
        assert bool(received.get("project_completed")) == (
            target == "completed" and source != "completed")

    def test_activation_needs_an_item_that_is_not_gold(self, customer):
        project = factories.project(customer, gold=2, activate=False)
        with pytest.raises(Conflict) as excinfo:
            services.transition_project(user=customer, project=project, action="activate")
        assert excinfo.value.code == "no_items"

    def test_qa_leads_may_not_move_a_project(self, customer):
        project = factories.project(customer, items=1)
        qa = factories.member(project.organization, role=Membership.Role.QA_LEAD)
        with pytest.raises(PermissionDenied):
            services.transition_project(user=qa, project=project, action="pause")


class TestApproval:
    def test_approve_submitted_work(self, customer, staff, received):
        project = factories.project(customer, items=1)
        assignment = answer(lease(project))
        services.approve_assignment(assignment, by=staff)
        assignment.refresh_from_db()
        assert assignment.status == "approved" and assignment.finished_at
        assert [(kw["assignment"].pk, kw["by"]) for kw in received["approved"]] == [
            (assignment.pk, staff)]
        with pytest.raises(Conflict):
            services.approve_assignment(assignment)

    def test_only_submitted_work_is_approved_or_rejected(self, customer):
        project = factories.project(customer, items=2)
        live = lease(project)
        with pytest.raises(Conflict):
            services.approve_assignment(live)
        with pytest.raises(Conflict):
            services.reject_assignment(live)

    def test_rejection_reopens_the_slot(self, customer):
        project = factories.project(customer, items=1, overlap=1)
        assignment = answer(lease(project))
        project.refresh_from_db()
        assert project.status == "completed"
        services.reject_assignment(assignment)
        item = Item.objects.get(pk=assignment.item_id)
        assert (item.filled, item.annotated, item.status) == (0, 0, "open")
        assert Assignment.objects.get(pk=assignment.pk).status == "rejected"

    def test_approved_work_can_still_be_rejected(self, customer):
        project = factories.project(customer, items=1, overlap=1)
        assignment = answer(lease(project))
        services.approve_assignment(assignment)
        services.reject_assignment(assignment)
        assert Item.objects.get(pk=assignment.item_id).annotated == 0

    def test_overturning_a_rejection_keeps_both_answers(self, customer, staff, received):
        project = factories.project(customer, items=2, overlap=1)
        rejected = answer(lease(project))
        services.reject_assignment(rejected)
        replacement = answer(lease(project))
        services.overturn_rejection(rejected, by=staff)
        item = Item.objects.get(pk=rejected.item_id)
        assert (item.overlap, item.filled, item.annotated) == (2, 2, 2)
        assert Assignment.objects.get(pk=rejected.pk).status == "approved"
        assert replacement.status == "submitted"
        assert [kw["by"] for kw in received["approved"]] == [staff]
        with pytest.raises(Conflict):
            services.overturn_rejection(rejected, by=staff)

    def test_overturning_before_a_refill_takes_the_free_slot(self, customer, staff):
        project = factories.project(customer, items=1, overlap=1)
        rejected = answer(lease(project))
        services.reject_assignment(rejected)
        services.overturn_rejection(rejected, by=staff)
        item = Item.objects.get(pk=rejected.item_id)
        assert (item.overlap, item.filled, item.annotated) == (1, 1, 1)

    def test_overturning_gold_work_leaves_counters_alone(self, customer, staff):
        project = factories.project(customer, items=1, gold=1, gold_rate="1")
        gold = answer(lease(project), choice="B")
        assert gold.is_gold
        services.reject_assignment(gold)
        services.overturn_rejection(gold, by=staff)
        item = Item.objects.get(pk=gold.item_id)
        assert (item.overlap, item.filled, item.annotated) == (1, 0, 0)
