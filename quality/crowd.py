"""The crowd's answer to a question, and how far one answer agrees with it.

Django-free, so that the submission hook, the quality rules, the experts list, the report
and the exports read one definition.
"""

import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

COMPARED_KINDS = ("label", "pairwise", "rating")
# A rating within this distance of the others' median agrees with them.
RATING_TOLERANCE = 1


def choice(value: Any) -> Any:
    """A pairwise answer's side; its strength does not decide agreement."""
    return value["choice"] if isinstance(value, dict) else value


def answer_agreement(questions: Sequence[dict], answer: dict,
                     others: Iterable[dict]) -> float | None:
    """Share of the answer's comparable questions on which it matches the other experts.

    Label and pairwise answers match when they are the others' majority value (pairwise
    strength is ignored; with the others tied there is no majority and the question is not
    compared); ratings match within RATING_TOLERANCE of the others' median. Other kinds
    have no single right answer to match and are skipped. None when nothing was compared.
    """
    others = list(others)
    compared = matched = 0
    for question in questions:
        kind, name = question["kind"], question["name"]
        if kind not in COMPARED_KINDS or answer.get(name) is None:
            continue
        values = [other[name] for other in others if other.get(name) is not None]
        if not values:
            continue
        if kind == "rating":
            compared += 1
            matched += abs(answer[name] - statistics.median(values)) <= RATING_TOLERANCE
            continue
        ranked = Counter(choice(v) for v in values).most_common(2)
        if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
            continue
        compared += 1
        matched += choice(answer[name]) == ranked[0][0]
    return matched / compared if compared else None


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
