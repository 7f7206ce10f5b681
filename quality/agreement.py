"""Inter-annotator agreement statistics over reliability matrices.

Every function takes a matrix of numeric codes with one row per annotator (or per
slot, see `Units.packed`) and one column per unit, np.nan where no value was given,
as produced by `quality.units`. Functions return None where a statistic is undefined
(too few pairable values, no variation) because a QA lead must see "not enough data"
rather than a 0 or a NaN that looks like a verdict.
"""

import warnings

import krippendorff
import numpy as np
from scipy import sparse
from sklearn.metrics import cohen_kappa_score

from quality.units import LEVEL_NONE

LEVELS = ("nominal", "ordinal", "interval")


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


def _distances(level: str, n_v: np.ndarray, value_domain) -> np.ndarray:
    """Squared difference function delta^2 of Krippendorff (2011) for each value pair.

    `n_v` may carry leading batch axes (one marginal per bootstrap resample), since the
    ordinal metric depends on the marginal frequencies.
    """
    v = n_v.shape[-1]
    if level == "nominal":
        return 1.0 - np.eye(v)
    if level == "interval":
        values = np.asarray(value_domain, dtype=float)
        return (values[:, None] - values[None, :]) ** 2
    cum = np.cumsum(n_v, axis=-1)
    # For c <= k: sum_{g=c..k} n_g = cum[k] - cum[c] + n_c; mirror for c > k.
    upper = cum[..., None, :] - cum[..., :, None] + n_v[..., :, None]
    between = np.where(np.triu(np.ones((v, v), dtype=bool)), upper, np.swapaxes(upper, -1, -2))
    return (between - (n_v[..., :, None] + n_v[..., None, :]) / 2.0) ** 2


def _alpha_from_coincidences(o: np.ndarray, level: str, value_domain) -> np.ndarray:
    """alpha = 1 - (n - 1) * sum(o * d) / sum(n_c * n_k * d), batched over leading axes."""
    n_v = o.sum(axis=-1)
    n = n_v.sum(axis=-1)
    d = _distances(level, n_v, value_domain)
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
    """95% bootstrap percentile interval for alpha, resampling pairable units."""
    return alpha_interval_of_counts(value_counts(matrix, value_domain), level, value_domain,
                                    resamples, seed)


def alpha_interval_of_counts(
    counts: np.ndarray,
    level: str,
    value_domain,
    resamples: int = 1000,
    seed: int = 0,
) -> tuple[float, float] | None:
    """`alpha_interval` from the matrix's `value_counts`.

    Each resample redraws how many units of each value pattern it holds (a multinomial
    over pattern frequencies, identical to drawing units with replacement) and sums the
    patterns' precomputed coincidence matrices, so the cost depends on the number of
    distinct patterns and resamples, not on the number of units. Resamples in which
    alpha is undefined (no variation) are left out of the percentiles.
    """
    if not _has_level(level):
        return None
    grouped = _pattern_coincidences(counts)
    if grouped is None:
        return None
    o_p, freq = grouped
    p, v = o_p.shape[0], o_p.shape[1]
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(int(freq.sum()), freq / freq.sum(), size=resamples)
    o = (draws @ o_p.reshape(p, v * v)).reshape(resamples, v, v)
    alphas = _alpha_from_coincidences(o, level, value_domain)
    alphas = alphas[np.isfinite(alphas)]
    if len(alphas) == 0:
        return None
    lo, hi = np.percentile(alphas, [2.5, 97.5])
    return float(lo), float(hi)


def fleiss_kappa_from_counts(table: np.ndarray) -> float | None:
    """Fleiss' (1971) kappa from a units x categories count table with equal row sums."""
    table = np.asarray(table, dtype=float)
    if table.ndim != 2 or len(table) == 0:
        return None
    raters = table.sum(axis=1)
    if np.any(raters != raters[0]):
        raise ValueError("Fleiss' kappa needs the same number of ratings for every unit")
    n = raters[0]
    if n < 2:
        return None
    p_i = ((table**2).sum(axis=1) - n) / (n * (n - 1))
    p_j = table.sum(axis=0) / table.sum()
    p_e = float((p_j**2).sum())
    if p_e >= 1.0:
        return None
    return (float(p_i.mean()) - p_e) / (1.0 - p_e)


def fleiss_kappa(matrix: np.ndarray) -> float | None:
    """Fleiss' kappa over the units rated by the most common number of annotators.

    Fleiss' formula assumes every unit got the same number of ratings. Marketplace
    items rarely do exactly, so rather than padding or subsampling (which invents or
    discards ratings) this keeps the units with the modal count (ties go to the larger
    count); use Krippendorff's alpha when the other units matter.
    """
    return modal_fleiss_kappa(value_counts(matrix, _observed_domain(matrix)))


def modal_fleiss_kappa(counts: np.ndarray) -> float | None:
    """`fleiss_kappa` from a units x values count table; values nobody gave change
    nothing, so the counts over a question's whole value domain serve."""
    m = counts.sum(axis=1)
    sizes, freq = np.unique(m[m >= 2], return_counts=True)
    if len(sizes) == 0:
        return None
    modal = sizes[freq == freq.max()].max()
    return fleiss_kappa_from_counts(counts[m == modal])


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
    weights: str | None = None,
    value_domain=None,
) -> list[dict]:
    """Cohen's kappa for every annotator pair sharing at least `min_shared` units.

    Rows of `matrix` must be annotators (not packed slots). Shared-unit counts come
    from one sparse product, so only pairs that clear `min_shared` are visited. For
    ordinal data pass weights="linear" or "quadratic" together with `value_domain`, so
    that unused values still count as steps between used ones. `kappa` is None where
    it is undefined (both annotators gave one and the same value throughout).
    """
    matrix = np.asarray(matrix, dtype=float)
    present = ~np.isnan(matrix)
    indicator = sparse.csr_matrix(present.astype(np.int32))
    shared = (indicator @ indicator.T).toarray()
    labels = None if value_domain is None else np.asarray(value_domain, dtype=float)
    out = []
    a_idx, b_idx = np.nonzero(np.triu(shared >= max(min_shared, 1), k=1))
    for a, b in zip(a_idx.tolist(), b_idx.tolist(), strict=True):
        both = present[a] & present[b]
        x, y = matrix[a, both], matrix[b, both]
        with warnings.catch_warnings():
            # sklearn warns on single-label pairs; they are reported as None below.
            warnings.simplefilter("ignore")
            kappa = cohen_kappa_score(x, y, labels=labels, weights=weights)
        out.append(
            {
                "a": annotator_ids[a],
                "b": annotator_ids[b],
                "shared": int(shared[a, b]),
                "kappa": float(kappa) if np.isfinite(kappa) else None,
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
