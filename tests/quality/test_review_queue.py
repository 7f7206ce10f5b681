"""The review queue's bookkeeping: one waiting review per annotation, the most urgent reason."""

import pytest

from quality.models import Review
from quality.review_queue import enqueue_reviews
from tasks import services as task_services
from tasks.routing import next_assignment
from tests import factories

pytestmark = pytest.mark.django_db


class TestReviewQueueBookkeeping:
    def test_a_waiting_review_takes_the_more_urgent_reason_once(self, customer, expert):
        project = factories.project(customer, items=1)
        assignment = next_assignment(expert, project).assignment
        annotation = task_services.submit(assignment_id=assignment.pk, user=expert,
                                          answer={"better": "A"})
        enqueue_reviews([annotation.pk], project_id=project.pk, reason="sample")
        enqueue_reviews([annotation.pk], project_id=project.pk, reason="rule")
        enqueue_reviews([annotation.pk], project_id=project.pk, reason="disputed")
        review = Review.objects.get()
        assert (review.reason, review.priority) == ("rule", 30)
