"""Quality services below the API: trust bookkeeping, gold scoring, the review queue's
bookkeeping, disputes, and dynamic overlap under concurrent submissions on PostgreSQL."""

import random
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q

from accounts.models import Expertise
from quality import services, trust
from quality.models import Review, TrustScore
from tasks import services as task_services
from tasks.models import Assignment, Item
from tasks.routing import next_assignment
from tests import factories
from tests.concurrency import race

pytestmark = pytest.mark.django_db


class TestTrust:
    def test_rows_start_at_the_prior_and_fold_scores_in(self, expert, customer):
        project = factories.project(customer, items=1)
        row = services._fold_trust(expert.pk, [1.0, 0.5], project_id=project.pk)
        expected = trust.from_scores([1.0, 0.5])
        assert (row.alpha, row.beta, row.answers) == (expected.alpha, expected.beta, 2)
        row = services._fold_trust(expert.pk, [0.0], project_id=project.pk)
        expected = trust.from_scores([1.0, 0.5, 0.0])
        assert (row.mean, row.lower, row.answers) == (expected.mean, expected.lower, 3)
        assert TrustScore.objects.count() == 1

    def test_domain_trust_reaches_the_expertise_rounded(self, expert, customer):
        project = factories.project(customer, items=1)
        services._fold_domain_trust(expert.pk, project.domain_id, [1.0])
        expertise = Expertise.objects.get(expert_id=expert.pk, domain=project.domain)
        assert expertise.trust == Decimal("0.6000")


class TestScoringAgainstGold:
    QUESTIONS = [{"name": "tags", "kind": "multi_label", "options": ["a", "b", "c"]},
                 {"name": "grade", "kind": "rating", "min": 1, "max": 5},
                 {"name": "note", "kind": "text"},
                 {"name": "extra", "kind": "label", "options": ["x", "y"]}]

    def test_the_mean_over_questions_the_gold_covers(self):
        score, per_question = services.score_against_gold(
            self.QUESTIONS, {"tags": ["a", "b"], "grade": 4, "note": "fine", "extra": "x"},
            {"tags": ["a"], "grade": 5})
        assert per_question == {"tags": 0.5, "grade": 0.75}
        assert score == pytest.approx(0.625)

    def test_a_covered_question_left_unanswered_scores_zero(self):
        score, per_question = services.score_against_gold(
            self.QUESTIONS, {"tags": ["a"]}, {"tags": ["a"], "grade": 3})
        assert per_question == {"tags": 1.0, "grade": 0.0} and score == 0.5

    def test_nothing_scorable_gives_none(self):
        assert services.score_against_gold(self.QUESTIONS, {"note": "x"}, {}) == (None, {})


class TestDisputes:
    def project(self, **settings):
        """Only the settings a dispute reads; no database needed."""
        return SimpleNamespace(**{
            "agreement_threshold": Decimal("0.7"), "rating_spread_threshold": Decimal(1),
            "questions": [{"name": "side", "kind": "pairwise"},
                          {"name": "tags", "kind": "multi_label", "options": ["a", "b"]},
                          {"name": "grade", "kind": "rating", "min": 1, "max": 5},
                          {"name": "ranked", "kind": "ranking"}],
            **settings})

    def test_pairwise_strength_does_not_split_a_side(self):
        answers = [({"side": {"choice": "A", "strength": 1}}, 1.0),
                   ({"side": {"choice": "A", "strength": 3}}, 1.0)]
        assert not services.disputed(self.project(), answers)
        assert services.disputed(self.project(), [*answers, ({"side": "B"}, 1.0)])

    def test_multi_label_disputes_option_by_option(self):
        agree = [({"tags": ["a"]}, 0.5), ({"tags": ["a"]}, 0.5), ({"tags": ["a", "b"]}, 0.1)]
        assert not services.disputed(self.project(), agree)
        split = [({"tags": ["a"]}, 0.5), ({"tags": ["a", "b"]}, 0.5)]
        assert services.disputed(self.project(), split)

    def test_ratings_by_spread_and_rankings_never(self):
        assert not services.disputed(self.project(), [({"grade": 2}, 1), ({"grade": 3}, 1)])
        assert services.disputed(self.project(), [({"grade": 2}, 1), ({"grade": 4}, 1)])
        assert not services.disputed(self.project(rating_spread_threshold=Decimal(2)),
                                     [({"grade": 2}, 1), ({"grade": 4}, 1)])
        assert not services.disputed(self.project(), [({"ranked": [0, 1]}, 1),
                                                      ({"ranked": [1, 0]}, 1)])

    def test_a_single_answer_is_never_a_dispute(self):
        assert not services.disputed(self.project(), [({"side": "A", "grade": 1}, 1)])


class TestReviewQueueBookkeeping:
    def test_a_waiting_review_takes_the_more_urgent_reason_once(self, customer, expert):
        project = factories.project(customer, items=1)
        assignment = next_assignment(expert, project).assignment
        annotation = task_services.submit(assignment_id=assignment.pk, user=expert,
                                          answer={"better": "A"})
        services.enqueue_reviews([annotation.pk], project_id=project.pk, reason="sample")
        services.enqueue_reviews([annotation.pk], project_id=project.pk, reason="rule")
        services.enqueue_reviews([annotation.pk], project_id=project.pk, reason="disputed")
        review = Review.objects.get()
        assert (review.reason, review.priority) == ("rule", 30)


@pytest.mark.postgres
def test_concurrent_submissions_while_overlap_grows_keep_the_slot_invariant():
    owner = factories.customer()
    project = factories.project(
        owner, preset="classification", activate=False, overlap=2, max_overlap=4,
        questions=[{"name": "label", "kind": "label", "options": ["yes", "no"]}])
    Item.objects.bulk_create([Item(project=project, external_id=f"c-{n}",
                                   data={"text": f"Text {n}"}, overlap=2) for n in range(30)])
    task_services.transition_project(user=owner, project=project, action="activate")
    experts = [factories.expert() for _ in range(8)]

    def drain(expert, rng):
        """Answer the project's items until it has nothing left for this expert."""
        while True:
            try:
                assignment = next_assignment(expert, project, rng=rng).assignment
            except PermissionDenied as exc:
                assert "completed" in str(exc)
                return
            if assignment is None:
                return
            task_services.submit(assignment_id=assignment.pk, user=expert,
                                 answer={"label": rng.choice(["yes", "no"])})

    outcomes = race(*[lambda e=e, n=n: drain(e, random.Random(n))
                      for n, e in enumerate(experts)])
    assert outcomes == [None] * len(experts)
    # An overlap raised after the other experts stopped asking is answered by whoever is left.
    for n, expert in enumerate(experts):
        drain(expert, random.Random(n))
    project.refresh_from_db()
    assert project.status == "completed"
    items = Item.objects.filter(project=project).annotate(
        counted=Count("assignments", filter=Q(assignments__status__in=Assignment.COUNTED)),
        live=Count("assignments", filter=Q(assignments__status="assigned")))
    for item in items:
        assert item.filled <= item.overlap <= 4, item
        assert (item.annotated, item.filled) == (item.counted, item.counted + item.live), item
        assert item.annotated == item.overlap, item
    assert items.filter(overlap__gt=2).exists()
    disputed = set(Review.objects.filter(reason="disputed").values_list(
        "annotation__item_id", flat=True))
    for item in items.filter(pk__in=disputed):
        assert item.overlap == 4
        assert Review.objects.filter(annotation__item=item).count() == item.annotated
