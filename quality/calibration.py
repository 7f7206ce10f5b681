"""Calibration: the project setting that checks every new expert against gold.

A calibrating project serves a new expert ``gold_first`` gold items before anything else
(routing reads ``Project.gold_first``), then gold at the hidden ``gold_rate``, and removes an
expert whose gold accuracy's lower bound falls under ``min_lower_bound`` once they have
answered ``min_gold`` gold items. The removal is an ordinary quality rule, the one with
``preset="calibration"``, which the setting creates, changes and switches off; so its
finding reaches the expert as every rule's does (the roster's reason, routing's refusal,
``/api/v1/me/quality-actions/``) and a QA lead reverses it as any other action.
"""

import math
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.access import Action, require
from tasks.models import Project

from . import trust
from .models import QualityAction, QualityRule

PRESET = "calibration"
RULE_NAME = "Calibration"
# The rule judges the expert's latest gold answers: at least `min_gold`, and never so few
# that one lucky or unlucky answer dominates.
MIN_WINDOW = 20
# Twenty gold answers by default: the lower bound of a perfect record of ten is 0.68, so a
# bound of 0.70 judged on ten would remove every expert, the flawless ones included; on twenty
# a perfect record reads 0.81 and one slip 0.75.
DEFAULTS = {"gold_first": 5, "gold_rate": Decimal("0.10"), "min_lower_bound": Decimal("0.70"),
            "min_gold": 20}
# Beyond this many gold answers a bound is out of reach for calibration's purposes.
MAX_GOLD = 1000


@dataclass(frozen=True)
class Calibration:
    """A project's calibration as its customer set it, and the experts it keeps off now."""

    enabled: bool
    gold_first: int
    gold_rate: Decimal
    min_lower_bound: Decimal
    min_gold: int
    removed_experts: int


def _rule(project: Project) -> QualityRule | None:
    return QualityRule.objects.filter(project=project, preset=PRESET).order_by("id").first()


def calibration_of(project: Project) -> Calibration:
    """The project's calibration; switched off, the figures are the defaults a customer
    would start from (or those last used)."""
    rule = _rule(project)
    enabled = bool(project.gold_first) and rule is not None and rule.active
    removed = (QualityAction.objects.filter(rule=rule, reversed_at__isnull=True)
               .values("expert_id").distinct().count() if rule is not None else 0)
    return Calibration(
        enabled=enabled,
        gold_first=project.gold_first or DEFAULTS["gold_first"],
        gold_rate=project.gold_rate if enabled else DEFAULTS["gold_rate"],
        min_lower_bound=rule.value.quantize(Decimal("0.01")) if rule is not None
        else DEFAULTS["min_lower_bound"],
        min_gold=rule.min_evidence if rule is not None else DEFAULTS["min_gold"],
        removed_experts=removed)


def _check(project: Project, gold_first: int, gold_rate: Decimal, min_lower_bound: Decimal,
           min_gold: int) -> None:
    errors: dict[str, list[str]] = {}
    if not 1 <= gold_first <= 50:
        errors["gold_first"] = ["Serve between 1 and 50 gold items first."]
    if not 0 < gold_rate <= 1:
        errors["gold_rate"] = ["A share above 0 and at most 1 (0.10 is one item in ten)."]
    if not 0 <= min_lower_bound <= 1:
        errors["min_lower_bound"] = ["A share between 0 and 1."]
    if min_gold < 1:
        errors["min_gold"] = ["At least 1 gold answer."]
    if errors:
        raise ValidationError(errors)
    _check_reachable(min_lower_bound, min_gold)
    gold = project.items.filter(is_gold=True).count()
    needed = max(gold_first, min_gold)
    if gold < needed:
        field = "gold_first" if gold < gold_first else "min_gold"
        raise ValidationError({field: [
            f"The project has {gold} gold item{'s' if gold != 1 else ''}; calibration serves "
            f"{gold_first} first and judges an expert on {min_gold} gold answers, and no "
            f"expert sees an item twice, so it needs at least {needed}. Upload more gold "
            f"items or lower these numbers."]})


def perfect_lower_bound(answers: int) -> float:
    """The gold accuracy lower bound of an expert who got every one of `answers` right."""
    return trust.from_scores([1.0] * answers).lower


def _check_reachable(min_lower_bound: Decimal, min_gold: int) -> None:
    """Refuse a bound that even a flawless expert cannot clear on `min_gold` answers: the
    rule would remove every expert the moment it may judge them."""
    bound = float(min_lower_bound)
    perfect = perfect_lower_bound(min_gold)
    if perfect >= bound:
        return
    reachable = math.floor(perfect * 100) / 100
    needed = next((n for n in range(min_gold + 1, MAX_GOLD + 1)
                   if perfect_lower_bound(n) >= bound), None)
    lower = f"lower the bound to {reachable:.2f} at most"
    advice = f"judge on at least {needed} gold answers or {lower}" if needed else lower
    raise ValidationError({"min_gold": [
        f"With {min_gold} gold answers even an expert who gets every one right has a lower "
        f"bound of {perfect:.2f}, under {bound:.2f}, and would be removed: {advice}."]})


@transaction.atomic
def set_calibration(*, project: Project, by, gold_first: int = DEFAULTS["gold_first"],
                    gold_rate: Decimal = DEFAULTS["gold_rate"],
                    min_lower_bound: Decimal = DEFAULTS["min_lower_bound"],
                    min_gold: int = DEFAULTS["min_gold"]) -> Calibration:
    """Switch calibration on, or change its numbers: the project's gold settings and its
    calibration rule move together. Removals already made stay on record (and in force
    until a QA lead reverses them)."""
    project = Project.objects.select_for_update().get(pk=project.pk)
    require(by, Action.REVIEW, project.organization_id)
    gold_rate, min_lower_bound = Decimal(gold_rate), Decimal(min_lower_bound)
    _check(project, gold_first, gold_rate, min_lower_bound, min_gold)
    project.gold_first, project.gold_rate = gold_first, gold_rate
    project.save(update_fields=["gold_first", "gold_rate", "updated_at"])
    values = {"name": RULE_NAME, "metric": QualityRule.Metric.GOLD_ACCURACY_LOWER,
              "window": QualityRule.Window.ANSWERS, "window_size": max(min_gold, MIN_WINDOW),
              "min_evidence": min_gold, "comparator": QualityRule.Comparator.LT,
              "value": min_lower_bound, "action": QualityRule.Action.REMOVE, "active": True}
    rule = (QualityRule.objects.select_for_update()
            .filter(project=project, preset=PRESET).order_by("id").first())
    if rule is None:
        QualityRule.objects.create(project=project, preset=PRESET, created_by=by, **values)
    else:
        QualityRule.objects.filter(pk=rule.pk).update(**values)
    return calibration_of(project)


@transaction.atomic
def clear_calibration(*, project: Project, by) -> Calibration:
    """Switch calibration off: no more gold first, and the rule stops judging. The gold
    rate stays as it is (gold still feeds trust); removals already made stay on record."""
    project = Project.objects.select_for_update().get(pk=project.pk)
    require(by, Action.REVIEW, project.organization_id)
    project.gold_first = 0
    project.save(update_fields=["gold_first", "updated_at"])
    QualityRule.objects.filter(project=project, preset=PRESET).update(active=False)
    return calibration_of(project)
