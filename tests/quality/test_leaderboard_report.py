"""The report's model leaderboard on a small preference project whose items name the models
of their completions; the wins can be counted by hand."""

import numpy as np
import pytest
from django.urls import reverse

from quality import report
from quality.leaderboard import fit_strengths
from quality.models import AgreementReport
from tasks.models import Assignment, Item
from tests import factories
from tests.conftest import client_for
from tests.quality.test_report import answer, make_project

pytestmark = pytest.mark.django_db

FIELDS = [{"name": "prompt", "type": "text"}, {"name": "completions", "type": "text_list"},
          {"name": "models", "type": "text_list"}]
QUESTIONS = [
    {"name": "better", "kind": "pairwise", "field": "completions", "models": "models"},
    {"name": "order", "kind": "ranking", "field": "completions", "models": "models",
     "required": False},
    {"name": "note", "kind": "text", "required": False},
]
# Per item: its models (A first), then three experts' pairwise answers.
PAIRWISE = [
    (["big", "small"], ["A", "A", "B"]),
    (["small", "big"], ["A", "B", "B"]),
    (["mid", "small"], ["A", "A", "tie"]),
    (["big", "mid"], ["A", "B", "tie"]),
]
# By hand: wins[i, j] for big, mid, small, a tie half a win each way.
WINS = np.array([[0, 1.5, 4], [1.5, 0, 2.5], [2, 0.5, 0]])


@pytest.fixture
def preference(customer):
    project = make_project(customer, QUESTIONS, fields=FIELDS)
    experts = [factories.expert() for _ in range(4)]
    for n, (models, choices) in enumerate(PAIRWISE):
        item = Item.objects.create(project=project, external_id=f"item-{n}", overlap=3, data={
            "prompt": f"Prompt {n}", "completions": ["one", "two"], "models": models})
        for expert, choice in zip(experts, choices, strict=False):
            answer(project, item, expert, {"better": choice})
    first = Item.objects.get(project=project, external_id="item-0")
    # Neither rejected work nor gold items count.
    answer(project, first, experts[3], {"better": "B"}, status=Assignment.Status.REJECTED)
    gold = Item.objects.create(project=project, external_id="gold-0", overlap=3, is_gold=True,
                               gold={"better": "B"}, data={"prompt": "Gold", "completions":
                                                           ["x", "y"], "models": ["small",
                                                                                  "big"]})
    for expert in experts[:3]:
        answer(project, gold, expert, {"better": "A"})
    return project, experts


def test_the_leaderboard_counts_human_work_on_named_models(preference):
    project, _ = preference
    result = report.build_report(project)
    better, order = result["leaderboard"]
    assert (better["question"], better["kind"], better["models_field"]) == (
        "better", "pairwise", "models")
    assert (better["items"], better["comparisons"], better["connected"]) == (4, 12, True)
    assert better["bootstrap"] == {"replicates": 1000, "seed": 13, "level": 0.95}
    rows = {row["model"]: row for row in better["rows"]}
    # mid lost once in six, big three times in nine: mid leads.
    assert [row["model"] for row in better["rows"]] == ["mid", "big", "small"]
    counts = {m: (r["wins"], r["losses"], r["ties"], r["comparisons"]) for m, r in rows.items()}
    assert counts == {"big": (5, 3, 1, 9), "mid": (3, 1, 2, 6), "small": (2, 6, 1, 9)}
    assert rows["small"]["win_rate"] == pytest.approx(2.5 / 9)
    expected = fit_strengths(WINS, prior=better["prior"])
    assert [rows[m]["strength"] for m in ("big", "mid", "small")] == pytest.approx(expected)
    for row in better["rows"]:
        assert row["interval"][0] <= row["strength"] <= row["interval"][1]
    assert better["rows"][0]["p_beats_next"] == pytest.approx(
        1 / (1 + np.exp(expected[0] - expected[1])))
    # Nobody ranked anything yet: the question has a section and no table.
    assert (order["question"], order["rows"], order["comparisons"]) == ("order", [], 0)


def test_a_ranking_contributes_every_pair_it_implies(customer):
    project = make_project(customer, QUESTIONS[1:], fields=FIELDS)
    experts = [factories.expert() for _ in range(2)]
    item = Item.objects.create(project=project, external_id="item-0", overlap=2, data={
        "prompt": "p", "completions": ["a", "b", "c"], "models": ["x", "y", "z"]})
    answer(project, item, experts[0], {"order": [2, 0, 1]})
    answer(project, item, experts[1], {"order": [2, 1, 0]})
    (order,) = report.build_report(project)["leaderboard"]
    assert order["comparisons"] == 6
    rows = {row["model"]: (row["wins"], row["losses"]) for row in order["rows"]}
    assert rows == {"z": (4, 0), "x": (1, 3), "y": (1, 3)}
    assert order["rows"][0]["model"] == "z"


def test_questions_that_name_no_models_have_no_leaderboard(customer):
    project = factories.project(customer, items=2)
    assert report.build_report(project)["leaderboard"] == []


def test_the_reports_api_gives_the_leaderboard_as_stored(customer, preference):
    project, _ = preference
    stored = AgreementReport.objects.create(project=project, status=AgreementReport.Status.DONE,
                                            result=report.build_report(project))
    body = client_for(customer).get(f"/api/v1/reports/{stored.pk}/").json()
    assert body["leaderboard"] == stored.result["leaderboard"]
    assert body["leaderboard"][0]["rows"][0]["model"] == "mid"


def test_the_admins_report_page_draws_the_leaderboard(client, staff, preference):
    project, _ = preference
    stored = AgreementReport.objects.create(project=project, status=AgreementReport.Status.DONE,
                                            result=report.build_report(project))
    client.force_login(staff)
    page = client.get(reverse("admin:quality_agreementreport_change", args=[stored.pk]))
    board = page.content.decode().split('class="agreement-report model-leaderboard"')[1]
    assert board.index('data-model="mid"') < board.index('data-model="big"') < board.index(
        'data-model="small"')
    assert board.count('class="leaderboard-interval"') == 3
