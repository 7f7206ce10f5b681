"""The agreement report on a small project whose numbers can be checked by hand or against
the reference packages on the same reliability matrices."""


import krippendorff
import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from accounts.models import Domain
from quality import metrics, report
from quality.models import GoldResult, JudgeAnnotation, QualityRule
from quality.units import build_units
from tasks import services as task_services
from tasks.export import expert_pseudonym
from tasks.models import Annotation, Assignment, Item
from tests import factories
from tests.factories import recorded_answer as answer

pytestmark = pytest.mark.django_db

OPTIONS = ["a", "b", "c"]
QUESTIONS = [
    {"name": "topic", "kind": "label", "options": OPTIONS},
    {"name": "quality", "kind": "rating", "min": 1, "max": 5},
    {"name": "note", "kind": "text", "required": False},
]
# Three experts on twelve items: the third disagrees on items 1, 3, 5, 9, the second on 11.
TOPIC = [list("aabbccabcabc"), list("aabbccabcaba"), list("abbccaabcbbc")]
QUALITY = [[5, 4, 3, 2, 1, 5, 4, 3, 2, 1, 5, 4],
           [5, 4, 3, 2, 1, 4, 4, 3, 2, 1, 5, 4],
           [4, 4, 3, 1, 1, 5, 3, 3, 2, 2, 5, 1]]


def make_project(owner, questions, fields=None):
    return task_services.create_project(
        user=owner, organization=factories.organization_of(owner), name="Triage",
        domain=Domain.objects.get(slug="medicine-cardiology"), preset="classification",
        fields=fields, questions=questions, overlap=3, max_overlap=3)


@pytest.fixture
def scene(customer):
    project = make_project(customer, QUESTIONS)
    experts = [factories.expert() for _ in range(4)]
    items = [Item.objects.create(project=project, external_id=f"item-{n}",
                                 data={"text": f"Case {n}"}, overlap=3) for n in range(12)]
    for e, expert in enumerate(experts[:3]):
        for n, item in enumerate(items):
            value = {"topic": TOPIC[e][n], "quality": QUALITY[e][n]}
            if e == 0:
                value["note"] = "looks fine"
            elif n == 0:
                value["note"] = "   "
            answer(project, item, expert, value)
    # Rejected work and gold items stay out of the agreement statistics.
    answer(project, items[0], experts[3], {"topic": "c", "quality": 1},
           status=Assignment.Status.REJECTED)
    gold = Item.objects.create(project=project, external_id="gold-0", data={"text": "Gold"},
                               overlap=3, is_gold=True, gold={"topic": "a", "quality": 5})
    answer(project, gold, experts[0], {"topic": "a", "quality": 5})
    answer(project, gold, experts[1], {"topic": "b", "quality": 4})
    return project, experts, items


def codes(rows, options=None):
    return np.array([[options.index(v) for v in row] if options else row for row in rows],
                    dtype=float)


def test_question_statistics_match_the_reference_packages(scene):
    project, _, _ = scene
    result = report.build_report(project)
    topic, quality, note = result["questions"]
    m = codes(TOPIC, OPTIONS)
    assert topic["level"] == "nominal"
    assert topic["alpha"] == pytest.approx(krippendorff.alpha(
        reliability_data=m, level_of_measurement="nominal", value_domain=[0, 1, 2]))
    lo, hi = topic["alpha_ci"]
    assert lo < topic["alpha"] < hi
    assert (topic["items"], topic["annotations"]) == (12, 36)
    # Seven unanimous items (3 agreeing pairs of 3) and five 2-1 splits (1 of 3).
    assert topic["percent_agreement"] == pytest.approx((7 + 5 / 3) / 12)
    counts = np.array([[row.count(o) for o in OPTIONS] for row in zip(*TOPIC, strict=True)])
    p_i = ((counts ** 2).sum(axis=1) - 3) / 6
    p_e = ((counts.sum(axis=0) / 36) ** 2).sum()
    assert topic["fleiss_kappa"] == pytest.approx((p_i.mean() - p_e) / (1 - p_e))
    # Gwet's AC1 and Brennan-Prediger share the observed agreement; chance differs.
    pi = counts.sum(axis=0) / 36
    p_gwet = (pi * (1 - pi)).sum() / 2
    assert topic["gwet_ac"] == pytest.approx((p_i.mean() - p_gwet) / (1 - p_gwet))
    assert topic["brennan_prediger"] == pytest.approx((p_i.mean() - 1 / 3) / (1 - 1 / 3))
    assert (topic["units"], topic["units_dropped"], topic["ties"]) == (12, 0, 0)
    assert topic["consensus"] == "weighted_majority"
    assert quality["level"] == "ordinal"
    assert quality["alpha"] == pytest.approx(krippendorff.alpha(
        reliability_data=codes(QUALITY), level_of_measurement="ordinal",
        value_domain=[1, 2, 3, 4, 5]))
    assert note == {"question": "note", "kind": "text", "level": "none", "alpha": None,
                    "alpha_ci": None, "fleiss_kappa": None, "gwet_ac": None,
                    "brennan_prediger": None, "percent_agreement": None, "units": 0,
                    "units_dropped": 0, "items": 12, "annotations": 12, "consensus": None,
                    "ties": 0}
    assert (result["items"], result["annotations"]) == (12, 36)


def test_pairwise_kappa_matches_scikit_learn(scene):
    project, experts, _ = scene
    result = report.build_report(project)
    names = [expert_pseudonym(project.pk, e.pk) for e in experts]
    pairs = {(p["question"], p["a"], p["b"]): p for p in result["pairwise_kappa"]}
    assert len(pairs) == 6
    topic = pairs[("topic", names[0], names[2])]
    assert topic["shared"] == 12
    assert topic["kappa"] == pytest.approx(cohen_kappa_score(TOPIC[0], TOPIC[2]))
    rating = pairs[("quality", names[1], names[2])]
    assert rating["kappa"] == pytest.approx(cohen_kappa_score(
        QUALITY[1], QUALITY[2], labels=[1, 2, 3, 4, 5], weights="linear"))


def test_pairs_sharing_fewer_than_ten_items_get_no_kappa(customer):
    project = make_project(customer, QUESTIONS[:1])
    experts = [factories.expert() for _ in range(2)]
    for n in range(9):
        item = Item.objects.create(project=project, external_id=f"i{n}", data={"text": "x"},
                                   overlap=3)
        for expert in experts:
            answer(project, item, expert, {"topic": "a" if n % 2 else "b"})
    assert report.build_report(project)["pairwise_kappa"] == []


def test_experts_leave_one_out_agreement_gold_accuracy_and_kappa(scene):
    project, experts, _ = scene
    result = report.build_report(project)
    rows = {row["expert"]: row for row in result["experts"]}
    names = [expert_pseudonym(project.pk, e.pk) for e in experts]
    assert set(rows) == set(names[:3])
    third = rows[names[2]]
    assert third["annotations"] == 12
    # Label: 7 answers match the others' majority, one is half of a tie; the ratings score
    # 1 - |answer - median of the others| / 4, worked out by hand.
    assert third["questions"]["topic"] == pytest.approx(7.5 / 12)
    assert third["questions"]["quality"] == pytest.approx(10.125 / 12)
    assert third["agreement_with_consensus"] == pytest.approx((7.5 + 10.125) / 24)
    assert third["gold_accuracy"] is None and third["gold_answers"] == 0
    assert rows[names[0]]["gold_accuracy"] == pytest.approx(1.0)
    assert rows[names[1]]["gold_accuracy"] == pytest.approx((0 + 0.75) / 2)
    kappas = [p["kappa"] for p in result["pairwise_kappa"]
              if names[2] in (p["a"], p["b"])]
    assert third["kappa_vs_others"] == pytest.approx(np.mean(kappas))


def test_gold_accuracy_comes_from_gold_results_when_there_are_some(scene):
    project, experts, _ = scene
    gold_work = Annotation.objects.filter(project=project, item__is_gold=True)
    for annotation in gold_work:
        GoldResult.objects.create(annotation=annotation, project=project,
                                  expert=annotation.expert, score=0.5)
    rows = {row["expert"]: row for row in report.build_report(project)["experts"]}
    assert rows[expert_pseudonym(project.pk, experts[0].pk)]["gold_accuracy"] == 0.5


def test_confusion_against_consensus(scene):
    project, _, _ = scene
    (topic,) = report.build_report(project)["confusion"]
    assert topic["question"] == "topic"
    assert topic["labels"] == OPTIONS
    matrix = np.array(topic["matrix"])
    assert matrix.sum() == 36
    # Consensus "a" on items 0, 1, 6, 9: the third expert said "b" twice there.
    assert matrix[0].tolist() == [10, 2, 0]
    assert np.trace(matrix) == 31


def test_disputed_items_come_least_agreed_first(scene):
    project, _, _ = scene
    disputed = report.build_report(project)["disputed_items"]
    assert [d["external_id"] for d in disputed[:4]] == ["item-11", "item-3", "item-5",
                                                         "item-9"]
    worst = disputed[0]
    assert worst["questions"]["topic"]["consensus"] == "c"
    assert worst["questions"]["topic"]["votes"] == {"a": 1, "c": 2}
    assert worst["questions"]["quality"]["votes"] == {"1": 1, "4": 2}
    # Mean of the label's majority share and the ratings' 1 - sd / 2.
    spread = np.std([4, 4, 1])
    assert worst["agreement"] == pytest.approx((2 / 3 + 1 - spread / 2) / 2)
    assert len(disputed) == 12


def test_judges_against_the_human_consensus(scene):
    project, _, items = scene
    majority = list("aabbccabcabc")
    for item, label in zip(items, majority, strict=True):
        JudgeAnnotation.objects.create(project=project, item=item, judge="rm-good",
                                       answer={"topic": label})
        JudgeAnnotation.objects.create(project=project, item=item, judge="rm-bad",
                                       answer={"topic": "c"})
    result = report.build_report(project)
    judges = {row["judge"]: row for row in result["judges"]}
    (good,) = judges["rm-good"]["questions"]
    assert good["question"] == "topic" and good["units"] == 12
    assert good["accuracy"] == 1.0 and good["kappa"] == pytest.approx(1.0)
    assert good["agreement_with_humans"] == pytest.approx(31 / 36)
    assert good["human_agreement"] == pytest.approx(52 / 72)
    assert judges["rm-bad"]["accuracy"] == pytest.approx(4 / 12)
    # Judges are not experts and do not move the human statistics.
    assert len(result["experts"]) == 3
    assert result["questions"][0]["annotations"] == 36


def test_no_judges_no_section_content(scene):
    project, _, _ = scene
    assert report.build_report(project)["judges"] == []


def test_empty_project(customer):
    project = make_project(customer, QUESTIONS)
    result = report.build_report(project)
    assert result["questions"][0] == {
        "question": "topic", "kind": "label", "level": "nominal", "alpha": None,
        "alpha_ci": None, "fleiss_kappa": None, "gwet_ac": None, "brennan_prediger": None,
        "percent_agreement": None, "units": 0, "units_dropped": 0, "items": 0,
        "annotations": 0, "consensus": None, "ties": 0}
    assert result["experts"] == [] and result["disputed_items"] == []


PREFERENCE_FIELDS = [{"name": "text", "type": "text"},
                     {"name": "completions", "type": "text_list"}]


def test_ranking_and_multi_label_questions(customer):
    questions = [{"name": "order", "kind": "ranking", "field": "completions"},
                 {"name": "flags", "kind": "multi_label", "options": ["x", "y"]}]
    project = make_project(customer, questions, PREFERENCE_FIELDS)
    experts = [factories.expert() for _ in range(3)]
    orders = [[0, 1, 2], [0, 2, 1], [1, 0, 2]]
    for n in range(4):
        item = Item.objects.create(project=project, external_id=f"r{n}", overlap=3,
                                   data={"text": "t", "completions": ["p", "q", "r"]})
        for expert, order in zip(experts, orders, strict=True):
            answer(project, item, expert, {"order": order, "flags": ["x"] if n else []})
    order, flags = report.build_report(project)["questions"]
    units = build_units([(n, e, o) for n in range(4) for e, o in enumerate(orders)],
                        questions[0], dict.fromkeys(range(4), 3))
    assert order["level"] == "ordinal" and order["items"] == 4
    assert order["alpha"] == pytest.approx(krippendorff.alpha(
        reliability_data=units.matrix(), level_of_measurement="ordinal",
        value_domain=[0, 1, 2]))
    assert flags["percent_agreement"] == 1.0 and flags["annotations"] == 12


@pytest.mark.postgres
def test_database_codes_are_the_units_build_units_makes(customer):
    """On PostgreSQL label, rating and pairwise answers are coded by the database."""
    questions = [
        {"name": "topic", "kind": "label", "options": OPTIONS},
        {"name": "quality", "kind": "rating", "min": 1, "max": 5, "level": "interval"},
        {"name": "better", "kind": "pairwise", "field": "completions"},
        {"name": "strong", "kind": "pairwise", "field": "completions", "strength": True},
    ]
    project = make_project(customer, questions, PREFERENCE_FIELDS)
    experts = [factories.expert() for _ in range(3)]
    rng = np.random.default_rng(3)
    for n in range(30):
        item = Item.objects.create(project=project, external_id=f"p{n}", overlap=3,
                                   data={"text": "t", "completions": ["p", "q"]})
        for expert in experts[: 2 + n % 2]:
            value = {"topic": OPTIONS[rng.integers(3)], "quality": int(rng.integers(1, 6)),
                     "better": ["A", "B", "tie"][rng.integers(3)],
                     "strong": {"choice": ["A", "B", "tie"][rng.integers(3)],
                                "strength": int(rng.integers(1, 3))}}
            if n % 7 == 0:
                del value["topic"]
            answer(project, item, expert, value)
    scan = report.read(project)
    rows = list(report.counted_annotations(project)
                .values_list("item_id", "expert_id", "answer"))
    for question in questions:
        expected = build_units([(i, e, a[question["name"]]) for i, e, a in rows
                                if question["name"] in a], question)
        got = scan.units[question["name"]]
        for field in ("kind", "level", "value_labels"):
            assert getattr(got, field) == getattr(expected, field), field
        for field in ("value_domain", "annotator_ids", "item_ids", "unit_item", "unit_part",
                      "unit_idx", "annotator_idx", "values"):
            np.testing.assert_array_equal(getattr(got, field), getattr(expected, field))


@pytest.mark.postgres
def test_database_codes_refuse_invalid_answers(customer):
    project = make_project(customer, QUESTIONS[:1])
    expert = factories.expert()
    item = Item.objects.create(project=project, external_id="x", data={"text": "t"},
                               overlap=3)
    answer(project, item, expert, {"topic": "zzz"})
    with pytest.raises(ValueError, match="not one of"):
        report.read(project)


def test_the_report_the_experts_list_and_the_rules_agree(scene):
    """One agreement with consensus (quality.crowd), whoever reads it."""
    project, experts, _ = scene
    in_report = {row["expert"]: row["agreement_with_consensus"]
                 for row in report.build_report(project)["experts"]}
    listed = metrics.expert_stats(project, [expert.pk for expert in experts[:3]])
    rule = QualityRule(project=project, metric="agreement_with_consensus", window_size=100,
                       min_evidence=1, comparator="lt", value="0.5", action="flag")
    for expert in experts[:3]:
        figure = in_report[expert_pseudonym(project.pk, expert.pk)]
        assert listed[expert.pk]["agreement_with_consensus"] == pytest.approx(figure)
        assert metrics.measure(rule, project, expert.pk) == metrics.Measurement(
            pytest.approx(figure), 12)
    # By hand for the third expert: on topics 7 matches of 12, plus half of item 11 where
    # the others split a / c; on quality 1 - |answer - others' median| / 4 sums to 10.125.
    assert in_report[expert_pseudonym(project.pk, experts[2].pk)] == pytest.approx(
        (7.5 + 10.125) / 24)


def test_a_ratio_rating_gets_alpha_at_the_ratio_level(customer):
    project = make_project(customer, [{"name": "quality", "kind": "rating", "min": 1,
                                       "max": 5, "level": "ratio"}])
    experts = [factories.expert() for _ in range(3)]
    for n in range(12):
        it = Item.objects.create(project=project, external_id=f"r-{n}",
                                 data={"text": f"Case {n}"}, overlap=3)
        for e, expert in enumerate(experts):
            answer(project, it, expert, {"quality": QUALITY[e][n]})
    (row,) = report.build_report(project)["questions"]
    assert (row["level"], row["consensus"]) == ("ratio", "mean")
    assert row["alpha"] == pytest.approx(krippendorff.alpha(
        reliability_data=codes(QUALITY), level_of_measurement="ratio",
        value_domain=[1, 2, 3, 4, 5]))
