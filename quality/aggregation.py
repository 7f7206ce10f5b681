"""Consensus answers per question kind, each with a confidence on [0, 1].

Matrices are the reliability matrices of `quality.units` (annotators or packed slots
by units, numeric codes, np.nan for no answer). Functions that need to know which
item a unit belongs to take the `Units` object itself. A tied vote is broken uniformly
at random from a seed the caller passes and records, so no option is favoured and a
rerun with the same seed gives the same consensus; the vote says which units were tied.
"""

import zlib
from collections.abc import Mapping
from dataclasses import dataclass

import choix
import numpy as np
from scipy import sparse

from quality.agreement import domain_index, unique_rows
from quality.units import Units, tokens

# Weighted votes are float sums whose order of addition differs per unit: values within
# this relative distance of the top count are tied.
TIE_TOLERANCE = 1e-9
_MASK64 = (1 << 64) - 1


@dataclass(frozen=True)
class Vote:
    """Per-unit winner (a value from the domain, nan if nobody answered), its share, and
    whether the top count was shared by several values (the winner was then drawn)."""

    values: np.ndarray
    confidence: np.ndarray
    tied: np.ndarray


def _vote_counts(matrix: np.ndarray, value_domain, weights=None) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=float)
    rows, cols, idx = domain_index(matrix, value_domain)
    v = len(value_domain)
    w = None if weights is None else np.asarray(weights, dtype=float)[rows]
    flat = np.bincount(cols * v + idx, weights=w, minlength=matrix.shape[1] * v)
    return flat.reshape(matrix.shape[1], v)


def _mix64(z: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser: a bijection on 64-bit words whose output bits all depend
    on every input bit, so nearby keys give unrelated draws."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _as_words(keys) -> np.ndarray:
    keys = np.asarray(keys)
    if keys.dtype.kind == "u":
        return keys.astype(np.uint64)
    if keys.dtype.kind in "ib":
        return keys.astype(np.int64).view(np.uint64)
    return np.fromiter((zlib.crc32(str(k).encode()) for k in keys.ravel()),
                       dtype=np.uint64, count=keys.size).reshape(keys.shape)


def tie_draws(seed: int, keys, n_values: int) -> np.ndarray:
    """Uniform numbers on [0, 1), one per (key, value index), that depend only on the
    seed, the key and the value index.

    A counter-based draw rather than a stream from `np.random.default_rng(seed)`: the
    draw for an item is the same whether it is aggregated with the whole project (the
    report) or a chunk of it (the exports), so the two never resolve one tie differently.
    """
    base = _mix64(np.array([int(seed) & _MASK64], dtype=np.uint64))
    unit = _mix64(_as_words(keys).reshape(-1) ^ base)
    step = np.uint64(0x9E3779B97F4A7C15)  # 2**64 / golden ratio, SplitMix64's increment
    value = (np.arange(1, n_values + 1, dtype=np.uint64) * step)[None, :]
    words = _mix64(unit[:, None] + value)
    return (words >> np.uint64(11)).astype(float) * 2.0**-53


def unit_keys(units: Units, *, per_item: bool = False) -> np.ndarray:
    """A stable key per unit for `majority(..., keys=...)`: the item id combined with the
    option / token index, or the item id alone with `per_item` (all units of an item
    then share their draws, so a tied run of span tokens resolves as one span)."""
    items = _as_words(units.item_ids)[units.unit_item]
    if per_item:
        return items
    parts = units.unit_part.astype(np.uint64)
    return _mix64(items) ^ parts


def majority(matrix: np.ndarray, value_domain, weights=None, *, seed: int = 0,
             keys=None) -> Vote:
    """Most voted value per unit; `weights` (one per matrix row, e.g. trust means) make
    it a weighted vote, so rows must be annotators, not packed slots, when given.

    When several values share the top count the winner is drawn uniformly among them
    (`tied` marks those units): breaking ties towards the first value of the domain,
    as this function once did, made two 70%-accurate annotators on balanced binary
    truth answer the second option 29% of the time instead of 50%. The draw for a unit
    depends only on `seed`, its key and the value, so the same data and seed always
    give the same answer; record the seed beside the result. `keys` (one per unit, see
    `unit_keys`) default to the unit's column, which is stable only while the matrix
    holds the same units in the same order.
    """
    counts = _vote_counts(matrix, value_domain, weights)
    n_units, v = counts.shape
    total = counts.sum(axis=1)
    top = counts.max(axis=1, initial=0.0)
    answered = total > 0
    at_top = answered[:, None] & (counts >= (top - TIE_TOLERANCE * top)[:, None])
    tied = at_top.sum(axis=1) > 1
    winner = counts.argmax(axis=1)
    if tied.any():
        unit_key = np.arange(n_units) if keys is None else np.asarray(keys)
        if len(unit_key) != n_units:
            raise ValueError(f"keys has {len(unit_key)} entries for {n_units} units")
        draws = tie_draws(seed, unit_key[tied], v)
        winner[tied] = np.where(at_top[tied], draws, -1.0).argmax(axis=1)
    domain = np.asarray(value_domain, dtype=float)
    values = np.where(answered, domain[winner], np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(answered, counts[np.arange(n_units), winner] / total, 0.0)
    return Vote(values=values, confidence=share, tied=tied)


@dataclass(frozen=True)
class DawidSkene:
    """Fitted Dawid-Skene model.

    `posterior[i, j]` is P(item i has class j); `confusion[a, j, l]` is P(annotator a
    answers l | true class j), each annotator's confusion matrix with true classes as
    rows; `priors[j]` is the class prevalence. `log_likelihood` is that of the answers
    and of the gold items' known classes under the fitted model. `gold` marks the
    items whose class was given and held fixed.
    """

    posterior: np.ndarray
    confusion: np.ndarray
    priors: np.ndarray
    iterations: int
    converged: bool
    log_likelihood: float
    gold: np.ndarray
    one_coin: bool = False

    @property
    def labels(self) -> np.ndarray:
        return self.posterior.argmax(axis=1)

    @property
    def confidence(self) -> np.ndarray:
        return self.posterior.max(axis=1)

    @property
    def accuracy(self) -> np.ndarray:
        """Each annotator's expected share of right answers: the diagonal of their
        confusion matrix weighted by the class priors."""
        return np.einsum("ajj,j->a", self.confusion, self.priors)

    @property
    def spammer_score(self) -> np.ndarray:
        """Raykar & Yu's spammer score of each annotator; see `spammer_score`."""
        return spammer_score(self.confusion)


def spammer_score(confusion: np.ndarray) -> np.ndarray:
    """Raykar & Yu (2012, JMLR 13: 491-518) spammer score of confusion matrices
    (true class x given label, rows summing to 1; one matrix or a stack of them).

    A spammer's answers do not depend on the truth: every row of their confusion matrix
    is the same distribution, whether they answer at random or always the same class.
    The score is the squared Frobenius distance to the nearest such rank-one matrix,
    scaled to [0, 1]: 1 / (K (K - 1)) * sum over class pairs c < c' of
    sum_l (A[c, l] - A[c', l])**2, which for two classes is (sensitivity + specificity
    - 1)**2. 0 is a spammer, 1 an annotator whose answer determines the truth.

    It measures how much an answer tells about the truth, not how often it is right:
    an annotator who systematically relabels (answers "B" for every A, "C" for every B)
    scores 1, like a perfect one, because Dawid-Skene reads their answers back through
    their confusion matrix. They are not spammers; they are miscalibrated, and their
    accuracy (the confusion matrix's diagonal) is what shows it. Chosen over MACE's
    competence (Hovy et al. 2013), whose model has one "spam" label distribution per
    annotator and so cannot express such an annotator at all.

    Estimated from few answers, a confusion matrix is noisy, and noise alone lifts a
    spammer's score a little above 0; read it beside the number of answers.
    """
    confusion = np.asarray(confusion, dtype=float)
    k = confusion.shape[-1]
    if k < 2:
        return np.full(confusion.shape[:-2], np.nan)
    # sum over pairs c < c' of (x_c - x_c')**2 equals K * sum over c of (x_c - mean)**2.
    spread = confusion - confusion.mean(axis=-2, keepdims=True)
    return (spread**2).sum(axis=(-2, -1)) / (k - 1)


def _gold_arrays(gold, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    if gold is None:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    if isinstance(gold, Mapping):
        items, classes = list(gold.keys()), list(gold.values())
    else:
        items, classes = gold
    items = np.asarray(items, dtype=np.int64).reshape(-1)
    classes = np.asarray(classes, dtype=np.int64).reshape(-1)
    if len(items) != len(classes):
        raise ValueError(f"gold has {len(items)} items but {len(classes)} classes")
    if len(np.unique(items)) != len(items):
        raise ValueError("gold names an item more than once")
    if len(items) and (items.min() < 0 or classes.min() < 0 or classes.max() >= n_classes):
        raise ValueError(f"gold needs item indices >= 0 and classes in 0..{n_classes - 1}")
    return items, classes


def _em(counts, counts_t, posterior: np.ndarray, gold_items: np.ndarray,
        gold_classes: np.ndarray, max_iter: int, tol: float,
        smoothing: float, one_coin: bool = False) -> DawidSkene:
    """EM from a first M-step on `posterior`, holding gold items at their classes; with
    `one_coin` each annotator's confusion is one accuracy, errors spread evenly."""
    n_items, k = posterior.shape
    n_ann = counts.shape[1] // k
    is_gold = np.zeros(n_items, dtype=bool)
    is_gold[gold_items] = True
    free = ~is_gold
    converged = False
    iterations = 0
    prev_log_lik = -np.inf
    log_lik = -np.inf
    while iterations < max_iter:
        iterations += 1
        # M-step: expected (annotator, given label) x true class counts.
        given_by_true = np.asarray(counts_t @ posterior).reshape(n_ann, k, k)
        if one_coin:
            right = np.einsum("ajj->a", given_by_true)
            accuracy = (right + smoothing) / (given_by_true.sum(axis=(1, 2)) + 2 * smoothing)
            confusion = np.repeat(((1 - accuracy) / max(k - 1, 1))[:, None, None], k, axis=1)
            confusion = np.repeat(confusion, k, axis=2)
            confusion[:, np.arange(k), np.arange(k)] = accuracy[:, None]
        else:
            confusion = given_by_true.transpose(0, 2, 1) + smoothing
            confusion /= confusion.sum(axis=2, keepdims=True)
        priors = posterior.sum(axis=0) + smoothing
        priors /= priors.sum()
        # E-step: log P(class) + sum of log P(given label | class) over the item's labels.
        log_conf = np.log(confusion).transpose(0, 2, 1).reshape(n_ann * k, k)
        log_post = np.asarray(counts @ log_conf) + np.log(priors)
        peak = log_post.max(axis=1, keepdims=True)
        posterior = np.exp(log_post - peak)
        norm = posterior.sum(axis=1, keepdims=True)
        posterior /= norm
        # A gold item's class is observed: its term is the joint, not the marginal.
        log_lik = float((peak + np.log(norm))[free].sum()
                        + log_post[gold_items, gold_classes].sum())
        posterior[gold_items] = 0.0
        posterior[gold_items, gold_classes] = 1.0
        if abs(log_lik - prev_log_lik) <= tol * abs(log_lik):
            converged = True
            break
        prev_log_lik = log_lik
    return DawidSkene(posterior, confusion, priors, iterations, converged, log_lik, is_gold,
                      one_coin)


def dawid_skene(
    item_idx,
    annotator_idx,
    label_idx,
    n_classes: int,
    weights_init=None,
    max_iter: int = 100,
    tol: float = 1e-8,
    smoothing: float = 0.01,
    gold=None,
    one_coin: bool = False,
) -> DawidSkene:
    """Dawid & Skene (1979) EM over (item, annotator, label) index triples.

    Starts from each item's (optionally trust-weighted, `weights_init` per annotator)
    vote shares, the paper's own initialisation, which also anchors class identities
    so that EM cannot converge to a relabelled solution. An annotator may label an item
    more than once (as in the paper's data); each label counts. `smoothing` is a
    pseudo-count added to every confusion cell and prior so a class an annotator never
    used does not get probability zero and veto an item forever. Converged when the
    log-likelihood improves by less than `tol` relative to its size; with few
    informative annotators the likelihood is flat and individual posteriors can keep
    drifting long after the labels have settled. On a sparse crowd (3 of 20 experts per
    item) a tolerance of 1e-6 still stopped while a few labels were changing; 1e-8
    costs a few dozen cheap iterations more and leaves them settled.

    `gold` gives items whose class is known, as {item index: class index} or a pair of
    arrays (item indices, class indices). Their posteriors are held one-hot from the
    start and after every E-step, so they pin down what each class is and, through
    each annotator's answers on them, that annotator's confusion. Starting weights only
    seed the first step and a coordinated wrong majority wins again once EM converges;
    gold is evidence EM keeps. Because a few gold items barely move a fit started from
    the vote, EM is also run from a start that learns every confusion matrix from the
    gold items alone, and the fit with the higher likelihood (answers and gold classes
    together) is kept.

    All steps are sparse products over one items x (annotator, label) count matrix, so
    the cost per iteration is linear in the number of annotations.
    """
    item_idx = np.asarray(item_idx, dtype=np.int64)
    annotator_idx = np.asarray(annotator_idx, dtype=np.int64)
    label_idx = np.asarray(label_idx, dtype=np.int64)
    k = int(n_classes)
    gold_items, gold_classes = _gold_arrays(gold, k)
    n_items = int(max(item_idx.max(initial=-1), gold_items.max(initial=-1))) + 1
    n_ann = int(annotator_idx.max()) + 1 if len(annotator_idx) else 0
    # counts[i, a * k + l]: how often annotator a gave item i label l.
    counts = sparse.csr_matrix(
        (np.ones(len(item_idx)), (item_idx, annotator_idx * k + label_idx)),
        shape=(n_items, n_ann * k),
    )
    counts_t = counts.T.tocsr()

    w = np.ones(n_ann) if weights_init is None else np.asarray(weights_init, dtype=float)
    votes = np.bincount(item_idx * k + label_idx, weights=w[annotator_idx],
                        minlength=n_items * k).reshape(n_items, k)
    total = votes.sum(axis=1, keepdims=True)
    posterior = np.divide(votes, total, out=np.full_like(votes, 1.0 / k), where=total > 0)
    posterior[gold_items] = 0.0
    posterior[gold_items, gold_classes] = 1.0
    fit = _em(counts, counts_t, posterior, gold_items, gold_classes, max_iter, tol, smoothing,
              one_coin)
    if len(gold_items):
        from_gold = np.zeros_like(posterior)
        from_gold[gold_items, gold_classes] = 1.0
        other = _em(counts, counts_t, from_gold, gold_items, gold_classes, max_iter, tol,
                    smoothing, one_coin)
        if other.log_likelihood > fit.log_likelihood:
            fit = other
    return fit



def best_dawid_skene(item_idx, annotator_idx, label_idx, n_classes: int,
                     **options) -> DawidSkene:
    """Dawid-Skene with a full confusion matrix per annotator, or with one accuracy each
    (errors spread evenly over the other classes: "one coin"), whichever the data favour
    by the Bayesian information criterion.

    A full matrix has k(k - 1) free numbers per annotator against the one coin's single
    one; where annotators do err evenly, those numbers only fit noise and cost a few
    items (Raykar & Yu 2012 and crowd-kit's OneCoinDawidSkene make the same point), while
    a constant or systematically relabelling annotator needs the full matrix, and the
    likelihood says so by far more than the penalty.
    """
    k = int(n_classes)
    n_ann = int(np.max(annotator_idx, initial=-1)) + 1
    answers = max(len(item_idx), 1)
    full = dawid_skene(item_idx, annotator_idx, label_idx, k, **options)
    coin = dawid_skene(item_idx, annotator_idx, label_idx, k, one_coin=True, **options)
    penalty = np.log(answers) * n_ann * (k * (k - 1) - 1)
    return coin if 2 * (full.log_likelihood - coin.log_likelihood) < penalty else full

@dataclass(frozen=True)
class RatingConsensus:
    """Per-unit median and mean rating, and 1 - (standard deviation / its maximum).

    The maximum standard deviation on [lo, hi] is (hi - lo) / 2 (half the raters at
    each end), so confidence is 1 for unanimity and 0 for a perfect split. It measures
    agreement, not evidence: a single rating has confidence 1, so show the count too.
    """

    median: np.ndarray
    mean: np.ndarray
    confidence: np.ndarray


def rating_consensus(matrix: np.ndarray, lo: float, hi: float) -> RatingConsensus:
    """Median (robust to one outlier expert) and mean (for interval questions) per unit."""
    matrix = np.asarray(matrix, dtype=float)
    answered = (~np.isnan(matrix)).any(axis=0)
    median = np.full(matrix.shape[1], np.nan)
    mean = np.full(matrix.shape[1], np.nan)
    confidence = np.full(matrix.shape[1], np.nan)
    sub = matrix[:, answered]
    median[answered] = np.nanmedian(sub, axis=0)
    mean[answered] = np.nanmean(sub, axis=0)
    spread = np.nanstd(sub, axis=0)
    confidence[answered] = 1.0 - spread / ((hi - lo) / 2.0) if hi > lo else 1.0
    return RatingConsensus(median=median, mean=mean, confidence=np.clip(confidence, 0, 1))


@dataclass(frozen=True)
class RankConsensus:
    """Per-item consensus order of completions, padded to the widest item.

    Row i belongs to `item_ids[i]` with `n_completions[i]` completions; columns past
    that are -1 (order) or nan. `scores` are Bradley-Terry log-strengths and `borda`
    the pairwise wins (a tie counts half) per completion index; `order` lists
    completion indices best first (BT score, then Borda, then index). `confidence` is
    the BT probability that the first beats the second (1 for a single completion).
    """

    item_ids: np.ndarray
    n_completions: np.ndarray
    order: np.ndarray
    scores: np.ndarray
    borda: np.ndarray
    confidence: np.ndarray


def _fit_bradley_terry(wins: np.ndarray, alpha: float) -> np.ndarray:
    """BT log-strengths for a stack of win matrices (n, k, k), one choix fit per
    distinct matrix after relabelling completions by Borda score, since many items
    share a vote pattern up to which completion is which."""
    n, k, _ = wins.shape
    borda = wins.sum(axis=2)
    perm = np.argsort(-borda, axis=1, kind="stable")
    canon = np.take_along_axis(np.take_along_axis(wins, perm[:, :, None], 1), perm[:, None, :], 2)
    patterns, _, inverse = unique_rows(canon.reshape(n, k * k))
    fitted = np.array([choix.ilsr_pairwise_dense(p.reshape(k, k), alpha=alpha) for p in patterns])
    params = np.empty((n, k))
    np.put_along_axis(params, perm, fitted[inverse], axis=1)
    return params


def _win_matrices(units: Units) -> tuple[np.ndarray, np.ndarray]:
    """Completion count and stacked padded win matrices per item of a ranking or
    pairwise question."""
    n_items = len(units.item_ids)
    item = units.unit_item[units.unit_idx]
    if units.kind == "pairwise":
        width = np.full(n_items, 2)
        # A (negative code) beats B, B (positive) beats A, a tie gives each half a win.
        a_wins = np.where(units.values < 0, 1.0, np.where(units.values == 0, 0.5, 0.0))
        wins = np.zeros((n_items, 2, 2))
        wins[:, 0, 1] = np.bincount(item, weights=a_wins, minlength=n_items)
        wins[:, 1, 0] = np.bincount(item, weights=1.0 - a_wins, minlength=n_items)
        return width, wins
    if units.kind != "ranking":
        raise ValueError(f"rank consensus needs ranking or pairwise units, not {units.kind!r}")
    width = np.bincount(units.unit_item, minlength=n_items)
    k = int(width.max(initial=0))
    # One row of positions per (item, annotator) answer.
    key = item * units.n_annotators + units.annotator_idx
    answer_keys, answer = np.unique(key, return_inverse=True)
    positions = np.full((len(answer_keys), k), np.inf)
    positions[answer, units.unit_part[units.unit_idx]] = units.values
    beats = (positions[:, :, None] < positions[:, None, :]).reshape(len(answer_keys), k * k)
    answer_item = answer_keys // units.n_annotators
    wins = np.zeros((n_items, k * k))
    for cell in range(k * k):
        wins[:, cell] = np.bincount(answer_item, weights=beats[:, cell], minlength=n_items)
    return width, wins.reshape(n_items, k, k)


def rank_consensus(units: Units, alpha: float = 0.5) -> RankConsensus:
    """Bradley-Terry (via choix) and Borda consensus for ranking or pairwise units.

    A ranking contributes every pair it implies; a pairwise answer one comparison
    between completion 0 (A) and 1 (B), with a tie counting half a win each and
    strength ignored (BT models who wins, not by how much). `alpha` is choix's
    regulariser; the default 0.5 makes the two-completion confidence exactly Laplace's
    rule (wins + 1) / (votes + 2), so one vote gives 2/3 and five unanimous votes 6/7
    instead of a near-certain 0.98 from a single expert. For the A / B / tie label
    itself use `majority` or `dawid_skene` on the units.
    """
    width, wins = _win_matrices(units)
    n_items, k = wins.shape[0], wins.shape[1]
    scores = np.full((n_items, k), np.nan)
    for w in np.unique(width[width >= 2]):
        rows = np.flatnonzero(width == w)
        scores[rows, :w] = _fit_bradley_terry(wins[rows, :w, :w], alpha)
    scores[width == 1, 0] = 0.0
    borda = wins.sum(axis=2)
    cols = np.arange(k)[None, :]
    padded = cols >= width[:, None]
    borda[padded] = np.nan
    order = np.lexsort(
        (np.broadcast_to(cols, (n_items, k)), -np.where(padded, -np.inf, borda),
         -np.where(padded, -np.inf, scores)),
        axis=-1,
    )
    order = np.where(np.take_along_axis(padded, order, 1), -1, order)
    confidence = np.ones(n_items)
    two = width >= 2
    if k >= 2:
        first = np.take_along_axis(scores, order[:, :1].clip(0), 1)[:, 0]
        second = np.take_along_axis(scores, order[:, 1:2].clip(0), 1)[:, 0]
        confidence[two] = 1.0 / (1.0 + np.exp(second[two] - first[two]))
    return RankConsensus(units.item_ids, width, order, scores, borda, confidence)


@dataclass(frozen=True)
class ItemConsensus:
    """Consensus regrouped per item for kinds with several units per item.

    `answers[item_id]` is the consensus answer in the question's own format (a list
    of options for multi_label, a list of {"start", "end", "label"} spans for spans);
    `confidence[item_id]` is the mean winner share over the item's units.
    """

    answers: dict
    confidence: dict


def _mean_per_item(units: Units, per_unit: np.ndarray) -> dict:
    n_items = len(units.item_ids)
    sums = np.bincount(units.unit_item, weights=per_unit, minlength=n_items)
    sizes = np.bincount(units.unit_item, minlength=n_items)
    means = np.divide(sums, sizes, out=np.ones(n_items), where=sizes > 0)
    return dict(zip(units.item_ids.tolist(), means.tolist(), strict=True))


def multi_label_consensus(units: Units, options: list[str], *, seed: int = 0) -> ItemConsensus:
    """Per-option majority: an option is chosen when more answers tick it than not, and
    on an even split (a tie between ticked and not ticked) with probability 1/2, drawn
    per (item, option) from `seed`. Never choosing a split option would lean every
    consensus towards fewer labels; `majority(...).tied` shows which options were drawn.
    """
    vote = majority(units.packed(), units.value_domain, seed=seed, keys=unit_keys(units))
    answers: dict = {i: [] for i in units.item_ids.tolist()}
    chosen = np.flatnonzero(vote.values == 1)
    for item, part in zip(units.item_ids[units.unit_item[chosen]].tolist(),
                          units.unit_part[chosen].tolist(), strict=True):
        answers[item].append(options[part])
    return ItemConsensus(answers, _mean_per_item(units, vote.confidence))


def span_consensus(units: Units, texts: Mapping, *, seed: int = 0) -> ItemConsensus:
    """Token-level majority, merged back into character spans.

    Adjacent tokens with the same winning label form one span from the first token's
    start to the last token's end, so the consensus is an ordinary spans answer. A tied
    token (say one expert marked it ERR and one left it unmarked, "O") is drawn
    uniformly among the tied labels from `seed`, as any tie; letting "O" win would
    shrink every disputed span. The draws are shared by all tokens of an item, so a
    run of tokens tied the same way is kept or dropped whole rather than fragmented.
    """
    vote = majority(units.packed(), units.value_domain, seed=seed,
                    keys=unit_keys(units, per_item=True))
    labels = vote.values.astype(np.int64)
    item = units.unit_item
    boundary = np.ones(len(labels), dtype=bool)
    boundary[1:] = (labels[1:] != labels[:-1]) | (item[1:] != item[:-1])
    starts = np.flatnonzero(boundary)
    ends = np.append(starts[1:], len(labels)) - 1
    ids = units.item_ids.tolist()
    answers: dict = {i: [] for i in ids}
    offsets: dict = {}
    for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
        if labels[s] == 0:
            continue
        item_id = ids[item[s]]
        spans = offsets.get(item_id)
        if spans is None:
            spans = offsets[item_id] = tokens(texts[item_id])
        answers[item_id].append({
            "start": spans[units.unit_part[s]][0],
            "end": spans[units.unit_part[e]][1],
            "label": units.value_labels[labels[s]],
        })
    return ItemConsensus(answers, _mean_per_item(units, vote.confidence))
