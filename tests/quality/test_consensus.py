"""Consensus per question kind, with a reviewer's fix winning over every one of them."""

import numpy as np
import pytest
from django.utils import timezone

from quality.consensus import consensus
from quality.models import Review, TrustScore
from tasks.models import Annotation, Item
from tests import factories
from tests.factories import recorded_answer as answer
from tests.quality.test_report import PREFERENCE_FIELDS, make_project

pytestmark = pytest.mark.django_db


def item(project, n, **data):
    return Item.objects.create(project=project, external_id=f"i{n}", overlap=3,
                               data={"text": "the quick brown fox", "completions": ["p", "q"],
                                     **data})


def by_external_id(project, **options):
    return {c.external_id: c for c in consensus(project, **options)}


def trust(project, expert, mean):
    TrustScore.objects.create(expert=expert, project=project, alpha=1, beta=1, mean=mean,
                              lower=mean / 2)


def test_trust_weighted_dawid_skene_beats_a_coordinated_wrong_majority(customer):
    """Three low-trust experts systematically give the next label; two experts with a gold
    record are right. The majority follows the three, Dawid-Skene the two."""
    options = ["x", "y", "z"]
    project = make_project(customer, [{"name": "kind", "kind": "label", "options": options}],
                           PREFERENCE_FIELDS)
    experts = [factories.expert() for _ in range(5)]
    for expert, mean in zip(experts, [0.95, 0.9, 0.3, 0.25, 0.2], strict=True):
        trust(project, expert, mean)
    rng = np.random.default_rng(5)
    truth = rng.integers(0, 3, size=90)
    for n, label in enumerate(truth):
        it = item(project, n)
        for e, expert in enumerate(experts):
            right = rng.random() < 0.9
            given = label if e < 2 else (label + 1) % 3
            answer(project, it, expert, {"kind": options[given if right else rng.integers(3)]})
    result = by_external_id(project)
    chosen = [result[f"i{n}"].questions["kind"] for n in range(90)]
    truths = [options[t] for t in truth]
    assert np.mean([c.details["majority"] == t for c, t in zip(chosen, truths, strict=True)]) < 0.2
    assert np.mean([c.answer == t for c, t in zip(chosen, truths, strict=True)]) > 0.95
    assert all(c.method == "dawid_skene" and 0.5 < c.confidence <= 1 for c in chosen)
    # Agreement is the share of the item's answers that match the chosen label.
    first = chosen[0]
    answers = Annotation.objects.filter(item__external_id="i0", project=project)
    assert first.agreement == pytest.approx(
        np.mean([a.answer["kind"] == first.answer for a in answers]))
    assert first.annotations == 5


def test_experts_without_trust_weigh_the_prior_mean(customer):
    project = make_project(customer, [{"name": "kind", "kind": "label",
                                       "options": ["x", "y"]}])
    experts = [factories.expert() for _ in range(3)]
    it = item(project, 0)
    for expert, label in zip(experts, "xxy", strict=True):
        answer(project, it, expert, {"kind": label})
    (result,) = consensus(project)
    kind = result.questions["kind"]
    # Three answers are too few to learn the experts' confusion from: the vote decides.
    assert (kind.answer, kind.method) == ("x", "weighted_majority")
    assert kind.confidence == pytest.approx(2 / 3)
    assert kind.details == {"majority": "x", "majority_share": 2 / 3, "tied": False}


def test_ratings_median_and_mean(customer):
    questions = [{"name": "ord", "kind": "rating", "min": 1, "max": 5},
                 {"name": "int", "kind": "rating", "min": 1, "max": 5, "level": "interval"}]
    project = make_project(customer, questions)
    it = item(project, 0)
    for value in (1, 4, 5):
        answer(project, it, factories.expert(), {"ord": value, "int": value})
    (result,) = consensus(project)
    ordinal, interval = result.questions["ord"], result.questions["int"]
    assert (ordinal.answer, ordinal.method) == (4.0, "median")
    assert (interval.answer, interval.method) == (pytest.approx(10 / 3), "mean")
    assert ordinal.details == {"median": 4.0, "mean": pytest.approx(10 / 3)}
    assert ordinal.confidence == pytest.approx(1 - np.std([1, 4, 5]) / 2)
    # 1 - |answer - 4| / 4 for the answers 1, 4 and 5.
    assert ordinal.agreement == pytest.approx((0.25 + 1 + 0.75) / 3)


def test_pairwise_bradley_terry_with_ties(customer):
    questions = [{"name": "better", "kind": "pairwise", "field": "completions"},
                 {"name": "sure", "kind": "pairwise", "field": "completions",
                  "strength": True}]
    project = make_project(customer, questions, PREFERENCE_FIELDS)
    for n, choices in enumerate([["A", "A", "B"], ["tie", "tie"], ["B"]]):
        it = item(project, n)
        for choice in choices:
            answer(project, it, factories.expert(),
                   {"better": choice, "sure": {"choice": choice, "strength": 1 + n}})
    result = by_external_id(project)
    first = result["i0"].questions["better"]
    assert (first.answer, first.method) == ("A", "bradley_terry")
    # choix's regularisation makes two choices Laplace's rule: (wins + 1) / (votes + 2).
    assert first.confidence == pytest.approx(3 / 5)
    assert first.agreement == pytest.approx(2 / 3)
    assert first.details == {"majority": "A", "tied": False}
    assert result["i1"].questions["better"].answer == "tie"
    assert result["i1"].questions["better"].confidence == pytest.approx(0.5)
    assert result["i2"].questions["better"].answer == "B"
    assert result["i0"].questions["sure"].answer == {"choice": "A", "strength": 1}
    assert result["i2"].questions["sure"].answer == {"choice": "B", "strength": 3}


def test_ranking_bradley_terry_order(customer):
    project = make_project(customer, [{"name": "order", "kind": "ranking",
                                       "field": "completions"}], PREFERENCE_FIELDS)
    it = item(project, 0, completions=["p", "q", "r"])
    for order in ([2, 0, 1], [2, 1, 0], [0, 2, 1]):
        answer(project, it, factories.expert(), {"order": order})
    (result,) = consensus(project)
    ranking = result.questions["order"]
    assert ranking.answer == [2, 0, 1]
    assert 0.5 < ranking.confidence < 1
    assert ranking.scores.argmax() == 2


def test_multi_label_and_spans(customer):
    questions = [{"name": "flags", "kind": "multi_label", "options": ["u", "v", "w"]},
                 {"name": "tags", "kind": "spans", "field": "text", "options": ["ANIMAL"]}]
    project = make_project(customer, questions)
    it = item(project, 0)
    fox = {"start": 16, "end": 19, "label": "ANIMAL"}
    for flags, tags in ((["u", "v"], [fox]), (["u"], [fox]), (["w"], [])):
        answer(project, it, factories.expert(), {"flags": flags, "tags": tags})
    (result,) = consensus(project)
    assert result.questions["flags"].answer == ["u"]
    assert result.questions["tags"].answer == [fox]
    assert result.questions["tags"].method == "majority"
    assert 0 < result.questions["flags"].agreement < 1


def test_a_reviewers_fix_wins(customer):
    questions = [{"name": "kind", "kind": "label", "options": ["x", "y"]},
                 {"name": "score", "kind": "rating", "min": 1, "max": 5}]
    project = make_project(customer, questions)
    it = item(project, 0)
    annotations = [answer(project, it, factories.expert(), {"kind": "x", "score": 2})
                   for _ in range(3)]
    Annotation.objects.filter(pk=annotations[0].pk).update(
        final_answer={"kind": "y", "score": 5})
    (result,) = consensus(project)
    kind = result.questions["kind"]
    assert (kind.answer, kind.confidence, kind.method) == ("y", 1.0, "review")
    assert kind.agreement == 0.0 and kind.annotations == 3
    assert result.questions["score"].answer == 5
    assert result.questions["score"].agreement == pytest.approx(0.25)


def test_text_is_the_reviewers_pick(customer):
    project = make_project(customer, [{"name": "note", "kind": "text"}])
    picked, other = item(project, 0), item(project, 1)
    first = answer(project, picked, factories.expert(), {"note": "first"})
    second = answer(project, picked, factories.expert(), {"note": "second"})
    answer(project, other, factories.expert(), {"note": "unreviewed"})
    now = timezone.now()
    for annotation, verdict in ((first, "accept"), (second, "fix")):
        Review.objects.create(annotation=annotation, project=project, reason="sample",
                              verdict=verdict, decided_at=now)
    Annotation.objects.filter(pk=second.pk).update(final_answer={"note": "second, fixed"})
    result = by_external_id(project)
    note = result["i0"].questions["note"]
    assert (note.answer, note.method, note.annotations) == ("second, fixed", "review", 2)
    assert result["i1"].questions["note"].answer is None


def test_text_without_a_pick_is_the_answer_closest_to_the_others(customer):
    project = make_project(customer, [{"name": "note", "kind": "text"}])
    it = item(project, 0)
    # The second shares most words with the first and more than it with the third.
    for text in ("Aspirin lowers heart attack risk.",
                 "Aspirin lowers heart attack risk in adults.",
                 "Adults should take aspirin with food."):
        answer(project, it, factories.expert(), {"note": text})
    note = by_external_id(project)["i0"].questions["note"]
    assert note.answer == "Aspirin lowers heart attack risk in adults."
    assert note.method == "text_similarity" and note.details == {"tied": False}
    assert 0 < note.confidence < 1 and note.annotations == 3


def test_items_without_answers_and_chunks(customer):
    project = make_project(customer, [{"name": "kind", "kind": "label",
                                       "options": ["x", "y"]}])
    for n in range(5):
        it = item(project, n)
        if n != 3:
            for label in "xxy" if n % 2 else "yyx":
                answer(project, it, factories.expert(), {"kind": label})
    whole = by_external_id(project)
    assert whole["i3"].questions["kind"].as_dict() == {
        "answer": None, "confidence": None, "agreement": None, "annotations": 0,
        "method": None}
    chunked = by_external_id(project, chunk_items=2)
    assert [c.questions["kind"].answer for c in chunked.values()] == [
        c.questions["kind"].answer for c in whole.values()] == ["y", "x", "y", None, "y"]
