"""A Bradley-Terry leaderboard of the models that wrote the completions experts compared.

When a pairwise or ranking question names a `models` field, every answer compares models,
not just completions: a pairwise answer is one comparison of the model of entry A with the
model of entry B, and a ranking of k completions implies its k(k-1)/2 pairwise wins. Pooled
over all items they give one Bradley-Terry strength per model, P(i beats j) =
1 / (1 + exp(s_j - s_i)), fitted by maximum likelihood with choix.

Conventions, chosen so the table reads the same however the work was laid out:

* A tie counts as half a win each way, the usual way to keep ties in a model without a tie
  parameter. A pairwise strength ("A, clearly") is ignored: the model says who wins, not by
  how much. Two completions by the same model compare nothing and are left out.
* Strengths are on the log scale and centred: they sum to zero over the models, so 0 is an
  average model and a difference d means the stronger wins with probability 1/(1+e^-d).
* `prior` adds that many virtual wins each way to every pair of models (0.5: one virtual
  tie per pair). It keeps a model that never lost at a finite strength and ties together
  models that were never compared, and weighs one comparison against the hundreds a pair
  usually has; `connected` says whether the real comparisons alone link every model.
* Intervals are percentile bootstrap intervals over items, with a fixed seed that the
  result records. Items, not comparisons, are resampled because the comparisons of one
  item are not independent: a ranking's k(k-1)/2 pairs come from one judgement, and
  several experts judge the same completions. An interval from the Fisher information
  would treat them as independent and come out too narrow.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import choix
import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from quality.units import Units

PRIOR = 0.5
REPLICATES = 1000
SEED = 13
LEVEL = 0.95


@dataclass(frozen=True)
class Comparisons:
    """Pairwise outcomes between models, one per compared pair of completions.

    `first` and `second` index `models`; `score` is the first model's share of the
    comparison (1 a win, 0.5 a tie, 0 a loss); `item` numbers the item it came from, the
    unit the bootstrap resamples.
    """

    models: tuple[str, ...]
    item: np.ndarray
    first: np.ndarray
    second: np.ndarray
    score: np.ndarray

    @property
    def n_items(self) -> int:
        return len(np.unique(self.item))

    @classmethod
    def none(cls) -> Comparisons:
        """No comparisons at all, for a question nobody has answered yet."""
        empty = np.zeros(0, np.int64)
        return cls((), empty, empty, empty, np.zeros(0))


@dataclass(frozen=True)
class Leaderboard:
    """One row per model with at least one comparison, strongest first.

    Each row: model, strength, interval [low, high], wins, losses, ties, comparisons,
    win_rate ((wins + ties / 2) / comparisons), p_beats_next (the fitted probability that
    the model beats the next one down) and ahead_of_next (the share of bootstrap replicates
    that keep it above that one); the last row has None for both.
    """

    rows: list[dict]
    items: int
    comparisons: int
    connected: bool
    prior: float
    replicates: int
    seed: int
    level: float

    def as_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "items": self.items, "comparisons": self.comparisons,
                "connected": self.connected, "prior": self.prior,
                "bootstrap": {"replicates": self.replicates, "seed": self.seed,
                              "level": self.level}}


def _model_codes(units: Units, models: Mapping[Any, Sequence[str]]
                 ) -> tuple[tuple[str, ...], np.ndarray]:
    """The model names, and per item of the units the code of each entry's model (-1 past
    the end of its list, and for a whole item that names no models)."""
    lists = [models.get(item_id) for item_id in units.item_ids.tolist()]
    names = tuple(sorted({name for entries in lists if entries for name in entries}))
    index = {name: code for code, name in enumerate(names)}
    width = max((len(entries) for entries in lists if entries), default=0)
    codes = np.full((len(lists), max(width, 2)), -1, np.int64)
    for row, entries in enumerate(lists):
        if entries:
            codes[row, :len(entries)] = [index[name] for name in entries]
    return names, codes


def comparisons_from_units(units: Units, models: Mapping[Any, Sequence[str]]) -> Comparisons:
    """The model comparisons in a pairwise or ranking question's units.

    `models` maps an item id to the model of each of its compared entries, in order. An
    item it does not cover, or whose list is shorter than the item's completions, is left
    out rather than guessed at.
    """
    names, codes = _model_codes(units, models)
    item = units.unit_item[units.unit_idx]
    if units.kind == "pairwise":
        # A is the first entry and carries the negative codes; B the second.
        first, second = codes[item, 0], codes[item, 1]
        score = np.where(units.values < 0, 1.0, np.where(units.values == 0, 0.5, 0.0))
        return _kept(names, item, first, second, score)
    if units.kind != "ranking":
        raise ValueError(f"a leaderboard needs ranking or pairwise units, not {units.kind!r}")
    # One row of positions per (item, expert) answer, as rank consensus builds them.
    k = codes.shape[1]
    key = item * units.n_annotators + units.annotator_idx
    answer_keys, answer = np.unique(key, return_inverse=True)
    positions = np.full((len(answer_keys), k), -1.0)
    positions[answer, units.unit_part[units.unit_idx]] = units.values
    answer_item = answer_keys // units.n_annotators
    left, right = np.triu_indices(k, 1)
    pos_left, pos_right = positions[:, left].ravel(), positions[:, right].ravel()
    items = np.repeat(answer_item, len(left))
    first = codes[answer_item][:, left].ravel()
    second = codes[answer_item][:, right].ravel()
    ranked = (pos_left >= 0) & (pos_right >= 0)
    score = (pos_left < pos_right).astype(float)
    return _kept(names, items[ranked], first[ranked], second[ranked], score[ranked])


def _kept(names: tuple[str, ...], item: np.ndarray, first: np.ndarray, second: np.ndarray,
          score: np.ndarray) -> Comparisons:
    keep = (first >= 0) & (second >= 0) & (first != second)
    return Comparisons(names, item[keep], first[keep], second[keep], score[keep])


def win_matrix(comparisons: Comparisons, weights: np.ndarray | None = None) -> np.ndarray:
    """wins[i, j]: how often model i beat model j, a tie counting half a win each way;
    `weights` (one per comparison) scales each comparison, as a bootstrap resample does."""
    m = len(comparisons.models)
    w = np.ones(len(comparisons.score)) if weights is None else weights
    cells = np.concatenate([comparisons.first * m + comparisons.second,
                            comparisons.second * m + comparisons.first])
    shares = np.concatenate([comparisons.score * w, (1.0 - comparisons.score) * w])
    return np.bincount(cells, weights=shares, minlength=m * m).reshape(m, m)


NO_ESTIMATE = ("the Bradley-Terry estimate does not exist for these comparisons: some "
               "model never lost or never won against the rest")


def fit_strengths(wins: np.ndarray, prior: float = PRIOR) -> np.ndarray:
    """Mean-zero Bradley-Terry log-strengths from a win matrix, by choix's iterative Luce
    spectral ranking, which converges to the maximum-likelihood estimate. `prior` virtual
    wins are added each way to every pair (see the module doc); with none, every model must
    have both won and lost against the others or the estimate does not exist."""
    m = wins.shape[0]
    counts = wins + prior * (1.0 - np.eye(m))
    try:
        params = choix.ilsr_pairwise_dense(counts, max_iter=500)
    except (RuntimeError, ValueError) as exc:
        raise ValueError(NO_ESTIMATE) from exc
    return params - params.mean()


def refit_strengths(wins: np.ndarray, start: np.ndarray, prior: float = PRIOR,
                    tol: float = 1e-10, max_iter: int = 100) -> np.ndarray:
    """The estimates fit_strengths gives, for a stack of win matrices (n, m, m) at once, by
    Newton's method from `start` (a nearby estimate, such as the fit to the data a bootstrap
    resamples). One choix fit per matrix costs milliseconds, so a thousand replicates took
    seconds; the likelihood is concave, and from a nearby start Newton converges in a few
    steps that numpy takes for every matrix together.
    """
    n, m, _ = wins.shape
    counts = wins + prior * (1.0 - np.eye(m))
    games = counts + counts.transpose(0, 2, 1)
    won = counts.sum(axis=2)
    centre = np.full((m, m), 1.0 / m)
    params = np.broadcast_to(start - start.mean(), (n, m)).copy()
    for _ in range(max_iter):
        p = 1.0 / (1.0 + np.exp(params[:, None, :] - params[:, :, None]))
        gradient = won - (games * p).sum(axis=2)
        weight = games * p * (1.0 - p)
        laplacian = np.einsum("nij,ij->nij", -weight, 1.0 - np.eye(m))
        laplacian += np.einsum("ni,ij->nij", weight.sum(axis=2), np.eye(m))
        step = np.linalg.solve(laplacian + centre, gradient[:, :, None])[:, :, 0]
        params += step
        if not np.all(np.isfinite(params)):
            raise ValueError(NO_ESTIMATE)
        if np.abs(step).max(initial=0.0) < tol:
            return params
    raise ValueError(NO_ESTIMATE)


def _connected(comparisons: Comparisons) -> bool:
    m = len(comparisons.models)
    graph = coo_matrix((np.ones(len(comparisons.first)),
                        (comparisons.first, comparisons.second)), shape=(m, m))
    return connected_components(graph, directed=False)[0] <= 1


def _bootstrap(comparisons: Comparisons, strengths: np.ndarray, prior: float,
               replicates: int, seed: int) -> np.ndarray:
    """(replicates, models) strengths refitted on items drawn with replacement."""
    items, item_of = np.unique(comparisons.item, return_inverse=True)
    rng = np.random.default_rng(seed)
    m = len(strengths)
    wins = np.empty((replicates, m, m))
    for r in range(replicates):
        drawn = np.bincount(rng.integers(0, len(items), len(items)), minlength=len(items))
        wins[r] = win_matrix(comparisons, drawn[item_of].astype(float))
    out = np.empty((replicates, m))
    # Slices bound the (slice, m, m) arrays Newton builds when there are many models.
    step = max(1, 2_000_000 // (m * m))
    for start in range(0, replicates, step):
        out[start:start + step] = refit_strengths(wins[start:start + step], strengths, prior)
    return out


def leaderboard(comparisons: Comparisons, *, prior: float = PRIOR,
                replicates: int = REPLICATES, seed: int = SEED,
                level: float = LEVEL) -> Leaderboard:
    """Fit the models' strengths and their bootstrap intervals (see the module doc).

    Models that appear only against themselves have no comparison and no row.
    """
    present = np.union1d(comparisons.first, comparisons.second)
    remap = np.full(len(comparisons.models), -1, np.int64)
    remap[present] = np.arange(len(present))
    used = Comparisons(tuple(comparisons.models[i] for i in present), comparisons.item,
                       remap[comparisons.first], remap[comparisons.second], comparisons.score)
    m, n = len(used.models), len(used.score)
    if m < 2:
        return Leaderboard([], used.n_items, n, True, prior, replicates, seed, level)
    strengths = fit_strengths(win_matrix(used), prior)
    boot = _bootstrap(used, strengths, prior, replicates, seed)
    tail = (1.0 - level) / 2 * 100
    low, high = np.percentile(boot, [tail, 100 - tail], axis=0)
    outcome = {}
    for name, value in (("wins", 1.0), ("ties", 0.5), ("losses", 0.0)):
        outcome[name] = (np.bincount(used.first, weights=used.score == value, minlength=m)
                         + np.bincount(used.second, weights=used.score == 1.0 - value,
                                       minlength=m))
    total = outcome["wins"] + outcome["ties"] + outcome["losses"]
    order = np.lexsort((np.array(used.models), -strengths))
    rows = []
    for rank, i in enumerate(order.tolist()):
        nxt = int(order[rank + 1]) if rank + 1 < m else None
        rows.append({
            "model": used.models[i],
            "strength": float(strengths[i]),
            "interval": [float(low[i]), float(high[i])],
            "wins": int(outcome["wins"][i]),
            "losses": int(outcome["losses"][i]),
            "ties": int(outcome["ties"][i]),
            "comparisons": int(total[i]),
            "win_rate": float((outcome["wins"][i] + outcome["ties"][i] / 2) / total[i]),
            "p_beats_next": (None if nxt is None else
                             float(1.0 / (1.0 + np.exp(strengths[nxt] - strengths[i])))),
            "ahead_of_next": (None if nxt is None else
                              float(np.mean(boot[:, i] > boot[:, nxt]))),
        })
    return Leaderboard(rows, used.n_items, n, _connected(used), prior, replicates, seed, level)
