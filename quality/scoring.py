"""Score one expert answer against a gold reference answer.

Scores live on [0, 1] so that they can be fed straight into the trust posterior as
fractional successes: a half-right multi-label answer should move trust half as much
as a fully right one, not be rounded to a hit or a miss.
"""

import statistics
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from scipy.stats import kendalltau


def _choice(answer: Any) -> Any:
    """Strength is a matter of degree; gold scoring only asks whether the side was right."""
    return answer["choice"] if isinstance(answer, dict) else answer


def _exact(question: dict, answer: Any, gold: Any) -> float:
    return float(answer == gold)


def _pairwise(question: dict, answer: Any, gold: Any) -> float:
    return float(_choice(answer) == _choice(gold))


def _jaccard(question: dict, answer: Iterable, gold: Iterable) -> float:
    a, g = set(answer), set(gold)
    # Both empty means the expert correctly said "none of these apply".
    return len(a & g) / len(a | g) if a | g else 1.0


def _rating(question: dict, answer: float, gold: float) -> float:
    span = question["max"] - question["min"]
    if span <= 0:
        return float(answer == gold)
    return max(0.0, 1.0 - abs(answer - gold) / span)


def _ranking(question: dict, answer: list[int], gold: list[int]) -> float:
    if sorted(answer) != sorted(gold):
        raise ValueError(f"ranking {answer!r} is not a permutation of gold {gold!r}")
    if len(gold) < 2:
        return 1.0
    # Compare the position each completion got, so tau is about completions, not slots.
    pos_a = [answer.index(c) for c in gold]
    tau = kendalltau(pos_a, range(len(gold))).statistic
    return (float(tau) + 1.0) / 2.0


def _labelled_chars(spans: Iterable[dict]) -> set[tuple[int, str]]:
    return {(pos, s["label"]) for s in spans for pos in range(s["start"], s["end"])}


def _span_f1(question: dict, answer: Iterable[dict], gold: Iterable[dict]) -> float:
    # Character level so that a span off by one word still earns most of the credit.
    a, g = _labelled_chars(answer), _labelled_chars(gold)
    if not a and not g:
        return 1.0
    return 2 * len(a & g) / (len(a) + len(g))


_SCORERS: dict[str, Callable[[dict, Any, Any], float]] = {
    "label": _exact,
    "multi_label": _jaccard,
    "rating": _rating,
    "ranking": _ranking,
    "pairwise": _pairwise,
    "spans": _span_f1,
}


def score_answer(question: dict, answer: Any, gold: Any) -> float | None:
    """Return the answer's agreement with gold on [0, 1], or None when it cannot be auto-scored.

    Free text has no automatic notion of correct, so it returns None rather than a
    misleading number; callers must skip None when updating trust.
    """
    kind = question["kind"]
    if kind == "text":
        return None
    try:
        scorer = _SCORERS[kind]
    except KeyError:
        raise ValueError(f"unknown question kind {kind!r}") from None
    return scorer(question, answer, gold)


def score_against_gold(questions: Sequence[dict], answer: dict,
                       gold: dict) -> tuple[float | None, dict[str, float]]:
    """Mean score over the questions the gold answer covers, and the score of each.

    Free text cannot be scored and is left out; a question the gold covers but the expert
    left unanswered scores 0. None when nothing could be scored.
    """
    per_question: dict[str, float] = {}
    for question in questions:
        name = question["name"]
        if name not in gold:
            continue
        if answer.get(name) is None:
            if question["kind"] != "text":
                per_question[name] = 0.0
            continue
        score = score_answer(question, answer[name], gold[name])
        if score is not None:
            per_question[name] = score
    if not per_question:
        return None, per_question
    return statistics.fmean(per_question.values()), per_question

