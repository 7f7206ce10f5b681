"""Dynamic overlap: an item that reached its overlap with disputed answers asks for one more.

Whether answers are disputed is decided by `quality.crowd.disputed` on the answers weighted
by each expert's trust in the project; beyond `max_overlap` every answer on the item goes to
review as disputed.
"""

from django.db import connection, transaction
from django.db.models import F

from config.rawsql import json_value, statement_cursor
from tasks.models import Annotation, Item, Project

from . import crowd, trust
from .models import Review
from .review_queue import enqueue_reviews

# The item under its row lock, every counted answer on it, and each answering expert's
# trust in the project: one query, as it runs whenever an item reaches its overlap. Each
# answer's assignment is looked up by its key rather than joined, so that the plan stays a
# few index probes even where the statistics still describe a near-empty table.
SETTLE_SQL = """
SELECT i.overlap, i.annotated, n.id, n.expert_id, n.answer, t.mean
FROM tasks_item i
JOIN tasks_annotation n ON n.item_id = i.id
LEFT JOIN quality_trustscore t ON t.project_id = %s AND t.expert_id = n.expert_id
WHERE i.id = %s AND (SELECT a.status FROM tasks_assignment a WHERE a.id = n.assignment_id)
                    IN ('submitted', 'approved')
ORDER BY n.id
{lock}
"""


@transaction.atomic(savepoint=False)
def settle_overlap(annotation: Annotation, project: Project) -> None:
    """When the item just reached its overlap with disputed answers, ask for one more, up to
    `max_overlap`; beyond it, send every answer on the item to review. The item's row lock
    is held while its overlap changes, so `filled <= overlap` holds whatever runs alongside.
    """
    lock = "FOR UPDATE OF i" if connection.features.has_select_for_update_of else ""
    with statement_cursor() as cursor:
        cursor.execute(SETTLE_SQL.format(lock=lock), [project.pk, annotation.item_id])
        rows = cursor.fetchall()
    if not rows:
        return
    overlap, annotated = rows[0][:2]
    if annotated < overlap:
        return
    answers = [(json_value(answer), trust.PRIOR.mean if mean is None else mean)
               for *_, answer, mean in rows]
    if not crowd.disputed(project.questions, answers,
                          agreement_threshold=float(project.agreement_threshold),
                          rating_spread_threshold=project.rating_spread_threshold):
        return
    if overlap < project.max_overlap:
        Item.objects.filter(pk=annotation.item_id).update(overlap=F("overlap") + 1)
    else:
        enqueue_reviews([annotation_id for _, _, annotation_id, *_ in rows],
                        project_id=project.pk, reason=Review.Reason.DISPUTED)
