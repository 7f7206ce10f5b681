"""Coverage of the model leaderboard's 95% intervals: how often they hold the true strength.

Five models have known Bradley-Terry strengths (1, 0.5, 0, -0.5, -1, centred as the
leaderboard centres them). Each simulated item shows a few of them, chosen at random, and
experts judge it as the model says: a pairwise answer picks A with probability
1 / (1 + exp(s_B - s_A)), a ranking is drawn place by place in proportion to exp(strength)
(Plackett-Luce, the ranking form of Bradley-Terry). Cells cross the kind of answer (pairwise
by three experts, rankings of three by two experts, rankings of four by one) with 30, 100
and 400 items.

In every cell REPLICATES projects are drawn and each model's interval is computed two ways
on the same resamples: ``quality.leaderboard.leaderboard``'s BCa interval (the value) and
the plain percentile interval (the baseline). Coverage is the share of intervals holding
the true strength, pooled over the cells (target >= 0.94 at nominal 0.95); the worst cell
and the time of one leaderboard are reported too.
"""

import itertools
import time

import numpy as np
from threadpoolctl import threadpool_limits

from quality.leaderboard import (
    bootstrap_strengths,
    comparisons_from_units,
    fit_strengths,
    leaderboard,
    win_matrix,
)
from quality.units import Units, build_units

from .common import result

TRUTH = np.array([1.0, 0.5, 0.0, -0.5, -1.0])
# (name, completions per item, experts per item)
DESIGNS = (("pairwise", 2, 3), ("ranking of 3", 3, 2), ("ranking of 4", 4, 1))
ITEMS = (30, 100, 400)
REPLICATES = 150
TARGET = 0.94


def ranking(rng: np.random.Generator, shown: list[int]) -> list[int]:
    """Entry indices best first, each place drawn in proportion to exp(strength)."""
    left, order = list(range(len(shown))), []
    while left:
        weights = np.exp(TRUTH[[shown[i] for i in left]])
        order.append(left.pop(rng.choice(len(left), p=weights / weights.sum())))
    return order


def simulate(rng: np.random.Generator, design: tuple, items: int) -> tuple[Units, dict]:
    """One project's units and each item's models."""
    _, width, experts = design
    answers, widths, models = [], {}, {}
    for item in range(items):
        shown = rng.choice(len(TRUTH), width, replace=False).tolist()
        widths[item], models[item] = width, [f"model-{m}" for m in shown]
        for expert in range(experts):
            order = ranking(rng, shown)
            answers.append((item, expert, ("A" if order[0] == 0 else "B") if width == 2
                            else order))
    if width == 2:
        return build_units(answers, {"name": "better", "kind": "pairwise"}), models
    return build_units(answers, {"name": "order", "kind": "ranking", "field": "c"},
                       widths), models


def cell_coverage(design: tuple, items: int, replicates: int = REPLICATES,
                  seed: int = 0) -> dict:
    with threadpool_limits(limits=1, user_api="blas"):
        return _cell_coverage(design, items, replicates, seed)


def _cell_coverage(design: tuple, items: int, replicates: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    held = {"bca": 0, "percentile": 0}
    intervals, seconds = 0, 0.0
    for replicate in range(replicates):
        comparisons = comparisons_from_units(*simulate(rng, design, items))
        truth = TRUTH[[int(name.split("-")[1]) for name in comparisons.models]]
        truth -= truth.mean()
        started = time.perf_counter()
        board = leaderboard(comparisons, seed=replicate)
        seconds += time.perf_counter() - started
        for row in board.rows:
            true = truth[comparisons.models.index(row["model"])]
            held["bca"] += int(row["interval"][0] <= true <= row["interval"][1])
        strengths = fit_strengths(win_matrix(comparisons))
        boot = bootstrap_strengths(comparisons, strengths, seed=replicate)
        low, high = np.percentile(boot, [2.5, 97.5], axis=0)
        held["percentile"] += int(((low <= truth) & (truth <= high)).sum())
        intervals += len(board.rows)
    return {"coverage": held["bca"] / intervals, "baseline": held["percentile"] / intervals,
            "intervals": intervals, "seconds": seconds / replicates}


def _name(cell: tuple) -> str:
    (kind, _, experts), items = cell
    return f"{kind}, {experts} expert{'s' if experts > 1 else ''} per item, {items} items"


def run() -> list[dict]:
    cells = list(itertools.product(DESIGNS, ITEMS))
    outcomes = {cell: cell_coverage(*cell, seed=n) for n, cell in enumerate(cells)}
    total = sum(o["intervals"] for o in outcomes.values())
    pooled = sum(o["coverage"] * o["intervals"] for o in outcomes.values()) / total
    baseline = sum(o["baseline"] * o["intervals"] for o in outcomes.values()) / total
    worst = min(cells, key=lambda cell: outcomes[cell]["coverage"])
    largest = max(cells, key=lambda cell: cell[1])
    return [
        result("leaderboard_interval_coverage", pooled, "share", baseline=baseline,
               target=f">= {TARGET}", nominal=0.95, cells=len(cells), replicates=REPLICATES,
               intervals=total,
               by_cell={_name(c): [round(o["coverage"], 3), round(o["baseline"], 3)]
                        for c, o in outcomes.items()}),
        result("leaderboard_interval_coverage_worst_cell", outcomes[worst]["coverage"],
               "share", baseline=outcomes[worst]["baseline"], cell=_name(worst)),
        result("leaderboard_seconds", outcomes[largest]["seconds"], "s",
               cell=_name(largest)),
    ]
