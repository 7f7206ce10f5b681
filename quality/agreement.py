"""Inter-annotator agreement statistics over reliability matrices.

Every function takes a matrix of numeric codes with one row per annotator (or per
slot, see `Units.packed`) and one column per unit, np.nan where no value was given,
as produced by `quality.units`. Functions return None where a statistic is undefined
(too few pairable values, no variation) because a QA lead must see "not enough data"
rather than a 0 or a NaN that looks like a verdict.
"""

from typing import NamedTuple

import krippendorff
import numpy as np
from scipy import sparse
from scipy.special import ndtr, ndtri, stdtrit

from quality.units import LEVEL_NONE

LEVELS = ("nominal", "ordinal", "interval", "ratio")
# Two-sided coverage of `alpha_interval`.
CONFIDENCE = 0.95


class Coefficient(NamedTuple):
    """A chance-corrected agreement coefficient and the units behind it.

    `units` had two or more answers and were measured; `dropped` had fewer and could
    not be (a single answer still counts toward how often each value is chosen).
    """

    value: float | None
    units: int
    dropped: int


def domain_index(matrix: np.ndarray, value_domain) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row, column and value-domain index of every non-missing cell.

    The shared way to turn a reliability matrix into long form; raises on values
    outside the domain, which would otherwise vanish from the statistics unnoticed.
    """
    domain = np.asarray(value_domain)
    rows, cols = np.nonzero(~np.isnan(matrix))
    values = matrix[rows, cols]
    order = np.argsort(domain, kind="stable")
    pos = np.searchsorted(domain, values, sorter=order)
    idx = order[np.minimum(pos, len(domain) - 1)] if len(domain) else pos
    if len(values) and (len(domain) == 0 or np.any(domain[idx] != values)):
        raise ValueError("the matrix holds values outside value_domain")
    return rows, cols, idx


def unique_rows(table: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct rows of a 2-D array, how often each occurs, and each row's group.

    np.unique(axis=0) sorts rows as opaque byte records and is several times slower
    than one lexsort over the columns on the unit counts this package groups.
    """
    if len(table) == 0:
        return table, np.zeros(0, np.int64), np.zeros(0, np.int64)
    order = np.lexsort(table.T[::-1])
    ordered = table[order]
    new_group = np.ones(len(table), dtype=bool)
    new_group[1:] = np.any(ordered[1:] != ordered[:-1], axis=1)
    group = np.cumsum(new_group) - 1
    inverse = np.empty(len(table), np.int64)
    inverse[order] = group
    return ordered[new_group], np.bincount(group), inverse


def value_counts(matrix: np.ndarray, value_domain) -> np.ndarray:
    """Units x values table: how many annotators gave each value to each unit."""
    matrix = np.asarray(matrix, dtype=float)
    _, cols, idx = domain_index(matrix, value_domain)
    v = len(value_domain)
    flat = np.bincount(cols * v + idx, minlength=matrix.shape[1] * v)
    return flat.reshape(matrix.shape[1], v)


def _observed_domain(matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=float)
    return np.unique(matrix[~np.isnan(matrix)])


def _has_level(level: str) -> bool:
    """False for free text (level "none"), which has no agreement to measure."""
    if level == LEVEL_NONE:
        return False
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS} or {LEVEL_NONE!r}, not {level!r}")
    return True


def _pairable(counts: np.ndarray) -> np.ndarray | None:
    """Units with at least two values, or None when alpha is undefined on them."""
    counts = counts[counts.sum(axis=1) >= 2]
    if len(counts) == 0 or np.count_nonzero(counts.sum(axis=0)) < 2:
        return None
    return counts


def alpha(matrix: np.ndarray, level: str, value_domain) -> float | None:
    """Krippendorff's alpha via the `krippendorff` package, None when undefined."""
    return alpha_of_counts(value_counts(matrix, value_domain), level, value_domain)


def alpha_of_counts(counts: np.ndarray, level: str, value_domain) -> float | None:
    """`alpha` from the matrix's `value_counts`, for callers that need them elsewhere too.

    Value counts are handed over instead of the raw matrix so the package never builds
    its coders x units x values cube; units with a single value add nothing to the
    coincidence matrix and are dropped first.
    """
    if not _has_level(level):
        return None
    counts = _pairable(counts)
    if counts is None:
        return None
    return float(
        krippendorff.alpha(
            value_counts=counts,
            value_domain=np.asarray(value_domain),
            level_of_measurement=level,
        )
    )


def _pattern_coincidences(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Each distinct unit pattern's coincidence matrix and how many units share it.

    Alpha only sees a unit through its value counts, so units are grouped by their
    count row (coarser than grouping identical columns: coder order and missing
    positions do not matter). With 5 coders and a handful of values there are at
    most a few hundred patterns however many units there are.
    """
    counts = _pairable(counts)
    if counts is None:
        return None
    patterns, freq, _ = unique_rows(counts)
    m = patterns.sum(axis=1).astype(float)
    outer = patterns[:, :, None] * patterns[:, None, :] - (
        patterns[:, :, None] * np.eye(patterns.shape[1])[None]
    )
    return outer / (m - 1)[:, None, None], freq


def alpha_distances(level: str, n_v: np.ndarray, value_domain) -> np.ndarray:
    """Squared difference function delta^2 of Krippendorff (2011) for each value pair.

    `n_v` may carry leading batch axes (one marginal per bootstrap resample), since the
    ordinal metric depends on the marginal frequencies. The ratio metric
    ((c - k) / (c + k))^2 counts a difference relative to the size of the values
    (1 vs 2 is as far apart as 10 vs 20); it is 0 for two zeros.
    """
    v = n_v.shape[-1]
    if level == "nominal":
        return 1.0 - np.eye(v)
    if level in ("interval", "ratio"):
        values = np.asarray(value_domain, dtype=float)
        diff = values[:, None] - values[None, :]
        if level == "interval":
            return diff**2
        total = values[:, None] + values[None, :]
        return np.divide(diff, total, out=np.zeros_like(diff), where=total != 0) ** 2
    cum = np.cumsum(n_v, axis=-1)
    # For c <= k: sum_{g=c..k} n_g = cum[k] - cum[c] + n_c; mirror for c > k.
    upper = cum[..., None, :] - cum[..., :, None] + n_v[..., :, None]
    between = np.where(np.triu(np.ones((v, v), dtype=bool)), upper, np.swapaxes(upper, -1, -2))
    return (between - (n_v[..., :, None] + n_v[..., None, :]) / 2.0) ** 2


def _alpha_from_coincidences(o: np.ndarray, level: str, value_domain) -> np.ndarray:
    """alpha = 1 - (n - 1) * sum(o * d) / sum(n_c * n_k * d), batched over leading axes."""
    n_v = o.sum(axis=-1)
    n = n_v.sum(axis=-1)
    d = alpha_distances(level, n_v, value_domain)
    observed = (o * d).sum(axis=(-2, -1))
    expected = (n_v[..., :, None] * n_v[..., None, :] * d).sum(axis=(-2, -1))
    with np.errstate(divide="ignore", invalid="ignore"):
        return 1.0 - (n - 1) * observed / expected


def coincidence_alpha(matrix: np.ndarray, level: str, value_domain) -> float | None:
    """Alpha from grouped coincidence matrices; the same number `alpha` gives.

    Exists so the bootstrap can be checked against the reference package on the
    full sample: if this agrees with `alpha`, the resampled values are computed right.
    """
    if not _has_level(level):
        return None
    grouped = _pattern_coincidences(value_counts(matrix, value_domain))
    if grouped is None:
        return None
    o_p, freq = grouped
    o = np.tensordot(freq, o_p, axes=1)
    return float(_alpha_from_coincidences(o, level, value_domain))


def alpha_interval(
    matrix: np.ndarray,
    level: str,
    value_domain,
    resamples: int = 1000,
    seed: int = 0,
) -> tuple[float, float] | None:
    """95% interval for alpha: `alpha_interval_of_counts` on the matrix's value counts."""
    return alpha_interval_of_counts(value_counts(matrix, value_domain), level, value_domain,
                                    resamples, seed)


class _Bootstrap(NamedTuple):
    point: float
    replicates: np.ndarray
    jackknife: np.ndarray
    freq: np.ndarray


def _bootstrap(counts: np.ndarray, level: str, value_domain, resamples: int,
               seed: int) -> _Bootstrap | None:
    """Alpha on the units, on `resamples` bootstrap resamples of them, and with each unit
    left out in turn (once per distinct pattern, weighted by how many units share it).

    Each resample redraws how many units of each value pattern it holds (a multinomial
    over pattern frequencies, identical to drawing units with replacement) and sums the
    patterns' precomputed coincidence matrices, so the cost depends on the number of
    distinct patterns and resamples, not on the number of units. Resamples in which
    alpha is undefined (no variation) are left out.
    """
    if not _has_level(level):
        return None
    grouped = _pattern_coincidences(counts)
    if grouped is None:
        return None
    o_p, freq = grouped
    p, v = o_p.shape[0], o_p.shape[1]
    o = np.tensordot(freq, o_p, axes=1)
    point = float(_alpha_from_coincidences(o, level, value_domain))
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(int(freq.sum()), freq / freq.sum(), size=resamples)
    resampled = (draws.astype(float) @ o_p.reshape(p, v * v)).reshape(resamples, v, v)
    replicates = _alpha_from_coincidences(resampled, level, value_domain)
    jackknife = _alpha_from_coincidences(o[None] - o_p, level, value_domain)
    return _Bootstrap(point, replicates[np.isfinite(replicates)], jackknife, freq)


def alpha_resamples(counts: np.ndarray, level: str, value_domain, resamples: int = 1000,
                    seed: int = 0) -> np.ndarray | None:
    """Alpha on `resamples` bootstrap resamples of the pairable units (the defined ones),
    None where alpha itself is undefined; what `alpha_interval_of_counts` reads."""
    boot = _bootstrap(counts, level, value_domain, resamples, seed)
    return None if boot is None else boot.replicates


def _acceleration(jackknife: np.ndarray, freq: np.ndarray) -> float:
    """Efron's acceleration: the skewness of the leave-one-unit-out values / 6."""
    defined = np.isfinite(jackknife)
    values, weight = jackknife[defined], freq[defined]
    if weight.sum() < 2:
        return 0.0
    spread = (weight * values).sum() / weight.sum() - values
    scale = (weight * spread**2).sum()
    if scale <= 0:
        return 0.0
    return float((weight * spread**3).sum() / (6.0 * scale**1.5))


def alpha_interval_of_counts(
    counts: np.ndarray,
    level: str,
    value_domain,
    resamples: int = 1000,
    seed: int = 0,
) -> tuple[float, float] | None:
    """95% confidence interval for alpha from the matrix's `value_counts`: an expanded
    BCa bootstrap over units, None where alpha is undefined.

    A plain percentile bootstrap under-covers on small samples (93.5% of intervals held
    the true alpha over the 144 simulated cells of bench/alpha_coverage.py, 92% for
    interval data from two coders on 20 units): alpha's sampling distribution is skewed
    and biased there, and a bootstrap over n units is too narrow by about
    sqrt((n - 1) / n). So the percentiles are moved (Efron's BCa: bias from the share of
    resamples below alpha, acceleration from a jackknife over units) and the normal
    quantile is widened to sqrt(n / (n - 1)) times Student's t with n - 1 degrees of
    freedom (Hesterberg's expanded percentile), which vanishes for large n: 95.4% and
    95.6% on the same cells. Where every unit is unanimous no resample can disagree and
    the interval is [1, 1], which is why two coders on a handful of units stay short.
    """
    boot = _bootstrap(counts, level, value_domain, resamples, seed)
    if boot is None or len(boot.replicates) == 0:
        return None
    replicates, n = boot.replicates, int(boot.freq.sum())
    below = (np.sum(replicates < boot.point) + 0.5 * np.sum(replicates == boot.point))
    share = np.clip(below / len(replicates), 0.5 / len(replicates),
                    1 - 0.5 / len(replicates))
    z0 = float(ndtri(share))
    tail = (1 + CONFIDENCE) / 2
    z = np.sqrt(n / (n - 1)) * stdtrit(n - 1, tail) if n > 1 else ndtri(tail)
    z = np.array([-z, z])
    a = _acceleration(boot.jackknife, boot.freq)
    shrink = 1 - a * (z0 + z)
    with np.errstate(divide="ignore", invalid="ignore"):
        levels = np.where(shrink > 0, ndtr(z0 + (z0 + z) / shrink), [0.0, 1.0])
    lo, hi = np.quantile(replicates, levels)
    return float(lo), float(hi)


def _ranks_or_values(level: str, value_domain) -> np.ndarray:
    values = np.asarray(value_domain, dtype=float)
    return np.arange(len(values), dtype=float) if level == "ordinal" else values


def kappa_disagreement(level: str, value_domain) -> np.ndarray:
    """How far apart two values are for the kappa-family coefficients, per level.

    Nominal: 0 for the same value, 1 otherwise. Ordinal: steps apart on the scale
    (Cohen's linear weights over ranks, since an ordinal scale has no distances).
    Interval: squared difference of the values (quadratic weights, which make weighted
    kappa agree with interval alpha and the intraclass correlation). Ratio: Krippendorff's
    ((c - k) / (c + k))^2. Always over the scale's whole value domain, so a value that
    nobody gave still counts as a step between those that were.
    """
    if not _has_level(level):
        raise ValueError("free text has no distances between answers")
    values = _ranks_or_values(level, value_domain)
    if level == "nominal":
        return 1.0 - np.eye(len(values))
    if level == "ordinal":
        return np.abs(values[:, None] - values[None, :])
    return alpha_distances(level, np.zeros(len(values)), values)


def cohen_kappa_of_table(table: np.ndarray, level: str, value_domain) -> float | None:
    """Cohen's kappa of two annotators from their contingency table over `value_domain`
    (rows the first annotator's value, columns the second's), weighted for the level by
    `kappa_disagreement`: 1 - observed disagreement / disagreement expected by chance.

    The one weighted-kappa convention of the package: weights over the scale's values
    (ranks for ordinal), never over whichever values the pair happened to use. None when
    undefined (no pairs, or both annotators gave one and the same value throughout).
    """
    if not _has_level(level):
        return None
    table = np.asarray(table, dtype=float)
    total = table.sum()
    if total == 0:
        return None
    d = kappa_disagreement(level, value_domain)
    chance = (d * np.outer(table.sum(axis=1), table.sum(axis=0))).sum() / total
    if chance <= 0:
        return None
    return float(1.0 - (d * table).sum() / chance)


def _agreement_weights(level: str, value_domain) -> np.ndarray:
    """Gwet's agreement weights 1 - distance / largest distance (identity for nominal):
    linear over ranks for ordinal, quadratic for interval, ratio weights for ratio."""
    d = kappa_disagreement(level, value_domain)
    largest = d.max(initial=0.0)
    return 1.0 - d / largest if largest > 0 else np.ones_like(d)


def _chance_corrected(counts: np.ndarray, level: str, value_domain,
                      chance) -> Coefficient:
    """(p_a - p_e) / (1 - p_e) over units with any number of answers (Gwet 2014, ch. 2-3).

    p_a: mean over units with two or more answers of the share of agreeing answer pairs
    (partial credit by the level's weights). pi: each value's share of a unit's answers,
    averaged over units with at least one answer. `chance(weights, pi)` gives p_e.
    """
    counts = np.asarray(counts, dtype=float)
    m = counts.sum(axis=1)
    paired = m >= 2
    used, dropped = int(paired.sum()), int((~paired).sum())
    if not _has_level(level) or used == 0:
        return Coefficient(None, used, dropped)
    w = _agreement_weights(level, value_domain)
    held = counts[paired]
    agreeing = (held * (held @ w.T - 1)).sum(axis=1) / (m[paired] * (m[paired] - 1))
    answered = m >= 1
    pi = (counts[answered] / m[answered, None]).mean(axis=0)
    p_a, p_e = float(agreeing.mean()), float(chance(w, pi))
    if p_e >= 1.0:
        return Coefficient(None, used, dropped)
    return Coefficient((p_a - p_e) / (1.0 - p_e), used, dropped)


def fleiss_kappa_of_counts(counts: np.ndarray, level: str = "nominal",
                           value_domain=None) -> Coefficient:
    """Fleiss' kappa from a units x values count table, for any number of answers per unit.

    Chance agreement is that of two answers drawn from the overall value shares, as in
    Fleiss (1971); units with different numbers of answers are all kept (Gwet's
    generalisation, irrCAC's fleiss.kappa.raw), and the result says how many units had
    fewer than two answers and so could not be measured. Weighted for ordered levels
    (see `kappa_disagreement`); `value_domain` is needed for interval and ratio.
    """
    return _chance_corrected(counts, level, _domain_of(counts, level, value_domain),
                             lambda w, pi: (w * np.outer(pi, pi)).sum())


def gwet_ac_of_counts(counts: np.ndarray, level: str = "nominal",
                      value_domain=None) -> Coefficient:
    """Gwet's AC1 (nominal) or AC2 (weighted, ordered levels) from a units x values table.

    Chance agreement sum(pi * (1 - pi)) / (q - 1) (times the weights' mean for AC2) is
    small when most answers share one value, so unlike kappa AC1 stays high when experts
    agree on skewed labels (kappa's paradox). q is the number of columns: count over the
    question's whole value domain, not only the values given.
    """
    def chance(w: np.ndarray, pi: np.ndarray) -> float:
        q = len(pi)
        return w.sum() * (pi * (1 - pi)).sum() / (q * (q - 1)) if q > 1 else 1.0

    return _chance_corrected(counts, level, _domain_of(counts, level, value_domain), chance)


def brennan_prediger_of_counts(counts: np.ndarray, level: str = "nominal",
                               value_domain=None) -> Coefficient:
    """Brennan and Prediger's (1981) coefficient from a units x values count table.

    Chance agreement is that of answers picked uniformly among the q possible values
    (the weights' mean for ordered levels), so it does not depend on how skewed the
    answers are; q is the number of columns, the question's whole value domain.
    """
    return _chance_corrected(counts, level, _domain_of(counts, level, value_domain),
                             lambda w, pi: w.sum() / len(pi) ** 2)


def _domain_of(counts: np.ndarray, level: str, value_domain):
    """The value domain of a count table; ranks serve for nominal and ordinal."""
    if value_domain is not None:
        if len(value_domain) != np.shape(counts)[1]:
            raise ValueError("value_domain must have one value per column of the counts")
        return value_domain
    if level in ("interval", "ratio"):
        raise ValueError(f"{level} coefficients need the value_domain")
    return np.arange(np.shape(counts)[1])


def percent_agreement(matrix: np.ndarray) -> float | None:
    """Mean over units with two or more values of the share of agreeing value pairs."""
    return percent_agreement_of_counts(value_counts(matrix, _observed_domain(matrix)))


def percent_agreement_of_counts(counts: np.ndarray) -> float | None:
    """`percent_agreement` from a units x values count table (any superset of values)."""
    counts = np.asarray(counts, dtype=float)
    m = counts.sum(axis=1)
    keep = m >= 2
    if not keep.any():
        return None
    agreeing = (counts[keep] * (counts[keep] - 1)).sum(axis=1)
    return float((agreeing / (m[keep] * (m[keep] - 1))).mean())


def pairwise_cohen_kappa(
    matrix: np.ndarray,
    annotator_ids,
    min_shared: int = 10,
    level: str = "nominal",
    value_domain=None,
) -> list[dict]:
    """Cohen's kappa (`cohen_kappa_of_table`) for every annotator pair sharing at least
    `min_shared` units.

    Rows of `matrix` must be annotators (not packed slots). Shared-unit counts come
    from one sparse product, so only pairs that clear `min_shared` are visited. Pass the
    question's `value_domain` for ordered levels; without it the values seen anywhere in
    the matrix make the scale. `kappa` is None where it is undefined.
    """
    matrix = np.asarray(matrix, dtype=float)
    domain = _observed_domain(matrix) if value_domain is None else np.asarray(value_domain)
    present = ~np.isnan(matrix)
    indicator = sparse.csr_matrix(present.astype(np.int32))
    shared = (indicator @ indicator.T).toarray()
    v = len(domain)
    out = []
    a_idx, b_idx = np.nonzero(np.triu(shared >= max(min_shared, 1), k=1))
    for a, b in zip(a_idx.tolist(), b_idx.tolist(), strict=True):
        both = present[a] & present[b]
        _, _, codes = domain_index(matrix[[a, b]][:, both], domain)
        pairs = codes.reshape(2, -1)
        table = np.bincount(pairs[0] * v + pairs[1], minlength=v * v).reshape(v, v)
        out.append(
            {
                "a": annotator_ids[a],
                "b": annotator_ids[b],
                "shared": int(shared[a, b]),
                "kappa": cohen_kappa_of_table(table, level, domain),
            }
        )
    return out


def confusion_against(matrix: np.ndarray, consensus, value_domain) -> np.ndarray:
    """Per-annotator confusion counts: [annotator, consensus value, annotator's value].

    Rows follow sklearn's convention (reference first). Units whose consensus is nan
    (no decision) are skipped. Sum over the first axis for the whole team's matrix.
    """
    matrix = np.asarray(matrix, dtype=float)
    consensus = np.asarray(consensus, dtype=float)
    v = len(value_domain)
    decided = ~np.isnan(consensus)
    masked = np.where(decided[None, :], matrix, np.nan)
    rows, cols, answer = domain_index(masked, value_domain)
    _, _, truth = domain_index(consensus[None, cols], value_domain)
    flat = np.bincount((rows * v + truth) * v + answer, minlength=matrix.shape[0] * v * v)
    return flat.reshape(matrix.shape[0], v, v)
