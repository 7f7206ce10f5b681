"""Rule metrics over their windows, the four actions, their reversal and the scheduled run."""

import random
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from accounts.models import Domain, Expertise, Membership
from config.exceptions import Conflict
from quality import jobs, metrics, reviews, rules
from quality.models import GoldResult, QualityAction, QualityRule, Review
from tasks import services as task_services
from tasks.models import Annotation, Assignment, Item, ProjectExpert
from tasks.routing import next_assignment
from tests import factories

pytestmark = pytest.mark.django_db


def lease(project, expert):
    return next_assignment(expert, project, rng=random.Random(3)).assignment


def work(project, expert, value, duration_s=None):
    assignment = lease(project, expert)
    assert assignment is not None
    return task_services.submit(assignment_id=assignment.pk, user=expert, answer=value,
                                duration_s=duration_s)


def rule(project, metric="gold_accuracy", **options):
    values = {"window_size": 20, "min_evidence": 1, "comparator": "lt", "value": "0.5",
              "action": "flag", **options}
    return QualityRule(project=project, metric=metric, **values)


def measure(project, expert, metric, **options):
    return metrics.measure(rule(project, metric, **options), project, expert.pk)


@pytest.fixture
def project(customer):
    return factories.project(customer, items=8, gold=8, gold_rate="1", overlap=3,
                             max_overlap=3)


@pytest.fixture
def qa_lead(customer):
    return factories.member(factories.organization_of(customer), role=Membership.Role.QA_LEAD)


class TestMetrics:
    def test_gold_accuracy_reads_the_last_answers(self, project, expert):
        for choice in "BBAAA":
            work(project, expert, {"better": choice})
        assert measure(project, expert, "gold_accuracy") == metrics.Measurement(0.6, 5)
        assert measure(project, expert, "gold_accuracy", window_size=3).value == 1.0
        lower = measure(project, expert, "gold_accuracy_lower", window_size=3)
        assert lower.evidence == 3 and 0.3 < lower.value < 0.5

    def test_day_windows_and_a_fresh_start(self, project, expert):
        for choice in "BBA":
            work(project, expert, {"better": choice})
        GoldResult.objects.filter(score=0).update(created_at=timezone.now() - timedelta(days=3))
        assert measure(project, expert, "gold_accuracy", window="days",
                       window_size=2) == metrics.Measurement(1.0, 1)
        assert measure(project, expert, "gold_accuracy", window="days",
                       window_size=4) == metrics.Measurement(1 / 3, 3)
        since = timezone.now() - timedelta(days=1)
        found = metrics.measure(rule(project), project, expert.pk, since=since)
        assert found == metrics.Measurement(1.0, 1)

    def test_median_seconds_and_skip_rate(self, customer, expert):
        project = factories.project(customer, items=6)
        for seconds in [10, 30, 20]:
            work(project, expert, {"better": "A"}, duration_s=seconds)
        for _ in range(2):
            task_services.skip(assignment_id=lease(project, expert).pk, user=expert)
        lease(project, expert)  # a live lease is neither skipped nor answered
        assert measure(project, expert, "median_seconds") == metrics.Measurement(20, 3)
        assert measure(project, expert, "skip_rate") == metrics.Measurement(0.4, 5)
        assert measure(project, expert, "skip_rate", window_size=2).value == 1.0

    def test_agreement_with_the_other_experts(self, customer):
        project = factories.project(customer, items=3, overlap=3, max_overlap=3)
        odd, *others = (factories.expert() for _ in range(3))
        for expert in others:
            for _ in range(3):
                work(project, expert, {"better": "A"})
        answers = iter("BAB")
        for _ in range(3):
            work(project, odd, {"better": next(answers)})
        found = measure(project, odd, "agreement_with_consensus")
        assert found.evidence == 3 and found.value == pytest.approx(1 / 3)
        # Where the odd one out said B, the others of an A voter split A / B: the A scores
        # 1/2, the chance that a random tie-break picks it.
        assert measure(project, others[0], "agreement_with_consensus") == metrics.Measurement(
            pytest.approx(2 / 3), 3)

    def test_rejection_rate_counts_reviewed_work_as_it_stands(self, customer, qa_lead):
        project = factories.project(customer, items=4, review_rate="1")
        expert = factories.expert()
        annotations = [work(project, expert, {"better": "A"}) for _ in range(3)]
        for annotation, verdict in zip(annotations, ["reject", "reject", "accept"],
                                       strict=True):
            reviews.review_annotation(annotation_id=annotation.pk, reviewer=qa_lead,
                                       verdict=verdict, comment="Wrong side.")
        assert measure(project, expert, "rejection_rate") == metrics.Measurement(2 / 3, 3)
        reviews.overturn(annotation_id=annotations[0].pk, user=qa_lead)
        assert measure(project, expert, "rejection_rate") == metrics.Measurement(1 / 3, 3)

    def test_findings_in_words(self, project):
        finding = metrics.Measurement(0.45, 20)
        assert metrics.describe(rule(project, value="0.60"), finding) == (
            "Gold accuracy 0.45 over the last 20 answers is below 0.60")
        assert metrics.describe(rule(project, "median_seconds", comparator="lte", value="8",
                                   window="days", window_size=7),
                              metrics.Measurement(6.5, 12)) == (
            "Median seconds per task 6.5 over the last 7 days (12 answers) is at or below 8.0")


def bad_expert(project, answers=4):
    expert = factories.expert()
    for _ in range(answers):
        work(project, expert, {"better": "B"})
    return expert


class TestActions:
    def test_a_rule_acts_once_per_live_state(self, project):
        expert = bad_expert(project, 2)
        found = QualityRule.objects.create(project=project, metric="gold_accuracy",
                                           comparator="lt", value="0.5", action="flag",
                                           min_evidence=3)
        assert rules.evaluate_rules(project, expert.pk) == []
        work(project, expert, {"better": "B"})
        assert QualityAction.objects.get().rule == found
        assert rules.evaluate_rules(project, expert.pk) == []
        assert QualityAction.objects.count() == 1

    def test_require_review_queues_pending_work_and_everything_after(self, customer):
        project = factories.project(customer, items=6, gold=2, gold_rate="0.5")
        expert = factories.expert()
        for _ in range(3):
            work(project, expert, {"better": "B"})
        approved = Annotation.objects.filter(expert=expert).first()
        task_services.approve_assignment(approved.assignment)
        QualityRule.objects.create(project=project, metric="skip_rate", comparator="gte",
                                   value="0", action="require_review", min_evidence=1)
        action = rules.evaluate_rules(project, expert.pk)[0]
        assert ProjectExpert.objects.get(project=project, expert=expert).review_all
        assert action.details["queued_for_review"] == 2
        work(project, expert, {"better": "A"})
        assert Review.objects.filter(reason="rule").count() == 3
        assert not Review.objects.filter(annotation=approved).exists()
        rules.reverse_action(action_id=action.pk, user=customer, note="Reviewed enough.")
        assert not ProjectExpert.objects.get(project=project, expert=expert).review_all

    def test_remove_voids_unapproved_work_and_releases_leases(self, customer, project):
        expert = factories.expert()
        kept = work(project, expert, {"better": "B"})
        task_services.approve_assignment(kept.assignment)
        voided = [work(project, expert, {"better": "B"}) for _ in range(2)]
        live = lease(project, expert)
        Review.objects.create(annotation=voided[0], project=project, reason="sample")
        QualityRule.objects.create(project=project, metric="gold_accuracy", comparator="lt",
                                   value="0.5", action="remove", min_evidence=3)
        action = rules.evaluate_rules(project, expert.pk)[0]
        roster = ProjectExpert.objects.get(project=project, expert=expert)
        assert roster.access == "removed"
        assert roster.reason == "Gold accuracy 0.00 over the last 3 answers is below 0.50"
        statuses = dict(Assignment.objects.filter(expert=expert).values_list("pk", "status"))
        assert statuses == {kept.assignment_id: "approved",
                            voided[0].assignment_id: "rejected",
                            voided[1].assignment_id: "rejected", live.pk: "expired"}
        assert action.details["voided_assignments"] == [a.assignment_id for a in voided]
        assert action.details["released_assignments"] == [live.pk]
        for annotation in voided:
            review = Review.objects.get(annotation=annotation)
            assert (review.verdict, review.reviewer) == ("reject", None)
            assert review.comment.startswith("Voided: you were removed from the project.")
        with pytest.raises(PermissionDenied, match="removed from this project"):
            next_assignment(expert, project)
        assert rules.evaluate_rules(project, expert.pk) == []

        reversed_ = rules.reverse_action(action_id=action.pk, user=customer, note="Typo")
        assert reversed_.reversal_note == "Typo" and reversed_.reversed_by == customer
        assert "2 annotation(s) voided by the removal stay voided" in (
            reversed_.details["reversal"])
        assert ProjectExpert.objects.get(project=project, expert=expert).access == "allowed"
        assert Assignment.objects.filter(expert=expert, status="rejected").count() == 2
        # A fresh start: the old answers no longer count for this rule.
        assert rules.evaluate_rules(project, expert.pk) == []
        assert next_assignment(expert, project).assignment is not None

    def test_items_of_voided_work_reopen(self, customer):
        project = factories.project(customer, items=1, overlap=1)
        expert = factories.expert()
        work(project, expert, {"better": "A"})
        assert project.items.get().annotated == 1
        QualityRule.objects.create(project=project, metric="skip_rate", comparator="gte",
                                   value="0", action="remove", min_evidence=1)
        rules.evaluate_rules(project, expert.pk)
        item = project.items.get()
        assert (item.filled, item.annotated) == (0, 0)
        assert next_assignment(factories.expert(), project).assignment.item_id == item.pk

    def test_suspension_covers_the_domain_and_its_parent(self, customer, project):
        expert = factories.expert(domains=("medicine", "medicine-cardiology",
                                           "medicine-oncology"))
        for _ in range(3):
            work(project, expert, {"better": "B"})
        QualityRule.objects.create(project=project, metric="gold_accuracy", comparator="lt",
                                   value="0.5", action="suspend_domain", suspend_days=3,
                                   min_evidence=3)
        before = timezone.now()
        action = rules.evaluate_rules(project, expert.pk)[0]
        suspended = dict(Expertise.objects.filter(expert_id=expert.pk).values_list(
            "domain__slug", "suspended_until"))
        assert suspended["medicine-oncology"] is None
        for slug in ("medicine", "medicine-cardiology"):
            assert before + timedelta(days=3) <= suspended[slug] <= timezone.now() + timedelta(
                days=3)
        with pytest.raises(PermissionDenied, match="suspended"):
            next_assignment(expert, project)
        rules.reverse_action(action_id=action.pk, user=customer)
        assert not Expertise.objects.filter(expert_id=expert.pk,
                                            suspended_until__isnull=False).exists()
        assert next_assignment(expert, project).assignment is not None

    def test_suspension_on_a_parent_domain_project_covers_its_subdomains(self, customer):
        project = factories.project(customer, items=4, gold=4, gold_rate="1",
                                    domain="medicine")
        expert = factories.expert(domains=("medicine-cardiology", "medicine-oncology",
                                           "law-tax"))
        for _ in range(3):
            work(project, expert, {"better": "B"})
        QualityRule.objects.create(project=project, metric="gold_accuracy", comparator="lt",
                                   value="0.5", action="suspend_domain", suspend_days=3,
                                   min_evidence=3)
        rules.evaluate_rules(project, expert.pk)
        suspended = dict(Expertise.objects.filter(expert_id=expert.pk).values_list(
            "domain__slug", "suspended_until"))
        assert suspended["law-tax"] is None
        assert suspended["medicine-cardiology"] and suspended["medicine-oncology"]
        with pytest.raises(PermissionDenied, match="suspended in"):
            next_assignment(expert, project)

    def test_reversal_needs_a_qa_lead_and_happens_once(self, customer, project, qa_lead):
        expert = bad_expert(project, 3)
        QualityRule.objects.create(project=project, metric="gold_accuracy", comparator="lt",
                                   value="0.5", action="flag", min_evidence=3)
        action = rules.evaluate_rules(project, expert.pk)[0]
        member = factories.member(factories.organization_of(customer))
        for user in [member, factories.customer(), expert]:
            with pytest.raises(PermissionDenied):
                rules.reverse_action(action_id=action.pk, user=user)
        rules.reverse_action(action_id=action.pk, user=qa_lead)
        with pytest.raises(Conflict):
            rules.reverse_action(action_id=action.pk, user=qa_lead)


class TestRuleSettings:
    def test_qa_leads_declare_rules_and_values_are_checked(self, customer, project, qa_lead):
        created = rules.create_rule(user=qa_lead, project=project, metric="skip_rate",
                                       comparator="gt", value="0.3", action="flag")
        assert created.created_by == qa_lead
        with pytest.raises(ValidationError, match="share between 0 and 1"):
            rules.create_rule(user=qa_lead, project=project, metric="skip_rate",
                                 comparator="gt", value="3", action="flag")
        with pytest.raises(PermissionDenied):
            rules.create_rule(user=factories.member(factories.organization_of(customer)),
                                 project=project, metric="skip_rate", comparator="gt",
                                 value="0.3", action="flag")
        changed = rules.update_rule(user=qa_lead, rule=created, metric="median_seconds",
                                       value="12")
        changed.refresh_from_db()
        assert (changed.metric, str(changed.value)) == ("median_seconds", "12.0000")
        rules.delete_rule(user=qa_lead, rule=changed)
        assert not QualityRule.objects.exists()


class TestJobs:
    def test_the_scheduled_run_catches_what_time_changed(self, customer, project):
        expert = bad_expert(project, 3)
        QualityRule.objects.create(project=project, metric="gold_accuracy", window="days",
                                   window_size=1, comparator="gt", value="0.5",
                                   action="flag", min_evidence=1)
        work(project, expert, {"better": "A"})
        assert not QualityAction.objects.exists()
        GoldResult.objects.filter(score=0).update(created_at=timezone.now() - timedelta(days=2))
        assert jobs.evaluate_rules() == 1
        assert jobs.evaluate_rules() == 0
        assert QualityAction.objects.get().expert == expert


def test_items_counts_stay_consistent_after_removal(customer):
    project = factories.project(customer, items=3, overlap=2, max_overlap=2)
    expert, other = factories.expert(), factories.expert()
    for _ in range(3):
        work(project, expert, {"better": "A"})
    work(project, other, {"better": "A"})
    QualityRule.objects.create(project=project, metric="skip_rate", comparator="gte",
                               value="0", action="remove", min_evidence=3)
    rules.evaluate_rules(project, expert.pk)
    for item in Item.objects.filter(project=project):
        counted = item.assignments.filter(status__in=["submitted", "approved"]).count()
        live = item.assignments.filter(status="assigned").count()
        assert (item.annotated, item.filled) == (counted, counted + live)
    assert Domain.objects.filter(slug="medicine-cardiology").exists()
