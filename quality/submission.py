"""What quality does when an expert submits (`check_submission`, run by the receiver of
`tasks.signals.annotation_submitted` inside the submit transaction): gold answers are scored;
an item that reached its overlap with disagreeing answers gets one more slot, or, at the
project's `max_overlap`, goes to review as disputed; the annotation goes to review when a
rule made the expert's work reviewed or the project's sample picks it; then the project's
rules are evaluated for that expert only.
"""

from django.db import transaction

from config.rawsql import instances
from tasks.models import Annotation, Project

from .gold import score_gold
from .models import Review
from .overlap import settle_overlap
from .review_queue import enqueue_reviews, sampled_for_review
from .rules import evaluate_rules

SUBMISSION_PROJECT_SQL = """
SELECT p.id, p.domain_id, p.questions, p.overlap, p.max_overlap, p.review_rate,
  p.agreement_threshold, p.rating_spread_threshold,
  EXISTS (SELECT 1 FROM tasks_projectexpert r
          WHERE r.project_id = p.id AND r.expert_id = %s AND r.review_all) AS review_all,
  EXISTS (SELECT 1 FROM quality_qualityrule q
          WHERE q.project_id = p.id AND q.active) AS has_rules
FROM tasks_project p WHERE p.id = %s
"""


@transaction.atomic(savepoint=False)
def check_submission(annotation: Annotation, *, reached_overlap: bool = True) -> None:
    """Everything quality does when an expert submits, inside the submit transaction.

    It runs on every submission, so the project and its two flags come in one plain query,
    and an item that has not reached its overlap yet is not even looked at.
    """
    [project] = instances(Project, SUBMISSION_PROJECT_SQL, [annotation.expert_id,
                                                           annotation.project_id])
    is_gold = annotation.assignment.is_gold
    if is_gold:
        score_gold(annotation, project)
    elif reached_overlap:
        settle_overlap(annotation, project)
    if project.review_all:
        enqueue_reviews([annotation.pk], project_id=project.pk, reason=Review.Reason.RULE)
    elif not is_gold and sampled_for_review(annotation.pk, project.review_rate):
        enqueue_reviews([annotation.pk], project_id=project.pk, reason=Review.Reason.SAMPLE)
    if project.has_rules:
        evaluate_rules(project, annotation.expert_id)
