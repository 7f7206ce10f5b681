"""Dynamic overlap under concurrent submissions on PostgreSQL: the slot invariant holds while
items ask for more answers."""

import random

import pytest
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q

from quality.models import Review
from tasks import services as task_services
from tasks.models import Assignment, Item
from tasks.routing import next_assignment
from tests import factories
from tests.concurrency import race

pytestmark = pytest.mark.django_db


@pytest.mark.postgres
def test_concurrent_submissions_while_overlap_grows_keep_the_slot_invariant():
    owner = factories.customer()
    project = factories.project(
        owner, preset="classification", activate=False, overlap=2, max_overlap=4,
        questions=[{"name": "label", "kind": "label", "options": ["yes", "no"]}])
    Item.objects.bulk_create([Item(project=project, external_id=f"c-{n}",
                                   data={"text": f"Text {n}"}, overlap=2) for n in range(30)])
    task_services.transition_project(user=owner, project=project, action="activate")
    experts = [factories.expert() for _ in range(8)]

    def drain(expert, rng):
        """Answer the project's items until it has nothing left for this expert."""
        while True:
            try:
                assignment = next_assignment(expert, project, rng=rng).assignment
            except PermissionDenied as exc:
                assert "completed" in str(exc)
                return
            if assignment is None:
                return
            task_services.submit(assignment_id=assignment.pk, user=expert,
                                 answer={"label": rng.choice(["yes", "no"])})

    outcomes = race(*[lambda e=e, n=n: drain(e, random.Random(n))
                      for n, e in enumerate(experts)])
    assert outcomes == [None] * len(experts)
    # An overlap raised after the other experts stopped asking is answered by whoever is left.
    for n, expert in enumerate(experts):
        drain(expert, random.Random(n))
    project.refresh_from_db()
    assert project.status == "completed"
    items = Item.objects.filter(project=project).annotate(
        counted=Count("assignments", filter=Q(assignments__status__in=Assignment.COUNTED)),
        live=Count("assignments", filter=Q(assignments__status="assigned")))
    for item in items:
        assert item.filled <= item.overlap <= 4, item
        assert (item.annotated, item.filled) == (item.counted, item.counted + item.live), item
        assert item.annotated == item.overlap, item
    assert items.filter(overlap__gt=2).exists()
    disputed = set(Review.objects.filter(reason="disputed").values_list(
        "annotation__item_id", flat=True))
    for item in items.filter(pk__in=disputed):
        assert item.overlap == 4
        assert Review.objects.filter(annotation__item=item).count() == item.annotated
