"""A project's rubric: the criteria a QA lead scores a written answer on when reviewing it.

A rubric is a list of criteria, ``{"name", "description", "min", "max"}``, each scored with
a whole number from ``min`` to ``max`` (1 to 5 unless given). Like ``tasks.schema`` it is
free of Django and collects every problem, named by its place (``rubric[1].max: ...``), so a
customer fixes a definition in one round trip; scores on a review are checked against it
and named by criterion.
"""

from __future__ import annotations

from typing import Any

from .schema import NAME_RE, SchemaError

CRITERION_KEYS = frozenset({"name", "description", "min", "max"})
DEFAULT_MIN, DEFAULT_MAX = 1, 5
MAX_CRITERIA = 20


def _whole(value: Any) -> bool:
    """JSON true/false arrive as Python bools, which must not pass for scores."""
    return isinstance(value, int) and not isinstance(value, bool)


def _criterion(entry: Any, index: int, seen: dict[str, int], errors: list[str]) -> dict | None:
    where = f"rubric[{index}]"
    if not isinstance(entry, dict):
        errors.append(f"{where}: must be an object with a name, got {type(entry).__name__}")
        return None
    before = len(errors)
    unknown = sorted(repr(key) for key in entry if key not in CRITERION_KEYS)
    if unknown:
        errors.append(f"{where}: unknown key(s) {', '.join(unknown)}; allowed keys are "
                      f"{', '.join(sorted(CRITERION_KEYS))}")
    name = entry.get("name")
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        shown = "is missing" if name is None else f"{name!r} is not valid"
        errors.append(f"{where}.name: {shown}; a criterion name uses lowercase letters, "
                      "digits and underscores, starts with a letter and has at most 64 "
                      "characters")
    elif name in seen:
        errors.append(f"{where}.name: {name!r} is already used by rubric[{seen[name]}]")
    else:
        seen[name] = index
    description = entry.get("description", "")
    if not isinstance(description, str):
        errors.append(f"{where}.description: must be a string")
    low, high = entry.get("min", DEFAULT_MIN), entry.get("max", DEFAULT_MAX)
    for key, value in (("min", low), ("max", high)):
        if not _whole(value):
            errors.append(f"{where}.{key}: must be a whole number, got {value!r}")
    if _whole(low) and _whole(high) and low >= high:
        errors.append(f"{where}.max: must be above min, got min {low} and max {high}")
    if len(errors) > before:
        return None
    return {"name": name, "description": description.strip(), "min": low, "max": high}


def build_rubric(raw: Any) -> list[dict]:
    """The rubric with its defaults written out, or SchemaError naming every problem under
    ``rubric``. None or an empty list is no rubric."""
    if raw is None:
        return []
    errors: list[str] = []
    if not isinstance(raw, list):
        raise SchemaError({"rubric": [f"must be a list of criteria, got {type(raw).__name__}"]})
    if len(raw) > MAX_CRITERIA:
        errors.append(f"at most {MAX_CRITERIA} criteria, got {len(raw)}")
    seen: dict[str, int] = {}
    criteria = [_criterion(entry, n, seen, errors) for n, entry in enumerate(raw)]
    if errors:
        raise SchemaError({"rubric": errors})
    return [criterion for criterion in criteria if criterion is not None]


def check_scores(rubric: list[dict], scores: Any) -> list[str]:
    """Problems with a review's rubric scores (``{criterion: score}``), each naming its
    criterion; an empty list when they fit. A review may score some criteria only."""
    if not isinstance(scores, dict):
        return [f"must be an object mapping criteria to scores, got {type(scores).__name__}"]
    if scores and not rubric:
        return ["this project has no rubric; define one on the project first"]
    criteria = {criterion["name"]: criterion for criterion in rubric}
    problems = []
    for name, score in scores.items():
        criterion = criteria.get(name)
        if criterion is None:
            problems.append(f"{name}: not a criterion of this project's rubric; its criteria "
                            f"are {', '.join(criteria)}")
        elif not _whole(score) or not criterion["min"] <= score <= criterion["max"]:
            problems.append(f"{name}: must be a whole number from {criterion['min']} to "
                            f"{criterion['max']}, got {score!r}")
    return problems
