"""Tests for quality.leaderboard: published and hand-computed Bradley-Terry fits, and a
simulation with known strengths."""

import math

import numpy as np
import pytest

from quality.leaderboard import (
    Comparisons,
    bca_interval,
    comparisons_from_units,
    fit_strengths,
    leaderboard,
    refit_strengths,
)
from quality.report_charts import BOARD_PAD, BOARD_WIDTH, leaderboard_tables
from quality.units import build_units

# Agresti, An Introduction to Categorical Data Analysis, 2nd ed. (2007), section 10.6: the
# 1987 American League East, 13 games per pair; wins[i, j] is how often team i beat team j.
TEAMS = ("Milwaukee", "Detroit", "Toronto", "New York", "Boston", "Cleveland", "Baltimore")
BASEBALL = np.array([
    [0, 7, 9, 7, 7, 9, 11],
    [6, 0, 7, 5, 11, 9, 9],
    [4, 6, 0, 7, 7, 8, 12],
    [6, 8, 6, 0, 6, 7, 10],
    [6, 2, 6, 7, 0, 7, 12],
    [4, 4, 5, 6, 6, 0, 6],
    [2, 4, 1, 3, 1, 7, 0],
], dtype=float)
# The book's fitted log-strengths, Baltimore's set to zero.
AGRESTI = (1.58, 1.44, 1.29, 1.25, 1.11, 0.68, 0.00)


def games(wins: np.ndarray) -> Comparisons:
    """One comparison (and one item) per game won, in the order of the win matrix."""
    first, second = np.nonzero(wins)
    counts = wins[first, second].astype(int)
    first, second = np.repeat(first, counts), np.repeat(second, counts)
    return Comparisons(tuple(f"m{i}" for i in range(len(wins))), np.arange(len(first)),
                       first, second, np.ones(len(first)))


def test_baseball_strengths_match_agresti():
    strengths = fit_strengths(BASEBALL, prior=0.0)
    assert np.round(strengths - strengths[-1], 2).tolist() == list(AGRESTI)


def test_three_models_whose_win_shares_fit_exactly_have_a_closed_form():
    # A beats B 2 of 3, B beats C 2 of 3, A beats C 4 of 5: the shares are exactly
    # Bradley-Terry's for strengths ln 2 apart, so the score equations hold there.
    wins = np.array([[0, 2, 4], [1, 0, 2], [1, 1, 0]], dtype=float)
    assert fit_strengths(wins, prior=0.0) == pytest.approx([math.log(2), 0, -math.log(2)])


def test_the_prior_is_virtual_wins_each_way():
    wins = np.array([[0, 10], [0, 0]], dtype=float)
    strengths = fit_strengths(wins, prior=0.5)
    # 10.5 wins in 11: the same as a plain fit with the virtual half wins written in.
    assert strengths[0] - strengths[1] == pytest.approx(math.log(10.5 / 0.5))
    with pytest.raises(ValueError, match="never lost or never won"):
        fit_strengths(wins, prior=0.0)


def test_the_bootstrap_refit_is_choix_fit_on_every_resample():
    rng = np.random.default_rng(3)
    resamples = rng.poisson(BASEBALL[None] * rng.uniform(0.5, 1.5, (20, 1, 1)))
    start = fit_strengths(BASEBALL)
    refitted = refit_strengths(resamples.astype(float), start)
    for wins, strengths in zip(resamples, refitted, strict=True):
        assert strengths == pytest.approx(fit_strengths(wins.astype(float)), abs=1e-6)


def test_bca_without_bias_or_acceleration_is_the_percentile_interval():
    boot = np.random.default_rng(4).normal(size=(2001, 2)) * [1.0, 3.0]
    centre = np.median(boot, axis=0)
    low, high = bca_interval(boot, centre, np.zeros(2))
    assert low == pytest.approx(np.percentile(boot, 2.5, axis=0))
    assert high == pytest.approx(np.percentile(boot, 97.5, axis=0))


def test_bca_moves_the_interval_towards_where_the_replicates_fall_short():
    # Replicates that mostly land below the estimate say it is biased upwards.
    boot = np.random.default_rng(5).normal(size=(4000, 1))
    low, high = bca_interval(boot, np.array([0.5]), np.zeros(1))
    plain_low, plain_high = np.percentile(boot, [2.5, 97.5])
    assert low[0] > plain_low and high[0] > plain_high


def test_a_table_row_counts_the_models_own_games():
    board = leaderboard(games(BASEBALL), prior=0.0, replicates=200)
    top = board.rows[0]
    assert [row["model"] for row in board.rows] == [f"m{i}" for i in range(7)]
    assert (top["wins"], top["losses"], top["ties"], top["comparisons"]) == (50, 28, 0, 78)
    assert top["win_rate"] == pytest.approx(50 / 78)
    assert top["p_beats_next"] == pytest.approx(1 / (1 + math.exp(-(1.581 - 1.436))), abs=1e-3)
    assert board.rows[-1]["p_beats_next"] is None
    assert board.rows[-1]["ahead_of_next"] is None
    assert (board.items, board.comparisons, board.connected) == (273, 273, True)
    for row in board.rows:
        assert row["interval"][0] < row["strength"] < row["interval"][1]


def pairwise_units(answers):
    return build_units(answers, {"name": "better", "kind": "pairwise"})


def ranking_units(answers, widths):
    return build_units(answers, {"name": "order", "kind": "ranking", "field": "c"}, widths)


def test_a_tie_is_half_a_win_each_way():
    units = pairwise_units([(1, "e1", "A"), (1, "e2", "tie"), (1, "e3", "B"), (1, "e4", "A")])
    comparisons = comparisons_from_units(units, {1: ["x", "y"]})
    board = leaderboard(comparisons, replicates=50)
    x = next(row for row in board.rows if row["model"] == "x")
    assert (x["wins"], x["losses"], x["ties"], x["comparisons"]) == (2, 1, 1, 4)
    assert x["win_rate"] == pytest.approx(2.5 / 4)


def test_a_pairwise_strength_only_says_who_won():
    graded = build_units([(1, "e1", {"choice": "A", "strength": 3})],
                         {"name": "better", "kind": "pairwise", "strength": True})
    plain = pairwise_units([(1, "e1", "A")])
    models = {1: ["x", "y"]}
    assert (leaderboard(comparisons_from_units(graded, models), replicates=20).rows
            == leaderboard(comparisons_from_units(plain, models), replicates=20).rows)


def test_the_side_a_model_was_shown_on_does_not_matter():
    rng = np.random.default_rng(1)
    names = ["m0", "m1", "m2", "m3"]
    answers, swapped, models, models_swapped = [], [], {}, {}
    for item in range(120):
        a, b = rng.choice(4, 2, replace=False)
        models[item], models_swapped[item] = [names[a], names[b]], [names[b], names[a]]
        for expert in range(3):
            choice = rng.choice(["A", "B", "tie"], p=[0.5 + 0.1 * (a - b), 0.4 - 0.1 * (a - b),
                                                      0.1])
            answers.append((item, expert, choice))
            swapped.append((item, expert, {"A": "B", "B": "A", "tie": "tie"}[choice]))
    board = leaderboard(comparisons_from_units(pairwise_units(answers), models))
    mirror = leaderboard(comparisons_from_units(pairwise_units(swapped), models_swapped))
    assert [row["model"] for row in board.rows] == [row["model"] for row in mirror.rows]
    for row, other in zip(board.rows, mirror.rows, strict=True):
        assert (row["wins"], row["losses"], row["ties"]) == (other["wins"], other["losses"],
                                                            other["ties"])
        assert row["strength"] == pytest.approx(other["strength"], abs=1e-9)
        assert row["interval"] == pytest.approx(other["interval"], abs=1e-9)


def test_a_ranking_of_k_completions_is_its_k_choose_2_wins():
    # Best first: completion 2 (model z), then 0 (x), then 1 (y).
    units = ranking_units([(7, "e1", [2, 0, 1])], {7: 3})
    comparisons = comparisons_from_units(units, {7: ["x", "y", "z"]})
    assert len(comparisons.score) == 3
    rows = {row["model"]: row for row in leaderboard(comparisons, replicates=20).rows}
    assert [(rows[m]["wins"], rows[m]["losses"]) for m in "xyz"] == [(1, 1), (0, 2), (2, 0)]
    assert [row["model"] for row in leaderboard(comparisons, replicates=20).rows] == ["z", "x",
                                                                                      "y"]


def test_entries_by_the_same_model_and_items_without_models_compare_nothing():
    units = ranking_units([(1, "e1", [0, 1, 2]), (2, "e1", [1, 0])], {1: 3, 2: 2})
    comparisons = comparisons_from_units(units, {1: ["x", "x", "y"]})
    pairs = np.stack([comparisons.first, comparisons.second], axis=1).tolist()
    assert pairs == [[0, 1], [0, 1]]
    assert comparisons.n_items == 1


def test_a_pair_with_an_entry_of_unknown_model_compares_nothing():
    units = ranking_units([(1, "e1", [3, 0, 1, 2])], {1: 4})
    comparisons = comparisons_from_units(units, {1: ["x", "y"]})
    assert (comparisons.first.tolist(), comparisons.second.tolist(),
            comparisons.score.tolist()) == ([0], [1], [1.0])


def test_models_never_compared_with_each_other_are_reported_as_unconnected():
    units = pairwise_units([(1, "e1", "A"), (1, "e2", "B"), (2, "e1", "A"), (2, "e2", "B")])
    board = leaderboard(comparisons_from_units(units, {1: ["a", "b"], 2: ["c", "d"]}),
                        replicates=20)
    assert not board.connected
    assert len(board.rows) == 4


def test_one_model_has_no_table():
    units = pairwise_units([(1, "e1", "A")])
    board = leaderboard(comparisons_from_units(units, {1: ["x", "x"]}))
    assert board.rows == []


def test_the_bootstrap_is_repeatable_and_records_its_seed():
    comparisons = games(BASEBALL)
    first = leaderboard(comparisons, replicates=100, seed=5)
    assert first == leaderboard(comparisons, replicates=100, seed=5)
    assert first.as_dict()["bootstrap"] == {"replicates": 100, "seed": 5, "level": 0.95}
    assert first.rows != leaderboard(comparisons, replicates=100, seed=6).rows


def plackett_luce(rng, strengths: np.ndarray, entries: list[int]) -> list[int]:
    """A ranking of the entries, best first, drawn as Bradley-Terry's ranking model does:
    the next place goes to each remaining entry in proportion to exp(strength)."""
    left, order = list(range(len(entries))), []
    while left:
        weights = np.exp(strengths[[entries[i] for i in left]])
        order.append(left.pop(rng.choice(len(left), p=weights / weights.sum())))
    return order


def test_a_simulated_crowd_recovers_known_strengths_inside_the_intervals():
    truth = np.array([1.0, 0.5, 0.0, -0.5, -1.0])
    rng = np.random.default_rng(2026)
    answers, widths, models = [], {}, {}
    for item in range(400):
        entries = rng.choice(5, 3, replace=False).tolist()
        widths[item], models[item] = 3, [f"model-{e}" for e in entries]
        answers += [(item, expert, plackett_luce(rng, truth, entries)) for expert in range(2)]
    board = leaderboard(comparisons_from_units(ranking_units(answers, widths), models))
    assert [row["model"] for row in board.rows] == [f"model-{e}" for e in range(5)]
    for row, true in zip(board.rows, truth, strict=True):
        assert row["interval"][0] <= true <= row["interval"][1]
    assert all(row["ahead_of_next"] > 0.95 for row in board.rows[:-1])


def test_the_report_page_draws_each_interval_on_one_scale_with_zero_marked():
    section = {"question": "better", "kind": "pairwise", "models_field": "models",
               **leaderboard(games(BASEBALL), prior=0.0, replicates=200).as_dict()}
    (table,) = leaderboard_tables([section])
    low = min(row["interval"][0] for row in section["rows"])
    high = max(row["interval"][1] for row in section["rows"])
    assert table["scale"] == f"{low:+.2f} to {high:+.2f}"
    lows = [row["bar"]["x"] for row in table["rows"]]
    highs = [row["bar"]["x"] + row["bar"]["width"] for row in table["rows"]]
    assert min(lows) == BOARD_PAD and max(highs) == pytest.approx(BOARD_WIDTH - BOARD_PAD)
    for row, low, high in zip(table["rows"], lows, highs, strict=True):
        assert low <= row["bar"]["point"] <= high
    # Milwaukee is surely above the average team, Baltimore surely below.
    assert highs[-1] < table["zero"] < lows[0]
    assert [row["rank"] for row in table["rows"]] == list(range(1, 8))
    assert table["rows"][-1]["p_beats_next_text"] == "—"
