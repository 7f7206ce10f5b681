"""The crowd's answer to a question, and how far each expert agrees with the others.

One definition per question kind, used by the agreement report (its consensus, confusion
matrices and disputed items), the consensus and dpo exports, the quality rules and the
experts list. Django-free: callers pass `quality.units.Units` and the facts they hold
(trust in each expert, gold answers, the project's tie seed).

The crowd answer per kind (`crowd_answer`), one value per unit:

* ``label``: Dawid-Skene, with gold items held at their known classes and EM started
  from a vote weighted by each expert's trust, with a full confusion matrix per expert or
  one accuracy each, whichever the data favour (quality.aggregation.best_dawid_skene).
  It learns about each expert from their answers, so where the experts have fewer than
  ``MIN_DAWID_SKENE_ANSWERS`` answers each (the median) the trust-weighted vote itself is
  the answer.
* ``pairwise`` and ``ranking``: the Bradley-Terry order of the item's completions
  (quality.aggregation.rank_consensus). A pairwise unit's value is the preferred side
  (A -1, B +1, 0 for a tie when the two strengths are equal) times, for strength
  questions, the median strength of the answers on that side; a ranking unit's value is
  the completion's position in the order.
* ``rating``: the median on an ordinal scale, rounded half down onto the scale (an
  ordinal answer must be a point of it), the mean on an interval or ratio scale.
* ``multi_label`` and ``spans``: majority per option and per token.

A tie is never broken towards the first option: it is drawn uniformly among the tied
values from the project's recorded seed (quality.aggregation.majority), and `tied` says
where. Repeated answers by one expert to one item are treated one way everywhere: units
keep the expert's latest answer (quality.units.build_units).

Agreement with consensus (`leave_one_out_scores`) compares each answer with the crowd of
the OTHER experts on the unit, so that an expert's own answer does not prop up their
score: 1 for the others' majority value and 1/t when the others tie t ways (the expected
credit of a random tie-break); on ordered scales 1 - |answer - others' median| / range.
An expert's agreement is the mean over every unit they answered beside someone else,
the same number in the report, the experts list and the agreement rule.
"""

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .aggregation import (
    DawidSkene,
    RankConsensus,
    best_dawid_skene,
    majority,
    rank_consensus,
    rating_consensus,
    unit_keys,
)
from .agreement import domain_index
from .trust import PRIOR
from .units import Units

# Dawid-Skene learns a confusion matrix per expert; with only a few answers each it finds
# degenerate fits (every expert "always says y") and reports them with full confidence.
MIN_DAWID_SKENE_ANSWERS = 20
# Experts x units cells in one matrix of a weighted vote (8 bytes each).
MATRIX_CELLS = 20_000_000


@dataclass(frozen=True)
class CrowdAnswer:
    """Per unit: the crowd's value (nan where nobody answered), its confidence on [0, 1],
    the number of answers, and whether a tie was drawn. `method` names the rule that
    chose it; `fit` is the Dawid-Skene model behind a label question's answer (each
    expert's confusion matrix and spammer score), `ranked` the Bradley-Terry fit behind
    a pairwise or ranking one."""

    values: np.ndarray
    confidence: np.ndarray
    answers: np.ndarray
    tied: np.ndarray
    method: str
    fit: DawidSkene | None = None
    ranked: RankConsensus | None = None


def tie_seed(project_id: int) -> int:
    """The seed a project's tied votes are drawn from: its id, so that the report and the
    exports resolve every tie on an item the same way, run after run."""
    return int(project_id)


def value_range(units: Units) -> float | None:
    """Distance scale of ordered levels (None for nominal, where answers match or not)."""
    if units.level == "nominal":
        return None
    return float(max(units.value_domain[-1] - units.value_domain[0], 1))


def _answers_per_unit(units: Units) -> np.ndarray:
    return np.bincount(units.unit_idx, minlength=units.n_units)


def _label(units: Units, trust: Mapping[int, float], gold: Mapping[int, Any],
           seed: int) -> CrowdAnswer:
    weights = np.array([trust.get(e, PRIOR.mean) for e in units.annotator_ids.tolist()])
    answers = _answers_per_unit(units)
    per_expert = np.bincount(units.annotator_idx, minlength=units.n_annotators)
    if len(per_expert) and np.median(per_expert) >= MIN_DAWID_SKENE_ANSWERS:
        unit_of = {item: u for u, item in enumerate(units.item_ids.tolist())}
        labels = {value: code for code, value in enumerate(units.value_labels)}
        clamped = {unit_of[item]: labels[value] for item, value in gold.items()
                   if item in unit_of and value in labels}
        fit = best_dawid_skene(units.unit_idx, units.annotator_idx, units.codes(),
                               len(units.value_domain), weights_init=weights,
                               gold=clamped or None)
        values = np.where(answers > 0, units.value_domain[fit.labels].astype(float), np.nan)
        return CrowdAnswer(values, fit.confidence, answers, np.zeros(units.n_units, bool),
                           "dawid_skene", fit=fit)
    values, confidence, tied = _weighted_vote(units, weights, seed)
    return CrowdAnswer(values, confidence, answers, tied, "weighted_majority")


def _weighted_vote(units: Units, weights: np.ndarray,
                   seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The trust-weighted majority per unit, over slices of units whose experts x units
    matrix holds at most MATRIX_CELLS cells: a marketplace's thousands of experts times a
    project's million items would not fit in one."""
    keys = unit_keys(units)
    step = max(1, MATRIX_CELLS // max(units.n_annotators, 1))
    values, confidence, tied = [], [], []
    for start in range(0, units.n_units, step):
        width = min(step, units.n_units - start)
        lo, hi = np.searchsorted(units.unit_idx, [start, start + width])
        present, rows = np.unique(units.annotator_idx[lo:hi], return_inverse=True)
        matrix = np.full((len(present), width), np.nan)
        matrix[rows, units.unit_idx[lo:hi] - start] = units.values[lo:hi]
        vote = majority(matrix, units.value_domain, weights=weights[present], seed=seed,
                        keys=keys[start:start + width])
        values.append(vote.values)
        confidence.append(vote.confidence)
        tied.append(vote.tied)
    if not values:
        return np.zeros(0), np.zeros(0), np.zeros(0, bool)
    return np.concatenate(values), np.concatenate(confidence), np.concatenate(tied)


def _preference(units: Units, seed: int) -> CrowdAnswer:
    ranked = rank_consensus(units)
    answers = _answers_per_unit(units)
    tied = np.zeros(units.n_units, bool)
    values = np.full(units.n_units, np.nan)
    if units.kind == "pairwise":
        scores = ranked.scores[:, :2]
        tied = np.isclose(scores[:, 0], scores[:, 1])
        side = np.where(tied, 0.0, np.where(ranked.order[:, 0] == 0, -1.0, 1.0))
        values = side * _strength(units, side)
    else:
        position = np.argsort(np.where(ranked.order < 0, np.iinfo(np.int64).max,
                                       ranked.order), axis=1)
        values = position[units.unit_item, units.unit_part].astype(float)
    values[answers == 0] = np.nan
    return CrowdAnswer(values, ranked.confidence[units.unit_item], answers, tied,
                       "bradley_terry", ranked=ranked)


def _strength(units: Units, side: np.ndarray) -> np.ndarray:
    """Per pairwise unit the median strength of the answers on the chosen side, rounded
    half down and at least 1 (1 throughout for questions without strength)."""
    out = np.ones(units.n_units)
    strength = np.abs(units.values)
    if strength.max(initial=0) <= 1:
        return out
    chosen = np.sign(units.values) == side[units.unit_idx]
    unit = units.unit_idx[chosen]
    order = np.lexsort((strength[chosen], unit))
    unit, picked = unit[order], strength[chosen][order]
    count = np.bincount(unit, minlength=units.n_units)
    start = np.cumsum(count) - count
    has = count > 0
    lo = picked[(start + (count - 1) // 2)[has]]
    hi = picked[(start + count // 2)[has]]
    out[has] = np.maximum(1.0, np.ceil((lo + hi) / 2.0 - 0.5))
    return out


def _rating(units: Units) -> CrowdAnswer:
    rc = rating_consensus(units.packed(), float(units.value_domain[0]),
                          float(units.value_domain[-1]))
    if units.level in ("interval", "ratio"):
        values, method = rc.mean, "mean"
    else:
        values, method = np.ceil(rc.median - 0.5), "median"
    return CrowdAnswer(values, rc.confidence, _answers_per_unit(units),
                       np.zeros(units.n_units, bool), method)


def _per_option(units: Units, seed: int) -> CrowdAnswer:
    vote = majority(units.packed(), units.value_domain, seed=seed,
                    keys=unit_keys(units, per_item=units.kind == "spans"))
    return CrowdAnswer(vote.values, vote.confidence, _answers_per_unit(units), vote.tied,
                       "majority")


def crowd_answer(units: Units, *, trust: Mapping[int, float] | None = None,
                 gold: Mapping[int, Any] | None = None, seed: int = 0) -> CrowdAnswer:
    """The crowd's answer to every unit of one question (see the module docstring).

    `trust` maps expert id to their trust mean on the project (the prior's without one),
    `gold` item id to the gold answer of a label question, `seed` draws ties.
    """
    if units.kind == "label":
        return _label(units, trust or {}, gold or {}, seed)
    if units.kind in ("pairwise", "ranking"):
        return _preference(units, seed)
    if units.kind == "rating":
        return _rating(units)
    if units.kind in ("multi_label", "spans"):
        return _per_option(units, seed)
    raise ValueError(f"no crowd answer for {units.kind!r} questions")


def leave_one_out_scores(units: Units) -> tuple[np.ndarray, np.ndarray]:
    """Per answer of `units` (its long form): agreement with the other experts on the
    unit (see the module docstring), and whether there was anyone else to agree with."""
    unit, values = units.unit_idx, units.values
    n = len(unit)
    if units.level == "nominal":
        v = len(units.value_domain)
        _, _, idx = domain_index(values[None, :], units.value_domain)
        counts = np.bincount(unit * v + idx, minlength=units.n_units * v)
        others = counts.reshape(-1, v)[unit]
        others[np.arange(n), idx] -= 1
        scored = others.sum(axis=1) > 0
        top = others == others.max(axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            score = np.where(scored, top[np.arange(n), idx] / top.sum(axis=1), 0.0)
        return score, scored
    # Units are sorted by unit then annotator; sort values within each unit.
    order = np.lexsort((values, unit))
    u, sorted_values = unit[order], values[order]
    start = np.searchsorted(u, u, side="left")
    size = np.searchsorted(u, u, side="right") - start
    rank = np.arange(n) - start
    rest = size - 1
    lo, hi = (rest - 1) // 2, rest // 2
    lo = lo + (lo >= rank)
    hi = hi + (hi >= rank)
    median = (sorted_values[np.clip(start + lo, 0, n - 1)]
              + sorted_values[np.clip(start + hi, 0, n - 1)]) / 2.0
    score = np.empty(n)
    scored = np.empty(n, dtype=bool)
    score[order] = np.where(rest >= 1, 1.0 - np.abs(sorted_values - median) / value_range(units),
                            0.0)
    scored[order] = rest >= 1
    return score, scored


def choice(value: Any) -> Any:
    """A pairwise answer's side; its strength does not decide agreement."""
    return value["choice"] if isinstance(value, dict) else value


def _leading_share(votes: Iterable[tuple[Any, float]]) -> float:
    totals: Counter = Counter()
    for value, weight in votes:
        totals[value] += weight
    total = sum(totals.values())
    return max(totals.values()) / total if total else 1.0


def disputed(questions: Sequence[dict], answers: Sequence[tuple[dict, float]], *,
             agreement_threshold: float, rating_spread_threshold: float) -> bool:
    """Whether trust-weighted answers to one item disagree beyond a project's thresholds.

    Label and pairwise questions: the leading answer's share of the weight is below
    `agreement_threshold` (pairwise strength aside); multi-label questions the same, option
    by option. Ratings: the spread (max - min) is above `rating_spread_threshold`. Other
    kinds have no cheap test of agreement and never dispute an item.
    """
    for question in questions:
        kind, name = question["kind"], question["name"]
        given = [(answer[name], weight) for answer, weight in answers
                 if answer.get(name) is not None]
        if len(given) < 2:
            continue
        if kind in ("label", "pairwise"):
            shares = [_leading_share((choice(v), w) for v, w in given)]
        elif kind == "multi_label":
            shares = [_leading_share((option in v, w) for v, w in given)
                      for option in question["options"]]
        elif kind == "rating":
            values = [v for v, _ in given]
            if max(values) - min(values) > rating_spread_threshold:
                return True
            continue
        else:
            continue
        if min(shares) < agreement_threshold:
            return True
    return False
