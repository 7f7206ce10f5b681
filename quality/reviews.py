"""A QA lead's verdicts on annotations: accept, reject, fix, and overturning a rejection.

Every verdict changes the assignment (approved or rejected, through tasks.services), closes
the annotation's waiting review (quality.review_queue) and evaluates the project's rules
for the expert, whose rejection rate may just have changed.
"""

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.access import Action, require
from config.exceptions import Conflict
from config.transactions import retried_on_deadlock
from tasks import schema
from tasks import services as task_services
from tasks.models import Annotation, Assignment
from tasks.rubric import check_scores

from .models import Review
from .review_queue import decide
from .rules import evaluate_rules


def _reviewable(annotation_id: int, user) -> Annotation:
    annotation = (Annotation.objects.select_related("project__organization", "item",
                                                    "assignment")
                  .get(pk=annotation_id))
    require(user, Action.REVIEW, annotation.project.organization_id)
    return annotation


@retried_on_deadlock
@transaction.atomic
def review_annotation(*, annotation_id: int, reviewer, verdict: str, answer: Any = None,
                      comment: str = "", rubric: Any = None) -> Review:
    """A QA lead's verdict: accept approves the work, reject voids it (the item gets its
    slot back and the expert reads the comment), fix replaces the answer and approves.
    With any verdict the reviewer may score the answer on the project's rubric
    (``{criterion: score}``, some criteria or all)."""
    annotation = _reviewable(annotation_id, reviewer)
    comment = comment.strip()
    if verdict == Review.Verdict.REJECT and not comment:
        raise ValidationError({"comment": ["A rejection needs a comment the expert can read."]})
    rubric = {} if rubric is None else rubric
    problems = check_scores(annotation.project.rubric, rubric)
    if problems:
        raise ValidationError({"rubric": problems})
    if verdict == Review.Verdict.FIX:
        if answer is None:
            raise ValidationError({"answer": ["A fix needs the corrected answer."]})
        errors = schema.validate_answer(annotation.project.questions, annotation.item.data,
                                        answer)
        if errors:
            raise ValidationError({"answer": [f"{name}: {message}" for name, messages in
                                              errors.items() for message in messages]})
    assignment = Assignment.objects.select_for_update().get(pk=annotation.assignment_id)
    if assignment.status != Assignment.Status.SUBMITTED:
        raise Conflict(f"Only submitted work can be reviewed; this is {assignment.status}.",
                       code=f"already_{assignment.status}")
    now = timezone.now()
    if verdict == Review.Verdict.REJECT:
        task_services.reject_assignment(assignment)
    else:
        if verdict == Review.Verdict.FIX:
            Annotation.objects.filter(pk=annotation.pk).update(final_answer=answer)
        task_services.approve_assignment(assignment, by=reviewer)
    review = decide(annotation, reviewer=reviewer, verdict=verdict, comment=comment,
                     answer=answer if verdict == Review.Verdict.FIX else None, now=now)
    if rubric:
        review.rubric = rubric
        review.save(update_fields=["rubric"])
    evaluate_rules(annotation.project, annotation.expert_id, now=now)
    return review


@transaction.atomic
def overturn(*, annotation_id: int, user, note: str = "") -> Review:
    """Approve rejected work after all, within Review.OVERTURN_WINDOW of the rejection; the item
    keeps the extra answer if its slot was refilled meanwhile."""
    annotation = _reviewable(annotation_id, user)
    assignment = Assignment.objects.select_for_update().get(pk=annotation.assignment_id)
    if assignment.status != Assignment.Status.REJECTED:
        raise Conflict(f"Only rejected work can be overturned; this is {assignment.status}.",
                       code="not_rejected")
    now = timezone.now()
    if assignment.finished_at and assignment.finished_at + Review.OVERTURN_WINDOW < now:
        raise Conflict(f"Rejections can be overturned for {Review.OVERTURN_WINDOW.days} days; this "
                       f"one is from {assignment.finished_at:%Y-%m-%d}.", code="too_late")
    task_services.overturn_rejection(assignment, by=user)
    review = Review.objects.create(
        annotation=annotation, project_id=annotation.project_id, reason=Review.Reason.MANUAL,
        priority=Review.PRIORITY["manual"], reviewer=user, verdict=Review.Verdict.ACCEPT,
        comment=f"Rejection overturned. {note.strip()}".strip(), decided_at=now)
    Annotation.objects.filter(pk=annotation.pk).update(held_for_review=False)
    return review

