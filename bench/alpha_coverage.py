"""Coverage of alpha's 95% interval: how often it holds the population's alpha.

Reliability data are simulated with a known population alpha on a grid of cells: the four
levels of measurement, 2, 3 and 5 coders, 20, 50 and 200 units, low and high agreement,
and no or 20% missing answers. Each unit has a true value drawn from a skewed prior; each
coder reports it through a response matrix P(answer | true value): for nominal data the
true value with probability q and otherwise a draw from the prior, for ordered data the
true rank plus normal noise, rounded and kept on the scale. The population alpha of such
a model is exact: 1 - sum(P_same_unit * d) / sum(P(c) P(k) * d), with P_same_unit the joint
distribution of two answers to one unit and d the level's distance (for ordinal, computed
from the population's value shares).

In every cell REPLICATES data sets are drawn and both intervals are computed on each:
``quality.agreement.alpha_interval_of_counts`` (the value) and the plain percentile
bootstrap it replaced (the baseline), on the same resamples. Coverage is the share of
intervals holding the population alpha (an undefined interval counts as a miss). The
results are the pooled coverage (target >= 0.94 at nominal 0.95), the worst cell, the cell
of interval data with two coders and 20 units (its four variants pooled), and the time of
one interval.
"""

import itertools
import time

import numpy as np
from scipy.special import ndtr
from threadpoolctl import threadpool_limits

from quality.agreement import (
    alpha_distances,
    alpha_interval_of_counts,
    alpha_resamples,
    value_counts,
)

from .common import result

SCALES = {
    "nominal": ([0, 1, 2, 3], [0.4, 0.3, 0.2, 0.1]),
    "ordinal": ([1, 2, 3, 4, 5], [0.1, 0.2, 0.4, 0.2, 0.1]),
    "interval": ([1, 2, 3, 4, 5, 6, 7], [0.05, 0.1, 0.2, 0.3, 0.2, 0.1, 0.05]),
    "ratio": ([1, 2, 4, 8, 16], [0.3, 0.3, 0.2, 0.1, 0.1]),
}
# Nominal: chance of reporting the true value; ordered: standard deviation of the noise
# in scale steps. Both give a population alpha of about 0.35-0.65 ("low") or 0.8-0.9.
NOMINAL_HIT = {"low": 0.6, "high": 0.92}
ORDERED_NOISE = {"low": 1.0, "high": 0.45}
CODERS = (2, 3, 5)
UNITS = (20, 50, 200)
AGREEMENT = ("low", "high")
MISSING = (0.0, 0.2)
REPLICATES = 200
RESAMPLES = 1000
TARGET = 0.94


def responses(level: str, agreement: str) -> np.ndarray:
    """P(answer | true value): one row per true value, one column per answer."""
    prior = np.asarray(SCALES[level][1])
    k = len(prior)
    if level == "nominal":
        q = NOMINAL_HIT[agreement]
        return q * np.eye(k) + (1 - q) * prior[None, :]
    edges = (np.arange(k + 1) - 0.5)[None, :] - np.arange(k)[:, None]
    cdf = ndtr(edges / ORDERED_NOISE[agreement])
    cdf[:, 0], cdf[:, -1] = 0.0, 1.0
    return np.diff(cdf, axis=1)


def population_alpha(level: str, response: np.ndarray) -> float:
    """Alpha of the model itself, the value a very large sample converges to."""
    domain, prior = SCALES[level]
    prior = np.asarray(prior)
    same_unit = np.einsum("t,tc,tk->ck", prior, response, response)
    shares = prior @ response
    d = alpha_distances(level, shares, domain)
    return float(1 - (same_unit * d).sum() / (np.outer(shares, shares) * d).sum())


def simulate(rng: np.random.Generator, level: str, response: np.ndarray, coders: int,
             units: int, missing: float) -> np.ndarray:
    """A coders x units reliability matrix drawn from the model, np.nan where missing."""
    domain, prior = SCALES[level]
    truth = rng.choice(len(prior), size=units, p=prior)
    cumulative = np.cumsum(response[truth], axis=1)
    draws = rng.random((coders, units, 1))
    answer = np.minimum((draws > cumulative[None]).sum(axis=-1), len(prior) - 1)
    matrix = np.asarray(domain, dtype=float)[answer]
    matrix[rng.random((coders, units)) < missing] = np.nan
    return matrix


def percentile_interval(counts: np.ndarray, level: str, value_domain,
                        seed: int) -> tuple[float, float] | None:
    """The interval alpha had before: 2.5th and 97.5th percentiles of the resamples."""
    alphas = alpha_resamples(counts, level, value_domain, RESAMPLES, seed)
    if alphas is None or len(alphas) == 0:
        return None
    lo, hi = np.percentile(alphas, [2.5, 97.5])
    return float(lo), float(hi)


def cell_coverage(level: str, coders: int, units: int, agreement: str, missing: float,
                  replicates: int = REPLICATES, seed: int = 0) -> dict:
    """Coverage of both intervals in one cell, and the seconds each spent."""
    with threadpool_limits(limits=1, user_api="blas"):
        return _cell_coverage(level, coders, units, agreement, missing, replicates, seed)


def _cell_coverage(level: str, coders: int, units: int, agreement: str, missing: float,
                   replicates: int, seed: int) -> dict:
    response = responses(level, agreement)
    truth = population_alpha(level, response)
    domain = SCALES[level][0]
    rng = np.random.default_rng(seed)
    held = {"expanded_bca": 0, "percentile": 0}
    seconds = {"expanded_bca": 0.0, "percentile": 0.0}
    for replicate in range(replicates):
        counts = value_counts(simulate(rng, level, response, coders, units, missing), domain)
        for name, interval in (
            ("expanded_bca", lambda c, s: alpha_interval_of_counts(c, level, domain,
                                                                   RESAMPLES, s)),
            ("percentile", lambda c, s: percentile_interval(c, level, domain, s)),
        ):
            started = time.perf_counter()
            bounds = interval(counts, replicate)
            seconds[name] += time.perf_counter() - started
            held[name] += bounds is not None and bounds[0] <= truth <= bounds[1]
    return {"alpha": truth, "replicates": replicates,
            "coverage": held["expanded_bca"] / replicates,
            "baseline": held["percentile"] / replicates, "seconds": seconds}


def _name(cell: tuple) -> str:
    level, coders, units, agreement, missing = cell
    return (f"{level}, {coders} coders, {units} units, {agreement} agreement, "
            f"{round(missing * 100)}% missing")


def run() -> list[dict]:
    cells = list(itertools.product(SCALES, CODERS, UNITS, AGREEMENT, MISSING))
    outcomes = {cell: cell_coverage(*cell, seed=n) for n, cell in enumerate(cells)}
    pooled = np.mean([o["coverage"] for o in outcomes.values()])
    pooled_baseline = np.mean([o["baseline"] for o in outcomes.values()])
    worst = min(cells, key=lambda cell: outcomes[cell]["coverage"])
    worst_baseline = min(cells, key=lambda cell: outcomes[cell]["baseline"])
    small = [c for c in cells if c[:3] == ("interval", 2, 20)]
    intervals = REPLICATES * len(cells)
    spent = {name: sum(o["seconds"][name] for o in outcomes.values())
             for name in ("expanded_bca", "percentile")}
    return [
        result("alpha_interval_coverage", pooled, "share", baseline=pooled_baseline,
               target=f">= {TARGET}", nominal=0.95, cells=len(cells), replicates=REPLICATES,
               resamples=RESAMPLES),
        result("alpha_interval_coverage_worst_cell", outcomes[worst]["coverage"], "share",
               baseline=outcomes[worst]["baseline"], cell=_name(worst),
               alpha=round(outcomes[worst]["alpha"], 3),
               baseline_worst=outcomes[worst_baseline]["baseline"],
               baseline_worst_cell=_name(worst_baseline)),
        result("alpha_interval_coverage_interval_2_coders_20_units",
               np.mean([outcomes[c]["coverage"] for c in small]), "share",
               baseline=np.mean([outcomes[c]["baseline"] for c in small]),
               target=f">= {TARGET}",
               cells={_name(c): outcomes[c]["coverage"] for c in small}),
        result("alpha_interval_ms", 1000 * spent["expanded_bca"] / intervals, "ms",
               baseline=1000 * spent["percentile"] / intervals, resamples=RESAMPLES),
    ]
