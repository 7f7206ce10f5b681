"""Qualification tests: operators write a domain's test, experts take it, and a pass makes
them qualified in the domain with the trust their scores earned."""

import random
import statistics
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.access import Action, require
from accounts.models import Domain, Expertise, ExpertProfile
from accounts.services import qualify_expertise
from config.exceptions import Conflict
from tasks import schema
from tasks.routing import check_can_work

from .gold import fold_domain_trust
from .models import QualificationAttempt, QualificationItem, QualificationTest
from .scoring import score_against_gold


def _schema_error(exc: schema.SchemaError) -> ValidationError:
    return ValidationError(exc.errors)


def check_qualification_items(fields: list[dict], questions: list[dict],
                              items: Sequence[dict]) -> list[str]:
    """Problems with test items (`{"data", "gold"}`), named by position: every item needs
    valid data and a gold answer that scores at least one question."""
    validator = schema.ItemValidator(fields, questions)
    problems = []
    for n, item in enumerate(items):
        found = validator.validate(item.get("data"))
        if not found:
            found = validator.validate_gold(item["data"], item.get("gold"))
            if not found and not item["gold"]:
                found = [("gold", "A gold answer needs at least one question.")]
        problems += [f"items[{n}].{where}: {message}" for where, message in found]
    return problems


@transaction.atomic
def create_qualification_test(*, user, domain: Domain, name: str, fields: list,
                              questions: list, items: Sequence[dict],
                              **options: Any) -> QualificationTest:
    """Operators write a domain's test: its schema, settings and gold items in one go."""
    require(user, Action.OPERATE, message="Only operators write qualification tests.")
    try:
        fields, questions = schema.build_schema(None, fields, questions)
    except schema.SchemaError as exc:
        raise _schema_error(exc) from exc
    if not items:
        raise ValidationError({"items": ["A test needs at least one item."]})
    problems = check_qualification_items(fields, questions, items)
    if problems:
        raise ValidationError({"items": problems})
    test = QualificationTest.objects.create(domain=domain, name=name, fields=fields,
                                            questions=questions, **options)
    QualificationItem.objects.bulk_create(
        [QualificationItem(test=test, data=item["data"], gold=item["gold"]) for item in items])
    return test


def retry_at(test: QualificationTest, last: QualificationAttempt | None) -> datetime | None:
    """When the expert may start the test again after their last attempt; None if now."""
    if last is None or last.status == QualificationAttempt.Status.IN_PROGRESS:
        return None
    if last.status == QualificationAttempt.Status.PASSED:
        return None
    ended = last.submitted_at or last.expires_at
    return ended + timedelta(seconds=test.retry_after_s)


def expire_attempts(*, now: datetime | None = None, **filters: Any) -> int:
    """Attempts whose time ran out without an answer count as expired (and as a failure
    for the retry wait)."""
    return QualificationAttempt.objects.filter(
        status=QualificationAttempt.Status.IN_PROGRESS, expires_at__lte=now or timezone.now(),
        **filters).update(status=QualificationAttempt.Status.EXPIRED)


@transaction.atomic
def start_attempt(*, test_id: int, user,
                  rng: random.Random | None = None) -> QualificationAttempt:
    """Draw the test's items for the expert and start the clock.

    Items the expert met in earlier attempts come last, so a retry is a new test as far as
    the item pool allows. Refused while an attempt runs, after a pass, and before
    `retry_after_s` has passed since a failed or expired attempt.
    """
    profile = ExpertProfile.objects.select_for_update().filter(user=user).first()
    check_can_work(profile)
    test = QualificationTest.objects.get(pk=test_id, active=True)
    now = timezone.now()
    expire_attempts(now=now, test=test, expert=user)
    attempts = QualificationAttempt.objects.filter(test=test, expert=user)
    last = attempts.first()
    if last is not None and last.status == QualificationAttempt.Status.IN_PROGRESS:
        raise Conflict(f"You have an attempt in progress until {last.expires_at:%Y-%m-%d %H:%M} "
                       f"UTC; submit it first.", code="attempt_in_progress")
    if attempts.filter(status=QualificationAttempt.Status.PASSED).exists():
        raise Conflict("You passed this test already.", code="already_passed")
    retry = retry_at(test, last)
    if retry is not None and retry > now:
        raise Conflict(f"You may retry this test from {retry:%Y-%m-%d %H:%M} UTC.",
                       code="retry_later")
    pool = list(test.items.values_list("pk", flat=True))
    if not pool:
        raise Conflict("This test has no items yet.", code="no_items")
    seen = set(QualificationAttempt.items.through.objects.filter(
        qualificationattempt__in=attempts).values_list("qualificationitem_id", flat=True))
    rng = rng or random.SystemRandom()
    rng.shuffle(pool)
    pool.sort(key=lambda pk: pk in seen)
    attempt = QualificationAttempt.objects.create(
        test=test, expert=user, started_at=now,
        expires_at=now + timedelta(seconds=test.time_limit_s))
    attempt.items.set(pool[:test.items_per_attempt])
    return attempt


def _grade(test: QualificationTest, items: dict[str, QualificationItem],
           answers: Any) -> list[float]:
    """Check every answer (all or nothing, like an assignment's) and score each item."""
    if not isinstance(answers, dict):
        raise ValidationError({"answers": ["Expected an object mapping item ids to answers."]})
    problems = [f"item {key}: not part of this attempt" for key in answers
                if str(key) not in items]
    answers = {str(key): value for key, value in answers.items()}
    for key, item in items.items():
        if answers.get(key) is None:
            problems.append(f"item {key}: no answer")
            continue
        errors = schema.validate_answer(test.questions, item.data, answers[key])
        problems += [f"item {key}: {name}: {message}" for name, messages in errors.items()
                     for message in messages]
    if problems:
        raise ValidationError({"answers": problems})
    scores = [score_against_gold(test.questions, answers[key], item.gold)[0]
              for key, item in items.items()]
    return [score for score in scores if score is not None]


def submit_attempt(*, attempt_id: int, user, answers: Any) -> QualificationAttempt:
    """Score the attempt; at the test's pass mark the expert is qualified in its domain.

    Each scored item also counts as a gold answer in the domain's trust, so a newly
    qualified expert arrives with earned trust rather than the prior alone. An attempt past
    its time limit becomes expired (that is kept) and the submission is refused.
    """
    with transaction.atomic():
        attempt = (QualificationAttempt.objects.select_for_update(of=("self",))
                   .select_related("test").get(pk=attempt_id, expert=user))
        if attempt.status != QualificationAttempt.Status.IN_PROGRESS:
            raise Conflict(f"This attempt is already {attempt.status}.",
                           code=f"already_{attempt.status}")
        now = timezone.now()
        expired = attempt.expires_at <= now
        if expired:
            attempt.status = QualificationAttempt.Status.EXPIRED
            attempt.save(update_fields=["status"])
        else:
            _finish(attempt, user, answers, now)
    if expired:
        raise Conflict(f"The time for this attempt ran out at "
                       f"{attempt.expires_at:%Y-%m-%d %H:%M:%S} UTC.", code="expired")
    return attempt


def _finish(attempt: QualificationAttempt, user, answers: Any, now: datetime) -> None:
    test = attempt.test
    items = {str(item.pk): item for item in attempt.items.all()}
    scores = _grade(test, items, answers)
    score = Decimal(f"{statistics.fmean(scores):.4f}") if scores else Decimal(0)
    attempt.answers = {str(key): value for key, value in answers.items()}
    attempt.score, attempt.submitted_at = score, now
    passed = score >= test.pass_mark
    attempt.status = (QualificationAttempt.Status.PASSED if passed
                      else QualificationAttempt.Status.FAILED)
    attempt.save(update_fields=["answers", "score", "submitted_at", "status"])
    if passed:
        qualify_expertise(expert=user.expert_profile, domain=test.domain, score=score,
                          source=Expertise.Source.TEST)
    if scores:
        fold_domain_trust(user.pk, test.domain_id, scores)

