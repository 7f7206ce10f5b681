"""Measures of written answers: how far a reviewer's fix moved an answer, how alike the
answers to one item are, and which answers are unusually long, short, fast or slow.

* Edit distance is Levenshtein's (insertions, deletions and substitutions of characters,
  each costing one), from rapidfuzz. Normalised by the longer text it reads as "the share of
  the answer the reviewer rewrote": 0 for an untouched answer, 1 for a complete rewrite.
* Similarity is the cosine of TF-IDF vectors of words, which needs no downloaded language
  model and treats every language that separates words alike. Inverse document frequencies
  are learnt from all the answers to a question at once, so words every answer uses (the
  prompt's own) weigh little against the words that make one answer differ from another.
* The text consensus of an item is the answer most like the item's other answers (highest
  mean similarity to them), with that mean as its confidence. Answers that share the highest
  mean (always so with exactly two answers, and with two near-copies beside a stray) are
  equally good representatives: the first of them stands for the item and the consensus
  says it was tied, so a reader does not take it for the one the others chose.
* Outliers are judged by the modified z-score of Iglewicz and Hoaglin (1993),
  0.6745 (x - median) / MAD, beyond 3.5: the median and the median absolute deviation are
  not dragged by the outliers they look for, as a mean and a standard deviation are. When
  more than half the values are equal (MAD 0) the mean absolute deviation scaled by 1.2533
  stands in for it, the fallback IBM SPSS documents. Lengths and times are skewed, so they
  are judged on a log scale, where an answer ten times the median is as far out as one a
  tenth of it.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from rapidfuzz.distance import Levenshtein
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer

# Iglewicz and Hoaglin's constants: 0.6745 is the 75% quantile of the standard normal, which
# makes the MAD estimate the standard deviation of normal data; 3.5 is their cut-off.
MAD_SCALE = 0.6745
MEAN_AD_SCALE = 1.253314
OUTLIER_Z = 3.5
# Means of similarity closer than this are the same mean, computed in another order.
TIE_TOLERANCE = 1e-9
# Words of one character count too ("a", "x", digits): answers to short questions are short.
WORD_PATTERN = r"(?u)\b\w+\b"


def edit_distance(a: str, b: str) -> int:
    """Characters inserted, deleted or substituted to turn ``a`` into ``b``."""
    return Levenshtein.distance(a, b)


def normalised_edit_distance(a: str, b: str) -> float:
    """Edit distance over the longer text's length, on [0, 1]; 0 for two empty texts."""
    return float(Levenshtein.normalized_distance(a, b))


def tfidf_vectors(texts: Sequence[str]) -> sparse.csr_matrix:
    """One L2-normalised TF-IDF row per text, so that a row product is a cosine. Texts
    without a single word (blank, punctuation only) get a zero row, similar to nothing."""
    vectorizer = TfidfVectorizer(token_pattern=WORD_PATTERN, sublinear_tf=True,
                                 strip_accents="unicode")
    try:
        return vectorizer.fit_transform(texts).tocsr()
    except ValueError:
        # Not one word in any text: scikit-learn refuses an empty vocabulary.
        return sparse.csr_matrix((len(texts), 1))


def similarity_matrix(vectors: sparse.spmatrix) -> np.ndarray:
    """Cosine similarity of every pair of rows of ``tfidf_vectors``."""
    return np.asarray((vectors @ vectors.T).todense(), dtype=float)


@dataclass(frozen=True)
class TextConsensus:
    """An item's text consensus: the position of the chosen answer among the item's answers,
    that answer's mean similarity to the others (the confidence), whether other answers
    share that mean, and every answer's mean similarity to the others."""

    index: int
    confidence: float
    tied: bool
    mean_similarity: np.ndarray


def choose(means: np.ndarray) -> TextConsensus:
    """The consensus of one item from each answer's mean similarity to the others."""
    means = np.clip(np.asarray(means, dtype=float), 0.0, 1.0)
    best = float(means.max())
    leaders = np.flatnonzero(means >= best - TIE_TOLERANCE)
    return TextConsensus(int(leaders[0]), best, len(leaders) > 1, means)


def consensus_of(similarities: np.ndarray) -> TextConsensus:
    """The consensus of one item from its answers' similarity matrix (two answers or more)."""
    n = len(similarities)
    if n < 2:
        raise ValueError("a text consensus needs at least two answers")
    return choose((similarities.sum(axis=1) - np.diag(similarities)) / (n - 1))


def mean_similarities(vectors: sparse.spmatrix, sizes: Sequence[int]) -> np.ndarray:
    """Per row of ``tfidf_vectors``, its mean cosine similarity to the other rows of its
    group, the groups being consecutive runs of ``sizes`` rows (nan in a group of one).

    The sum of a row's similarities to its group is its product with the group's summed
    vectors, less its product with itself, so every item is done in a few sparse products
    rather than a similarity matrix each."""
    sizes = np.asarray(sizes, dtype=np.int64)
    group = np.repeat(np.arange(len(sizes)), sizes)
    members = sparse.csr_matrix((np.ones(len(group)), (group, np.arange(len(group)))),
                                shape=(len(sizes), len(group)))
    totals = members @ vectors
    to_group = np.asarray(vectors.multiply(totals[group]).sum(axis=1)).ravel()
    to_self = np.asarray(vectors.multiply(vectors).sum(axis=1)).ravel()
    others = sizes[group] - 1
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(others > 0, (to_group - to_self) / others, np.nan)


def text_consensus(groups: Sequence[Sequence[str]]) -> list[TextConsensus | None]:
    """Per group of answers (one group per item) its consensus, or None for a group of fewer
    than two answers. One vocabulary and one set of IDF weights serve every group."""
    flat = [text for group in groups for text in group]
    if not flat:
        return [None] * len(groups)
    sizes = [len(group) for group in groups]
    means = mean_similarities(tfidf_vectors(flat), sizes)
    bounds = np.cumsum([0, *sizes])
    return [choose(means[start:end]) if end - start >= 2 else None
            for start, end in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True)]


def robust_z(values: Sequence[float] | np.ndarray) -> np.ndarray:
    """Modified z-score of each value (see the module doc); all zeros when every value is
    the same."""
    x = np.asarray(values, dtype=float)
    if len(x) == 0:
        return x
    deviation = x - np.median(x)
    mad = float(np.median(np.abs(deviation)))
    if mad > 0:
        return MAD_SCALE * deviation / mad
    mean_ad = float(np.mean(np.abs(deviation)))
    if mean_ad > 0:
        return deviation / (MEAN_AD_SCALE * mean_ad)
    return np.zeros_like(x)


def outliers(values: Sequence[float] | np.ndarray, *, log: bool = True,
             threshold: float = OUTLIER_Z) -> np.ndarray:
    """Per value -1 (unusually low), 1 (unusually high) or 0. With ``log`` the values are
    judged as log(1 + x), for lengths and durations (non-negative and skewed)."""
    x = np.asarray(values, dtype=float)
    z = robust_z(np.log1p(np.maximum(x, 0.0)) if log else x)
    return np.where(z > threshold, 1, np.where(z < -threshold, -1, 0))
