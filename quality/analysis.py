"""The agreement report's statistics for one question, computed without the database.

`quality.report` reads a project's answers into units (quality.units) and hands each
question's units here; the questions are analysed side by side in threads, as numpy
releases the GIL. Statistics come from `quality.agreement`, the crowd's answer and each
expert's agreement with it from `quality.crowd`.
"""

from dataclasses import dataclass, field

import numpy as np

from . import agreement
from .crowd import CrowdAnswer, crowd_answer, leave_one_out_scores, value_range
from .units import LEVEL_NONE, Units, factorize

# Kinds whose answers are categories, so a confusion matrix against consensus reads well.
LABEL_KINDS = ("label", "multi_label", "pairwise", "spans")
# Pairs of experts sharing fewer items get no kappa: it would be noise.
MIN_SHARED = 10


def _optional(value: float | None) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


def question_stats(question: dict, units: Units | None, packed: np.ndarray | None,
                   answered: int, items: int) -> dict:
    level = units.level if units is not None else LEVEL_NONE
    row = {"question": question["name"], "kind": question["kind"], "level": level,
           "alpha": None, "alpha_ci": None, "fleiss_kappa": None, "gwet_ac": None,
           "brennan_prediger": None, "percent_agreement": None, "units": 0,
           "units_dropped": 0, "items": items, "annotations": answered,
           "consensus": None, "ties": 0}
    if units is None or level == LEVEL_NONE or units.n_units == 0:
        return row
    domain = units.value_domain
    counts = agreement.value_counts(packed, domain)
    interval = agreement.alpha_interval_of_counts(counts, level, domain)
    fleiss = agreement.fleiss_kappa_of_counts(counts, level, domain)
    row.update(alpha=_optional(agreement.alpha_of_counts(counts, level, domain)),
               alpha_ci=list(interval) if interval else None,
               fleiss_kappa=_optional(fleiss.value),
               gwet_ac=_optional(agreement.gwet_ac_of_counts(counts, level, domain).value),
               brennan_prediger=_optional(
                   agreement.brennan_prediger_of_counts(counts, level, domain).value),
               percent_agreement=_optional(agreement.percent_agreement_of_counts(counts)),
               units=fleiss.units, units_dropped=fleiss.dropped)
    return row


def pair_tables(units: Units) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every pair of annotators who answered a common unit: (a, b) annotator indices with
    a < b, the number of items they share, and their (values x values) contingency table.

    Built from the long form, one pass per distance between two answers of a unit, so the
    work is the number of answer pairs, not annotators squared times units.
    """
    v = len(units.value_domain)
    n = units.n_annotators
    codes = units.codes()
    unit = units.unit_idx
    first_part = units.unit_part[unit] == 0
    pair_keys, cells, shared = [], [], []
    for d in range(1, len(unit)):
        same = unit[:-d] == unit[d:]
        if not same.any():
            break
        left = np.flatnonzero(same)
        right = left + d
        pair_keys.append(units.annotator_idx[left] * n + units.annotator_idx[right])
        cells.append(codes[left] * v + codes[right])
        shared.append(first_part[left])
    if not pair_keys:
        empty = np.zeros(0, np.int64)
        return empty, empty, empty, np.zeros((0, v, v), np.int64)
    keys, pair = factorize(np.concatenate(pair_keys))
    tables = np.bincount(pair * v * v + np.concatenate(cells), minlength=len(keys) * v * v)
    items = np.bincount(pair, weights=np.concatenate(shared), minlength=len(keys))
    return keys // n, keys % n, items.astype(np.int64), tables.reshape(len(keys), v, v)


def pairwise_kappas(units: Units) -> list[tuple[int, int, int, float | None]]:
    """(expert id, expert id, shared items, kappa) for pairs sharing MIN_SHARED items."""
    a, b, shared, tables = pair_tables(units)
    return [(int(units.annotator_ids[i]), int(units.annotator_ids[j]), int(s),
             _optional(agreement.cohen_kappa_of_table(t, units.level, units.value_domain)))
            for i, j, s, t in zip(a, b, shared, tables, strict=True) if s >= MIN_SHARED]


def leave_one_out(units: Units) -> tuple[np.ndarray, np.ndarray]:
    """Per annotator index: summed agreement with the others (quality.crowd) and how many
    answers were scored."""
    score, scored = leave_one_out_scores(units)
    total = np.bincount(units.annotator_idx, weights=np.where(scored, score, 0.0),
                        minlength=units.n_annotators)
    return total, np.bincount(units.annotator_idx, weights=scored,
                              minlength=units.n_annotators).astype(np.int64)


def confusion(units: Units, packed: np.ndarray, consensus: CrowdAnswer) -> dict:
    """Team confusion against consensus: rows are consensus values, columns answers."""
    matrix = agreement.confusion_against(packed, consensus.values, units.value_domain)
    return {"labels": list(units.value_labels), "matrix": matrix.sum(axis=0).tolist()}


def item_agreement(units: Units, consensus: CrowdAnswer) -> tuple[np.ndarray, np.ndarray]:
    """Per item of the units: the mean consensus confidence over its units with two or
    more answers, and whether it has any (single answers cannot disagree)."""
    n_items = len(units.item_ids)
    disputable = consensus.answers >= 2
    sums = np.bincount(units.unit_item, weights=np.where(disputable, consensus.confidence, 0),
                       minlength=n_items)
    counts = np.bincount(units.unit_item, weights=disputable, minlength=n_items)
    has = counts > 0
    return np.divide(sums, counts, out=np.ones(n_items), where=has), has


def judge_alignment(question: dict, units: Units, packed: np.ndarray, consensus: CrowdAnswer,
                    judged: Units) -> dict[str, dict]:
    """Per judge on one question: accuracy and kappa against the human consensus, and the
    share of judge-expert answer pairs that agree next to the experts' own pairwise share.

    Agreement is exact for nominal questions and 1 - distance / range for ordered ones, the
    way gold answers are scored.
    """
    domain = units.value_domain
    scale = value_range(units)
    width = int(max(units.unit_part.max(initial=0), judged.unit_part.max(initial=0))) + 1
    human_keys = units.item_ids[units.unit_item] * width + units.unit_part
    counts = agreement.value_counts(packed, domain).astype(float)
    values = np.asarray(domain, dtype=float)
    if scale is None:
        similarity = np.eye(len(domain))
    else:
        similarity = 1.0 - np.abs(values[:, None] - values[None, :]) / scale
    out: dict[str, dict] = {}
    judge_unit = judged.unit_idx
    keys = judged.item_ids[judged.unit_item[judge_unit]] * width + judged.unit_part[judge_unit]
    position = np.minimum(np.searchsorted(human_keys, keys), len(human_keys) - 1)
    matched = (len(human_keys) > 0) & (human_keys[position] == keys)
    matched &= ~np.isnan(consensus.values[position])
    for j, judge in enumerate(judged.annotator_ids.tolist()):
        mine = matched & (judged.annotator_idx == j)
        if not mine.any():
            continue
        unit = position[mine]
        answer = judged.values[mine]
        truth = consensus.values[unit]
        code = np.searchsorted(values, answer)
        valid = (code < len(values)) & (values[np.minimum(code, len(values) - 1)] == answer)
        code = np.minimum(code, len(values) - 1)
        if scale is None:
            accuracy = float(np.mean(answer == truth))
        else:
            accuracy = float(np.mean(np.clip(1 - np.abs(answer - truth) / scale, 0, 1)))
        # Kappa tables the judge's valid answers against the consensus on the scale (a
        # mean rating rounded to its nearest point), with the report's one convention.
        truth_code = np.searchsorted(values, np.clip(np.round(truth), values[0], values[-1]))
        table = np.bincount(truth_code[valid] * len(values) + code[valid],
                            minlength=len(values) ** 2).reshape(len(values), len(values))
        kappa = agreement.cohen_kappa_of_table(table, units.level, domain)
        held = counts[unit]
        scored = np.where(valid[:, None], similarity[code], 0.0)
        humans = held.sum()
        pairs = (held.sum(axis=1) * (held.sum(axis=1) - 1)).sum()
        among = ((held @ similarity) * held).sum() - humans
        out[judge] = {
            "question": question["name"],
            "units": int(mine.sum()),
            "accuracy": accuracy,
            "kappa": _optional(kappa),
            "agreement_with_humans": float((held * scored).sum() / humans) if humans else None,
            "human_agreement": float(among / pairs) if pairs else None,
        }
    return out


@dataclass
class QuestionAnalysis:
    """What the report takes from one question's units. It is computed without the
    database, so that questions can be analysed side by side: numpy releases the GIL."""

    stats: dict
    units: Units | None = None
    packed: np.ndarray | None = None
    consensus: CrowdAnswer | None = None
    confusion: dict | None = None
    kappas: list = field(default_factory=list)
    loo: tuple[np.ndarray, np.ndarray] | None = None
    item_agreement: tuple[np.ndarray, np.ndarray] | None = None
    judges: dict = field(default_factory=dict)


def analyse(question: dict, units: Units | None, answered: int, items: int,
            judged: Units | None = None, *, trust: dict[int, float] | None = None,
            seed: int = 0) -> QuestionAnalysis:
    """One question's statistics, its crowd answer (quality.crowd, with `trust` in each
    expert and ties drawn from `seed`) and how each expert and judge stands against it."""
    packed = units.packed() if units is not None and units.n_units else None
    stats = question_stats(question, units, packed, answered, items)
    if packed is None:
        return QuestionAnalysis(stats)
    consensus = crowd_answer(units, trust=trust, seed=seed)
    stats.update(consensus=consensus.method, ties=int(consensus.tied.sum()))
    return QuestionAnalysis(
        stats, units, packed, consensus,
        confusion=({"question": question["name"], **confusion(units, packed, consensus)}
                   if question["kind"] in LABEL_KINDS else None),
        kappas=pairwise_kappas(units),
        loo=leave_one_out(units),
        item_agreement=item_agreement(units, consensus),
        judges=(judge_alignment(question, units, packed, consensus, judged)
                if judged is not None else {}),
    )
