"""What happens when an expert submits: gold scoring and trust, dynamic overlap, the review
queue, and rules evaluated for the submitting expert."""

import random

import pytest

from accounts.models import Domain, Expertise
from quality import trust
from quality.models import GoldResult, QualityAction, QualityRule, Review, TrustScore
from quality.review_queue import sampled_for_review
from tasks import services as task_services
from tasks.models import Annotation, Item, ProjectExpert
from tasks.routing import next_assignment
from tasks.signals import item_completed
from tests import factories

pytestmark = pytest.mark.django_db


def lease(project, expert):
    return next_assignment(expert, project, rng=random.Random(7)).assignment


def answer(assignment, value):
    return task_services.submit(assignment_id=assignment.pk, user=assignment.expert,
                                answer=value)


def work(project, expert, value):
    assignment = lease(project, expert)
    assert assignment is not None
    return answer(assignment, value)


def trust_of(expert, **scope):
    return TrustScore.objects.get(expert=expert, **scope)


def expertise_trust(expert, slug="medicine-cardiology"):
    return float(Expertise.objects.get(expert_id=expert.pk, domain__slug=slug).trust)


@pytest.fixture
def gold_project(customer):
    return factories.project(customer, items=2, gold=6, gold_rate="1")


class TestGoldScoring:
    def test_a_gold_answer_is_scored_per_question_with_text_left_out(self, gold_project,
                                                                     expert):
        annotation = work(gold_project, expert, {"better": "A", "rewrite": "Shorter."})
        assert annotation.assignment.is_gold
        result = GoldResult.objects.get(annotation_id=annotation.pk)
        assert (result.score, result.per_question) == (1.0, {"better": 1.0})
        assert (result.project_id, result.expert_id) == (gold_project.pk, expert.pk)

    def test_trust_grows_per_project_and_per_domain_and_reaches_routing(self, gold_project,
                                                                        expert):
        work(gold_project, expert, {"better": "A"})
        expected = trust.from_scores([1.0])
        for scope in ({"project": gold_project}, {"domain": gold_project.domain}):
            row = trust_of(expert, **scope)
            assert (row.alpha, row.beta, row.answers) == (3.0, 2.0, 1)
            assert row.mean == pytest.approx(expected.mean)
            assert row.lower == pytest.approx(expected.lower)
        assert expertise_trust(expert) == pytest.approx(0.6, abs=1e-4)

    def test_two_lucky_answers_do_not_make_a_perfect_expert(self, gold_project, expert):
        for _ in range(2):
            work(gold_project, expert, {"better": "A"})
        row = trust_of(expert, project=gold_project)
        assert row.answers == 2
        assert row.mean == pytest.approx(4 / 6)
        assert row.lower < 0.4
        assert expertise_trust(expert) == pytest.approx(0.6667, abs=1e-4)

    def test_wrong_answers_pull_trust_below_the_prior(self, gold_project, expert):
        for _ in range(3):
            work(gold_project, expert, {"better": "B"})
        assert trust_of(expert, domain=gold_project.domain).mean == pytest.approx(2 / 7)
        assert expertise_trust(expert) == pytest.approx(0.2857, abs=1e-4)
        assert list(GoldResult.objects.values_list("score", flat=True)) == [0.0] * 3

    def test_no_expertise_row_is_created_for_the_domain(self, customer):
        project = factories.project(customer, items=1, gold=2, gold_rate="1",
                                    require_qualification=False)
        generalist = factories.expert(domains=("medicine",))
        work(project, generalist, {"better": "A"})
        assert trust_of(generalist, domain=project.domain).answers == 1
        assert not Expertise.objects.filter(expert_id=generalist.pk,
                                            domain=project.domain).exists()
        assert expertise_trust(generalist, "medicine") == 0.5

    def test_ordinary_items_are_not_scored(self, customer, expert):
        project = factories.project(customer, items=2)
        work(project, expert, {"better": "A"})
        assert not GoldResult.objects.exists()
        assert not TrustScore.objects.exists()


def classification(customer, *, items=1, **options):
    project = factories.project(
        customer, preset="classification", activate=False,
        questions=[{"name": "label", "kind": "label", "options": ["yes", "no", "maybe"]},
                   {"name": "score", "kind": "rating", "min": 1, "max": 5,
                    "required": False}],
        **options)
    Item.objects.bulk_create([Item(project=project, external_id=f"c-{n}",
                                   data={"text": f"Text {n}"}, overlap=project.overlap)
                              for n in range(items)])
    task_services.transition_project(user=customer, project=project, action="activate")
    return project


class TestDynamicOverlap:
    def test_agreeing_answers_complete_the_item(self, customer):
        project = classification(customer, overlap=2, max_overlap=4)
        completed = []
        item_completed.connect(receiver := lambda sender, item, **kw: completed.append(item.pk))
        try:
            for _ in range(2):
                work(project, factories.expert(), {"label": "yes"})
        finally:
            item_completed.disconnect(receiver)
        item = project.items.get()
        assert (item.overlap, item.annotated) == (2, 2)
        assert completed == [item.pk]

    def test_disagreement_asks_for_one_more_answer_up_to_max_overlap(self, customer):
        project = classification(customer, overlap=2, max_overlap=3)
        completed = []
        item_completed.connect(receiver := lambda sender, item, **kw: completed.append(item.pk))
        try:
            work(project, factories.expert(), {"label": "yes"})
            work(project, factories.expert(), {"label": "no"})
            item = project.items.get()
            assert (item.overlap, item.filled, item.annotated) == (3, 2, 2)
            assert completed == []
            work(project, factories.expert(), {"label": "yes"})
        finally:
            item_completed.disconnect(receiver)
        item.refresh_from_db()
        # Two to one is a share of 0.67, below the 0.70 threshold, and overlap is at its max:
        # the item is complete, but its answers wait for a QA lead.
        assert (item.overlap, item.annotated) == (3, 3)
        assert completed == [item.pk]
        reviews = Review.objects.filter(annotation__item=item)
        assert sorted(reviews.values_list("reason", "verdict")) == [("disputed", "")] * 3
        assert set(Annotation.objects.values_list("held_for_review", flat=True)) == {True}

    def test_a_lower_threshold_accepts_two_to_one(self, customer):
        project = classification(customer, overlap=3, max_overlap=4,
                                 agreement_threshold="0.60")
        for label in ["yes", "no", "yes"]:
            work(project, factories.expert(), {"label": label})
        assert project.items.get().overlap == 3
        assert not Review.objects.exists()

    def test_answers_are_weighted_by_project_trust(self, customer):
        project = classification(customer, overlap=2, max_overlap=3)
        trusted, doubtful = factories.expert(), factories.expert()
        for expert, mean in [(trusted, 0.9), (doubtful, 0.2)]:
            TrustScore.objects.create(expert=expert, project=project, alpha=1, beta=1,
                                      mean=mean, lower=0)
        work(project, trusted, {"label": "yes"})
        work(project, doubtful, {"label": "no"})
        # 0.9 / 1.1 = 0.82 of the weight leads: no dispute.
        assert project.items.get().overlap == 2

    def test_ratings_dispute_on_their_spread(self, customer):
        project = classification(customer, overlap=2, max_overlap=3,
                                 rating_spread_threshold="1")
        work(project, factories.expert(), {"label": "yes", "score": 2})
        work(project, factories.expert(), {"label": "yes", "score": 3})
        assert project.items.get().overlap == 2
        other = classification(customer, overlap=2, max_overlap=3)
        work(other, factories.expert(), {"label": "yes", "score": 1})
        work(other, factories.expert(), {"label": "yes", "score": 4})
        assert other.items.get().overlap == 3

    def test_without_room_to_grow_disputes_go_to_review(self, customer):
        project = classification(customer, overlap=2)
        work(project, factories.expert(), {"label": "yes"})
        work(project, factories.expert(), {"label": "maybe"})
        assert project.items.get().overlap == 2
        assert Review.objects.filter(project=project, reason="disputed").count() == 2


class TestReviewQueue:
    def test_the_sample_is_a_reproducible_share(self):
        picked = [pk for pk in range(1, 2001) if sampled_for_review(pk, "0.25")]
        assert 400 < len(picked) < 600
        assert picked == [pk for pk in range(1, 2001) if sampled_for_review(pk, "0.25")]
        assert not any(sampled_for_review(pk, 0) for pk in range(1, 200))
        assert all(sampled_for_review(pk, 1) for pk in range(1, 200))

    def test_sampled_work_waits_for_review_and_gold_is_not_sampled(self, customer, expert):
        project = factories.project(customer, items=1, gold=1, review_rate="1",
                                    gold_rate="0.5")
        work(project, expert, {"better": "A"})
        work(project, expert, {"better": "A"})
        review = Review.objects.get()
        assert (review.reason, review.priority, review.verdict) == ("sample", 10, "")
        assert not review.annotation.assignment.is_gold
        assert review.annotation.held_for_review

    def test_review_all_sends_every_answer(self, customer, expert):
        project = factories.project(customer, items=2, gold=1, gold_rate="0.5")
        ProjectExpert.objects.create(project=project, expert=expert, review_all=True)
        work(project, expert, {"better": "A"})
        work(project, expert, {"better": "B"})
        assert list(Review.objects.values_list("reason", "priority")) == [("rule", 30)] * 2
        assert Annotation.objects.filter(held_for_review=True).count() == 2


def test_rules_are_evaluated_for_the_submitting_expert(customer):
    project = factories.project(customer, items=2, gold=6, gold_rate="1")
    QualityRule.objects.create(project=project, metric="gold_accuracy", window_size=10,
                               min_evidence=3, comparator="lt", value="0.5", action="flag")
    careless, careful = factories.expert(), factories.expert()
    for _ in range(2):
        work(project, careless, {"better": "B"})
        work(project, careful, {"better": "A"})
    assert not QualityAction.objects.exists()
    work(project, careless, {"better": "B"})
    work(project, careful, {"better": "A"})
    action = QualityAction.objects.get()
    assert (action.expert, action.action) == (careless, "flag")
    assert action.reason == "Gold accuracy 0.00 over the last 3 answers is below 0.50"
    work(project, careless, {"better": "B"})
    assert QualityAction.objects.count() == 1


def test_gold_answers_leave_other_domains_alone(customer):
    oncology = Domain.objects.get(slug="medicine-oncology")
    expert = factories.expert(domains=("medicine-cardiology", "medicine-oncology"))
    project = factories.project(customer, items=1, gold=2, gold_rate="1")
    work(project, expert, {"better": "A"})
    assert not TrustScore.objects.filter(domain=oncology).exists()
    assert expertise_trust(expert, "medicine-oncology") == 0.5
    assert expertise_trust(expert) == pytest.approx(0.6)
