"""Aggregation against crowd-kit on synthetic crowds whose truth is known.

Each crowd is a mix of expert kinds drawn with a fixed seed: good and mediocre experts
(right with a given probability, otherwise a uniform guess), random spammers (a uniform
guess every time), constant spammers (always the most common class) and adversaries
(the next class, cyclically, with a given probability). True classes are skewed
(``PREVALENCE``), so a constant spammer is right about as often as the commonest class.

On every crowd Toloka's crowd-kit runs MajorityVote, Wawa, DawidSkene (given the gold
answers where the crowd has gold), OneCoinDawidSkene, GLAD and MACE with their defaults,
and ours runs ``majority`` (ties drawn from a recorded seed) and ``best_dawid_skene``. "Ours"
is what the consensus export uses for a label question: Dawid-Skene (a full confusion
matrix per expert or one accuracy each, by the information criterion), with gold items
clamped and the start weighted by each expert's gold trust where the crowd has gold.
Accuracy is against the truth on the items that are not gold. The figure is our
accuracy, the baseline crowd-kit's best method's on the same crowd (target: ratio >= 1).

Skill correlation is Spearman's rho between each method's estimate of every expert's
skill and the expert's true accuracy: the prior-weighted diagonal of the confusion
matrix for both Dawid-Skenes, GLAD's alpha, MACE's probability of not spamming, and
agreement with the majority for MajorityVote and Wawa (leave-one-out for ours).
``ours_spammer_score`` is Raykar & Yu's score, which ranks an adversary as informative
(high) although their accuracy is low, so on the adversarial crowd it does not follow
accuracy, by design.

crowd-kit 1.4.2's ``Wawa.predict`` calls scikit-learn's ``check_is_fitted`` on an object
that is not an estimator, which scikit-learn 1.6 and later reject; the benchmark runs its
two steps (``Wawa.fit``, then ``MajorityVote`` weighted by the fitted skills) itself.
It needs the ``bench`` extra (``make bench`` installs it) and no database.
"""

import time
import warnings
from dataclasses import dataclass

import numpy as np
from scipy.stats import spearmanr

from quality.aggregation import best_dawid_skene, majority
from quality.crowd import leave_one_out_scores
from quality.trust import posterior as trust_posterior
from quality.units import build_units

from .common import BenchError, result

CLASSES = 3
PREVALENCE = (0.5, 0.3, 0.2)
TIE_SEED = 0
TARGET_RATIO = 1.0


@dataclass(frozen=True)
class Crowd:
    """Experts as (kind, probability) pairs; `overlap` experts answer each item (all of
    them when None); `gold` is the share of items whose answer is known."""

    name: str
    experts: tuple[tuple[str, float], ...]
    items: int = 2000
    overlap: int | None = None
    gold: float = 0.0
    seed: int = 0


CROWDS = (
    Crowd("mostly_good", (("good", 0.9), ("good", 0.85), ("good", 0.8), ("good", 0.75),
                          ("mediocre", 0.6)), seed=1),
    Crowd("good_and_random", (("good", 0.85), ("good", 0.8), ("good", 0.75), ("random", 0),
                              ("random", 0), ("random", 0), ("random", 0)), seed=2),
    Crowd("good_and_constant", (("good", 0.85), ("good", 0.8), ("mediocre", 0.65),
                                ("constant", 0), ("constant", 0), ("constant", 0)), seed=3),
    Crowd("adversarial_majority_with_gold", (("good", 0.9), ("good", 0.85),
                                             ("adversarial", 0.8), ("adversarial", 0.8),
                                             ("adversarial", 0.8)), gold=0.05, seed=4),
    Crowd("sparse_3_of_20", (*(("good", p) for p in np.linspace(0.95, 0.75, 10)),
                             *(("mediocre", p) for p in np.linspace(0.7, 0.55, 5)),
                             ("random", 0), ("random", 0), ("random", 0),
                             ("constant", 0), ("constant", 0)), overlap=3, seed=5),
)


@dataclass(frozen=True)
class Answers:
    truth: np.ndarray
    items: np.ndarray
    experts: np.ndarray
    labels: np.ndarray
    gold: np.ndarray
    n_experts: int

    def matrix(self) -> np.ndarray:
        m = np.full((self.n_experts, len(self.truth)), np.nan)
        m[self.experts, self.items] = self.labels
        return m

    def true_accuracy(self) -> np.ndarray:
        right = np.bincount(self.experts, weights=self.labels == self.truth[self.items],
                            minlength=self.n_experts)
        return right / np.bincount(self.experts, minlength=self.n_experts)


def simulate(crowd: Crowd) -> Answers:
    rng = np.random.default_rng(crowd.seed)
    n, m = crowd.items, len(crowd.experts)
    truth = rng.choice(CLASSES, size=n, p=PREVALENCE)
    if crowd.overlap is None:
        items = np.tile(np.arange(n), m)
        experts = np.repeat(np.arange(m), n)
    else:
        chosen = np.argsort(rng.random((n, m)), axis=1)[:, :crowd.overlap]
        items = np.repeat(np.arange(n), crowd.overlap)
        experts = chosen.ravel()
    true = truth[items]
    guess = rng.integers(0, CLASSES, size=len(items))
    hit = rng.random(len(items))
    kind = np.array([k for k, _ in crowd.experts])[experts]
    p = np.array([p for _, p in crowd.experts])[experts]
    labels = np.select(
        [kind == "random", kind == "constant", kind == "adversarial"],
        [guess, np.zeros_like(guess), np.where(hit < p, (true + 1) % CLASSES, guess)],
        np.where(hit < p, true, guess),
    )
    gold = np.sort(rng.choice(n, size=round(crowd.gold * n), replace=False))
    return Answers(truth, items, experts, labels, gold, m)


def _spearman(estimate, truth) -> float | None:
    estimate = np.asarray(estimate, dtype=float)
    if np.ptp(estimate) == 0:
        return None
    return round(float(spearmanr(estimate, truth).statistic), 3)


def _ours(answers: Answers) -> dict[str, tuple[np.ndarray | None, np.ndarray]]:
    matrix = answers.matrix()
    vote = majority(matrix, np.arange(CLASSES), seed=TIE_SEED)
    units = build_units(zip(answers.items.tolist(), answers.experts.tolist(),
                            answers.labels.tolist(), strict=True),
                        {"name": "label", "kind": "label", "options": list(range(CLASSES))})
    score, scored = leave_one_out_scores(units)
    agreement = (np.bincount(units.annotator_idx, weights=np.where(scored, score, 0.0),
                             minlength=answers.n_experts)
                 / np.maximum(np.bincount(units.annotator_idx, weights=scored,
                                          minlength=answers.n_experts), 1))
    gold = (answers.gold, answers.truth[answers.gold]) if len(answers.gold) else None
    weights = None
    if gold is not None:
        on_gold = np.isin(answers.items, answers.gold)
        right = answers.labels[on_gold] == answers.truth[answers.items[on_gold]]
        hits = np.bincount(answers.experts[on_gold], weights=right,
                           minlength=answers.n_experts)
        seen = np.bincount(answers.experts[on_gold], minlength=answers.n_experts)
        weights = [trust_posterior(h, s - h).mean for h, s in zip(hits, seen, strict=True)]
    ds = best_dawid_skene(answers.items, answers.experts, answers.labels, CLASSES,
                          weights_init=weights, gold=gold)
    return {
        "ours_majority": (vote.values, agreement),
        "ours_dawid_skene": (ds.labels, ds.accuracy),
        "ours_spammer_score": (None, ds.spammer_score),
    }


def _crowd_kit(answers: Answers) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    import pandas as pd
    from crowdkit.aggregation import (
        GLAD,
        MACE,
        DawidSkene,
        MajorityVote,
        OneCoinDawidSkene,
        Wawa,
    )

    order = np.argsort(answers.experts, kind="stable")
    data = pd.DataFrame({"task": answers.items[order], "worker": answers.experts[order],
                         "label": answers.labels[order]})
    experts = np.arange(answers.n_experts)

    def labels_of(series) -> np.ndarray:
        return series.reindex(np.arange(len(answers.truth))).to_numpy(dtype=float)

    def diagonal(model) -> np.ndarray:
        # errors_ rows are (worker, given label), columns the true label; a label a
        # worker never gave has no row.
        priors = model.priors_
        errors = model.errors_.reindex(pd.MultiIndex.from_product([experts, priors.index]),
                                       fill_value=0.0)
        return np.array([sum(priors[c] * errors.loc[(w, c), c] for c in priors.index)
                         for w in experts])

    out = {}
    mv = MajorityVote().fit(data)
    out["crowdkit_majority_vote"] = (labels_of(mv.labels_), mv.skills_.reindex(experts))
    wawa = Wawa().fit(data)
    weighted = MajorityVote().fit(data, skills=wawa.skills_)
    out["crowdkit_wawa"] = (labels_of(weighted.labels_), wawa.skills_.reindex(experts))
    gold = pd.Series(answers.truth[answers.gold], index=answers.gold)
    ds = DawidSkene().fit(data, true_labels=gold if len(gold) else None)
    out["crowdkit_dawid_skene"] = (labels_of(ds.labels_), diagonal(ds))
    one_coin = OneCoinDawidSkene().fit(data)
    out["crowdkit_one_coin_dawid_skene"] = (labels_of(one_coin.labels_),
                                            one_coin.skills_.reindex(experts))
    glad = GLAD().fit(data)
    out["crowdkit_glad"] = (labels_of(glad.labels_), glad.alphas_.reindex(experts))
    mace = MACE().fit(data)
    # MACE numbers workers in order of appearance, which `order` made 0, 1, 2, ...
    out["crowdkit_mace"] = (labels_of(mace.labels_), mace.spamming_[:, 1])
    return out


def _timed_methods(run, answers: Answers) -> tuple[dict, float]:
    started = time.perf_counter()
    methods = run(answers)
    return methods, time.perf_counter() - started


def compare(crowd: Crowd) -> dict:
    answers = simulate(crowd)
    free = np.ones(len(answers.truth), dtype=bool)
    free[answers.gold] = False
    true_accuracy = answers.true_accuracy()
    ours, our_seconds = _timed_methods(_ours, answers)
    with warnings.catch_warnings():
        # crowd-kit 1.4.2 passes pandas keywords that pandas 3 deprecates.
        warnings.simplefilter("ignore")
        theirs, their_seconds = _timed_methods(_crowd_kit, answers)
    accuracy, skill = {}, {}
    for name, (labels, estimate) in {**ours, **theirs}.items():
        if labels is not None:
            accuracy[name] = round(float((labels[free] == answers.truth[free]).mean()), 4)
        skill[name] = _spearman(estimate, true_accuracy)
    best = max((n for n in theirs), key=accuracy.get)
    truth = answers.truth[free]
    ours_right = ours["ours_dawid_skene"][0][free] == truth
    best_right = theirs[best][0][free] == truth
    return result(
        f"crowds_{crowd.name}", accuracy["ours_dawid_skene"], "accuracy",
        baseline=accuracy[best], target=f"ratio >= {TARGET_RATIO}",
        items=crowd.items, experts=answers.n_experts, answers=len(answers.labels),
        gold_items=len(answers.gold), best_crowdkit=best, accuracy=accuracy,
        only_ours_right=int((ours_right & ~best_right).sum()),
        only_best_right=int((best_right & ~ours_right).sum()),
        skill_spearman=skill, seconds={"ours": round(our_seconds, 2),
                                       "crowdkit": round(their_seconds, 2)},
        true_accuracy=[round(float(a), 3) for a in true_accuracy])


def _table(line: dict) -> str:
    rows = [f"{line['name']}: {line['items']} items, {line['experts']} experts, "
            f"{line['answers']} answers, {line['gold_items']} gold",
            f"  {'method':32} {'accuracy':>8} {'skill rho':>9}"]
    for method, rho in line["skill_spearman"].items():
        acc = line["accuracy"].get(method)
        rows.append(f"  {method:32} {'-' if acc is None else f'{acc:.4f}':>8} "
                    f"{'-' if rho is None else f'{rho:.3f}':>9}")
    rows.append(f"  ours / crowd-kit's best ({line['best_crowdkit']}): {line['value']:.4f} / "
                f"{line['baseline']:.4f} = {line['ratio']:.3f}; items only ours got right "
                f"{line['only_ours_right']}, only theirs {line['only_best_right']}")
    rows.append(f"  seconds: ours {line['seconds']['ours']}, crowd-kit "
                f"{line['seconds']['crowdkit']}")
    return "\n".join(rows)


def run() -> list[dict]:
    try:
        import crowdkit  # noqa: F401
    except ImportError:
        raise BenchError("The crowds benchmark needs crowd-kit: pip install -e '.[bench]' "
                         "(make bench does).") from None
    lines = []
    for crowd in CROWDS:
        line = compare(crowd)
        print(_table(line), flush=True)
        lines.append(line)
    return lines
