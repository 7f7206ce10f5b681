"""Beta-binomial trust in an expert, learned from their gold-item scores.

The prior is Beta(2, 2): mean 0.5, worth four pseudo-answers. It is weak enough that
about twenty real gold answers dominate it, but strong enough that two lucky answers
give a mean of 0.67 with a 5% lower bound of 0.34 instead of a confident 100%. A flat
Beta(1, 1) would already call the same expert 75% reliable; centring the prior on a
coin flip says "unknown" until the expert has shown otherwise. Rank and gate on the
lower bound, which punishes thin evidence; show the mean next to the count.
"""

from dataclasses import dataclass

from scipy.stats import beta as beta_dist

PRIOR_ALPHA = 2.0
PRIOR_BETA = 2.0
LOWER_QUANTILE = 0.05


@dataclass(frozen=True)
class Trust:
    """Posterior Beta(alpha, beta) over an expert's probability of matching gold.

    `n` counts observed answers (fractional scores count fractionally) so that reports
    can show how much evidence stands behind `mean`; `lower` is the 5% quantile, the
    number to rank or gate on because it punishes thin evidence.
    """

    alpha: float
    beta: float
    n: float
    mean: float
    lower: float


def posterior(
    successes: float,
    failures: float,
    prior_alpha: float = PRIOR_ALPHA,
    prior_beta: float = PRIOR_BETA,
) -> Trust:
    """Trust after `successes` and `failures`, which may be fractional sums of scores."""
    if successes < 0 or failures < 0:
        raise ValueError("successes and failures must be non-negative")
    a = prior_alpha + successes
    b = prior_beta + failures
    return Trust(
        alpha=a,
        beta=b,
        n=float(successes + failures),
        mean=a / (a + b),
        lower=float(beta_dist.ppf(LOWER_QUANTILE, a, b)),
    )


def update(
    trust: Trust,
    score: float,
    prior_alpha: float = PRIOR_ALPHA,
    prior_beta: float = PRIOR_BETA,
) -> Trust:
    """Fold one more gold score in [0, 1] into `trust`.

    A score of 0.7 is 0.7 of a success and 0.3 of a failure, so partial credit from
    Jaccard, span F1 or rating distance moves trust proportionally. The prior must be
    the one `trust` was built with, since only the data part is carried forward.
    """
    if not 0.0 <= score <= 1.0:
        raise ValueError(f"score must be in [0, 1], got {score}")
    successes = trust.alpha - prior_alpha + score
    failures = trust.beta - prior_beta + (1.0 - score)
    return posterior(successes, failures, prior_alpha, prior_beta)


def from_scores(
    scores: list[float | None],
    prior_alpha: float = PRIOR_ALPHA,
    prior_beta: float = PRIOR_BETA,
) -> Trust:
    """Trust from a batch of gold scores; None (unscorable answers) is skipped."""
    kept = [s for s in scores if s is not None]
    if any(not 0.0 <= s <= 1.0 for s in kept):
        raise ValueError("scores must be in [0, 1]")
    total = float(sum(kept))
    return posterior(total, len(kept) - total, prior_alpha, prior_beta)


# Trust in an expert with no gold answers yet.
PRIOR = posterior(0, 0)
