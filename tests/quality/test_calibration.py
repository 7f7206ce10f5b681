"""The calibration setting: its rule, its checks, and a new expert's way through it."""

import random
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from accounts.models import Membership
from quality import calibration, rules
from quality.calibration import Calibration
from quality.models import QualityAction, QualityRule
from tasks import services as task_services
from tasks.models import ProjectExpert
from tasks.routing import gold_rate_for, next_assignment
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def project(customer):
    return factories.project(customer, items=30, gold=20, overlap=3, max_overlap=3)


@pytest.fixture
def qa_lead(customer):
    return factories.member(factories.organization_of(customer), role=Membership.Role.QA_LEAD)


def work(project, expert, rng, choice="A"):
    """Lease the expert's next item and answer it; whether it was gold."""
    assignment = next_assignment(expert, project, rng=rng).assignment
    assert assignment is not None
    task_services.submit(assignment_id=assignment.pk, user=expert, answer={"better": choice})
    return assignment.is_gold


class TestSetting:
    def test_defaults_set_the_gold_and_the_rule(self, project, qa_lead):
        found = calibration.set_calibration(project=project, by=qa_lead)
        assert found == Calibration(enabled=True, gold_first=5, gold_rate=Decimal("0.10"),
                                    min_lower_bound=Decimal("0.70"), min_gold=20,
                                    removed_experts=0)
        project.refresh_from_db()
        assert (project.gold_first, project.gold_rate) == (5, Decimal("0.100"))
        rule = QualityRule.objects.get(project=project)
        assert (rule.preset, rule.metric, rule.window, rule.window_size, rule.min_evidence,
                rule.comparator, rule.value, rule.action, rule.active) == (
            "calibration", "gold_accuracy_lower", "answers", 20, 20, "lt", Decimal("0.7"),
            "remove", True)
        assert calibration.calibration_of(project) == found

    def test_changing_it_changes_the_one_rule(self, project, customer):
        calibration.set_calibration(project=project, by=customer)
        found = calibration.set_calibration(project=project, by=customer, gold_first=3,
                                            gold_rate=Decimal("0.25"),
                                            min_lower_bound=Decimal("0.55"), min_gold=12)
        assert (found.gold_first, found.gold_rate, found.min_lower_bound, found.min_gold) == (
            3, Decimal("0.25"), Decimal("0.55"), 12)
        rule = QualityRule.objects.get(project=project)
        assert (rule.window_size, rule.min_evidence, rule.value) == (20, 12, Decimal("0.55"))
        project.items.filter(is_gold=False).update(is_gold=True, gold={"better": "A"})
        calibration.set_calibration(project=project, by=customer, min_gold=30,
                                    min_lower_bound=Decimal("0.8"))
        assert QualityRule.objects.get(project=project).window_size == 30

    def test_a_rule_of_the_customer_own_is_left_alone(self, project, customer):
        own = rules.create_rule(user=customer, project=project, metric="skip_rate",
                                comparator="gt", value=Decimal("0.5"), action="flag")
        calibration.set_calibration(project=project, by=customer)
        calibration.clear_calibration(project=project, by=customer)
        own.refresh_from_db()
        assert own.active and own.preset == ""

    def test_clearing_stops_gold_first_and_the_rule(self, project, customer):
        calibration.set_calibration(project=project, by=customer, gold_first=4)
        found = calibration.clear_calibration(project=project, by=customer)
        assert not found.enabled
        project.refresh_from_db()
        assert project.gold_first == 0
        assert not QualityRule.objects.get(project=project).active
        again = calibration.set_calibration(project=project, by=customer)
        assert again.enabled and QualityRule.objects.filter(project=project).count() == 1

    @pytest.mark.parametrize(("values", "field"), [
        ({"gold_first": 0}, "gold_first"), ({"gold_first": 51}, "gold_first"),
        ({"gold_rate": Decimal("0")}, "gold_rate"), ({"gold_rate": Decimal("1.5")}, "gold_rate"),
        ({"min_lower_bound": Decimal("-0.1")}, "min_lower_bound"),
        ({"min_lower_bound": Decimal("1.01")}, "min_lower_bound"),
        ({"min_gold": 0}, "min_gold"),
    ])
    def test_bad_numbers_are_refused_by_name(self, project, customer, values, field):
        with pytest.raises(ValidationError) as excinfo:
            calibration.set_calibration(project=project, by=customer, **values)
        assert list(excinfo.value.message_dict) == [field]
        project.refresh_from_db()
        assert project.gold_first == 0 and not QualityRule.objects.exists()

    def test_too_few_gold_items_are_refused_with_what_is_needed(self, customer):
        project = factories.project(customer, items=2, gold=3)
        with pytest.raises(ValidationError) as excinfo:
            calibration.set_calibration(project=project, by=customer)
        assert excinfo.value.message_dict == {"gold_first": [
            "The project has 3 gold items; calibration serves 5 first and judges an expert "
            "on 20 gold answers, and no expert sees an item twice, so it needs at least 20. "
            "Upload more gold items or lower these numbers."]}
        with pytest.raises(ValidationError) as excinfo:
            calibration.set_calibration(project=project, by=customer, gold_first=3)
        assert list(excinfo.value.message_dict) == ["min_gold"]
        assert calibration.set_calibration(project=project, by=customer, gold_first=3,
                                           min_gold=3, min_lower_bound=Decimal("0.3")).enabled

    def test_a_bound_no_flawless_expert_clears_is_refused(self, project, customer):
        with pytest.raises(ValidationError) as excinfo:
            calibration.set_calibration(project=project, by=customer, min_gold=10)
        assert excinfo.value.message_dict == {"min_gold": [
            "With 10 gold answers even an expert who gets every one right has a lower bound "
            "of 0.68, under 0.70, and would be removed: judge on at least 11 gold answers or "
            "lower the bound to 0.68 at most."]}
        assert calibration.perfect_lower_bound(11) >= 0.70
        assert calibration.set_calibration(project=project, by=customer, min_gold=11).enabled

    def test_members_without_the_review_right_are_refused(self, project, customer):
        member = factories.member(factories.organization_of(customer))
        with pytest.raises(PermissionDenied):
            calibration.set_calibration(project=project, by=member)
        with pytest.raises(PermissionDenied):
            calibration.clear_calibration(project=project, by=member)


class TestANewExpert:
    def test_gets_gold_first_then_gold_at_the_hidden_rate(self, project, customer):
        calibration.set_calibration(project=project, by=customer, gold_first=4,
                                    gold_rate=Decimal("0.10"))
        expert = factories.expert()
        rng = random.Random(7)
        assert [work(project, expert, rng) for _ in range(4)] == [True] * 4
        project.refresh_from_db()
        assert gold_rate_for(project, expert, timezone.now()) == pytest.approx(0.10)
        later = [work(project, expert, rng) for _ in range(20)]
        assert 0 < sum(later) <= 5

    def test_calibration_off_serves_no_gold_first(self, project, customer):
        calibration.set_calibration(project=project, by=customer, gold_first=4)
        calibration.clear_calibration(project=project, by=customer)
        expert = factories.expert()
        rng = random.Random(7)
        assert [work(project, expert, rng) for _ in range(6)] != [True] * 6

    def test_below_the_bound_is_removed_with_the_reason_shown_and_a_qa_lead_lets_them_back(
            self, project, customer, qa_lead, api):
        calibration.set_calibration(project=project, by=customer, gold_first=5, min_gold=5,
                                    min_lower_bound=Decimal("0.50"))
        careless, careful = factories.expert(), factories.expert()
        rng = random.Random(11)
        for _ in range(4):
            work(project, careless, rng, choice="B")
            work(project, careful, rng, choice="A")
        assert not QualityAction.objects.exists()
        work(project, careless, rng, choice="B")
        work(project, careful, rng, choice="A")

        action = QualityAction.objects.get()
        assert (action.expert, action.action) == (careless, "remove")
        reason = "Gold accuracy (lower bound) 0.05 over the last 5 answers is below 0.50"
        assert action.reason == reason
        roster = ProjectExpert.objects.get(project=project, expert=careless)
        assert (roster.access, roster.reason) == ("removed", reason)
        with pytest.raises(PermissionDenied, match=r"removed from this project: Gold accuracy"):
            next_assignment(careless, project, rng=rng)
        api.force_authenticate(careless)
        [shown] = api.get("/api/v1/me/quality-actions/").json()["results"]
        assert (shown["action"], shown["reason"], shown["active"]) == ("remove", reason, True)
        assert calibration.calibration_of(project).removed_experts == 1
        assert next_assignment(careful, project, rng=rng).assignment is not None

        rules.reverse_action(action_id=action.pk, user=qa_lead, note="Misread gold item.")
        assert calibration.calibration_of(project).removed_experts == 0
        assert next_assignment(careless, project, rng=rng).assignment is not None
