"""State changes of projects and assignments, one transaction each."""

import copy
import json
from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Count, F, Q
from django.db.models.functions import Greatest
from django.utils import timezone

from accounts.access import Action, require
from accounts.models import Domain, Organization
from config.exceptions import Conflict
from config.rawsql import aware, json_value, statement_cursor
from config.transactions import retried_on_deadlock

from . import estimates, schema
from .activity import count_last_stretch, require_live
from .models import Annotation, Assignment, Comment, Item, Project
from .routing import release
from .rubric import build_rubric
from .signals import (
    LeaseRefused,
    annotation_submitted,
    assignment_approved,
    assignment_extended,
    item_completed,
    project_completed,
)

SETTINGS_FIELDS = {
    "name", "instructions", "overlap", "max_overlap", "gold_rate", "review_rate", "min_degree",
    "min_trust", "assignment_ttl_s", "auto_approve_after_s", "price_per_item", "currency",
    "visibility", "require_qualification", "agreement_threshold", "rating_spread_threshold",
    "contract", "hourly_rate", "weekly_cap_hours", "estimated_seconds",
}
# Once work exists, changing what an item is, what an answer means or how work is paid for
# would corrupt it.
FROZEN_AFTER_WORK = {"fields", "questions", "domain", "price_per_item", "currency", "contract",
                     "hourly_rate"}


def _check_overlap(values: dict[str, Any]) -> None:
    if values["max_overlap"] < values["overlap"]:
        raise ValidationError({"max_overlap": ["max_overlap must be at least overlap."]})


def _check_contract(project: Project) -> None:
    """A project pays in one way: per approved item or per hour of active time."""
    price, rate = Decimal(str(project.price_per_item)), Decimal(str(project.hourly_rate))
    if project.contract == Project.Contract.HOURLY and price > 0:
        raise ValidationError({"price_per_item": [
            "An hourly project pays by the hour: price_per_item must be 0; set hourly_rate."]})
    if project.contract == Project.Contract.PER_TASK and rate > 0:
        raise ValidationError({"hourly_rate": [
            "A per-task project pays per approved item: hourly_rate must be 0; set "
            "price_per_item, or make the contract hourly."]})
    if not 0 < Decimal(str(project.weekly_cap_hours)) <= 168:
        raise ValidationError({"weekly_cap_hours": [
            "The weekly cap must be more than 0 and at most 168 hours."]})


@transaction.atomic
def create_project(*, user, organization: Organization, name: str, domain: Domain,
                   preset: str | None = None, fields: list | None = None,
                   questions: list | None = None, rubric: list | None = None,
                   **options: Any) -> Project:
    require(user, Action.EDIT_PROJECTS, organization)
    errors: dict[str, list[str]] = {}
    try:
        fields, questions = schema.build_schema(preset, fields, questions)
    except schema.SchemaError as exc:
        errors.update(exc.errors)
    try:
        rubric = build_rubric(rubric)
    except schema.SchemaError as exc:
        errors.update(exc.errors)
    if errors:
        raise ValidationError(errors)
    unknown = set(options) - SETTINGS_FIELDS
    if unknown:
        raise ValidationError({name: ["Unknown project setting."] for name in unknown})
    values = {"overlap": 1, **options}
    values.setdefault("max_overlap", values["overlap"])
    _check_overlap(values)
    project = Project(organization=organization, name=name, domain=domain,
                      preset=preset or "", fields=fields, questions=questions,
                      rubric=rubric, created_by=user, **values)
    _check_contract(project)
    project.save(force_insert=True)
    return project


@transaction.atomic
def update_project(*, user, project: Project, **changes: Any) -> Project:
    project = Project.objects.select_for_update().get(pk=project.pk)
    require(user, Action.EDIT_PROJECTS, project.organization_id)
    has_work = project.assignments.exists()
    frozen = sorted(set(changes) & FROZEN_AFTER_WORK) if has_work else []
    if frozen:
        raise ValidationError({name: ["Cannot change once experts have started work."]
                               for name in frozen})
    if "fields" in changes or "questions" in changes:
        try:
            changes["fields"], changes["questions"] = schema.build_schema(
                None, changes.get("fields", project.fields),
                changes.get("questions", project.questions))
        except schema.SchemaError as exc:
            raise ValidationError(exc.errors) from exc
    if "rubric" in changes:
        try:
            changes["rubric"] = build_rubric(changes["rubric"])
        except schema.SchemaError as exc:
            raise ValidationError(exc.errors) from exc
    _check_overlap({"overlap": changes.get("overlap", project.overlap),
                    "max_overlap": changes.get("max_overlap", project.max_overlap)})
    old_overlap = project.overlap
    before = copy.copy(project)
    for name, value in changes.items():
        setattr(project, name, value)
    _check_contract(project)
    if project.status == Project.Status.ACTIVE and set(changes) & estimates.PAY_FIELDS:
        estimates.check_floor(project, before=before)
    project.save()
    if (project.contract == Project.Contract.HOURLY
            and Decimal(str(project.weekly_cap_hours)) > before.weekly_cap_hours):
        _widen_live_leases(project)
    if project.overlap > old_overlap:
        # Items that were still at the old target follow the project's new one.
        project.items.filter(is_gold=False, overlap__lt=project.overlap).update(
            overlap=project.overlap)
    elif project.overlap < old_overlap:
        _lower_overlap(project, old_overlap)
    return project


def _widen_live_leases(project: Project) -> None:
    """A raised weekly cap lets the project's live leases log more of their windows; their
    holds grow with it, or the raise is refused while the funds cannot cover them."""
    live = (Assignment.objects.select_for_update().select_related("project")
            .filter(project=project, status=Assignment.Status.ASSIGNED,
                    expires_at__gt=timezone.now()).order_by("pk"))
    try:
        for assignment in live:
            assignment_extended.send(sender=Project, assignment=assignment)
    except LeaseRefused as refused:
        raise Conflict(f"The experts working now could log more time under the raised cap, "
                       f"and it cannot be held: {refused.reason}. Deposit funds, then try "
                       f"again.", code="insufficient_funds") from refused


def _lower_overlap(project: Project, old_overlap: int) -> None:
    """Items still at the old target follow the new one, but never below the slots they hold
    (a live lease may yet be answered); those that now hold enough answers are complete."""
    at_old = project.items.filter(is_gold=False, overlap=old_overlap)
    completing = list(at_old.filter(annotated__gte=project.overlap, annotated__lt=old_overlap)
                      .values_list("pk", flat=True))
    at_old.update(overlap=Greatest(F("filled"), project.overlap))
    for item_id in completing:
        check_item_completion(item_id, project.pk)


TRANSITIONS = {
    "activate": ({Project.Status.DRAFT, Project.Status.PAUSED}, Project.Status.ACTIVE),
    "pause": ({Project.Status.ACTIVE}, Project.Status.PAUSED),
    "complete": ({Project.Status.ACTIVE, Project.Status.PAUSED}, Project.Status.COMPLETED),
    "archive": ({Project.Status.DRAFT, Project.Status.PAUSED, Project.Status.COMPLETED},
                Project.Status.ARCHIVED),
}


@transaction.atomic
def transition_project(*, user, project: Project, action: str) -> Project:
    """Move a project along draft -> active <-> paused -> completed / archived."""
    project = Project.objects.select_for_update().get(pk=project.pk)
    require(user, Action.EDIT_PROJECTS, project.organization_id)
    sources, target = TRANSITIONS[action]
    if project.status not in sources:
        raise Conflict(f"Cannot {action} a project that is {project.status}.",
                       code="invalid_transition")
    if target == Project.Status.ACTIVE and not project.items.filter(is_gold=False).exists():
        raise Conflict("Upload at least one non-gold item before activating.",
                       code="no_items")
    if target == Project.Status.ACTIVE:
        estimates.check_floor(project)
    return _set_status(project, target)


def _set_status(project: Project, status: str) -> Project:
    project.status = status
    project.save(update_fields=["status", "updated_at"])
    if status == Project.Status.COMPLETED:
        project_completed.send(sender=Project, project=project)
    return project


def _locked_assignment(assignment_id: int, user) -> Assignment:
    try:
        return (Assignment.objects.select_for_update(of=("self",))
                .select_related("project", "item").get(pk=assignment_id, expert=user))
    except Assignment.DoesNotExist as exc:
        raise Assignment.DoesNotExist("No such assignment.") from exc


# The submit path runs as plain SQL: it is the other half of every unit of work, and the ORM
# spent longer composing these statements than the database spent running them.
LOCK_ASSIGNMENT_SQL = """
SELECT a.status, a.expires_at, a.leased_at, a.is_gold, a.item_id, a.project_id, i.data,
       p.questions, a.active_s, a.last_active_at, p.contract, p.weekly_cap_hours
FROM tasks_assignment a
JOIN tasks_item i ON i.id = a.item_id
JOIN tasks_project p ON p.id = a.project_id
WHERE a.id = %s AND a.expert_id = %s
{lock}
"""


SUBMITTED_SQL = ("UPDATE tasks_assignment SET status = 'submitted', submitted_at = %s, "
                 "duration_s = %s, active_s = %s, last_active_at = %s WHERE id = %s")
ANNOTATION_COLUMNS = "assignment_id, item_id, project_id, expert_id, answer, created_at"
COUNTED_SQL = ("UPDATE tasks_item SET annotated = annotated + 1 WHERE id = %s AND %s "
               "RETURNING annotated >= overlap")
# On PostgreSQL the three writes of a submission go as one statement.
RECORD_ANSWER_SQL_POSTGRES = f"""
WITH submitted AS ({SUBMITTED_SQL} RETURNING id),
annotation AS (
  INSERT INTO tasks_annotation ({ANNOTATION_COLUMNS})
  SELECT id, %s, %s, %s, %s, %s FROM submitted RETURNING id
),
counted AS ({COUNTED_SQL})
SELECT annotation.id, COALESCE((SELECT * FROM counted), false) FROM annotation
"""


def _record_answer(cursor, *, assignment: Assignment, answer: Any, counted: bool,
                   now: datetime) -> tuple[int, bool]:
    """Mark the locked assignment submitted, store the annotation and, unless it is gold,
    count it on its item; returns the annotation's id and whether the item now holds its
    overlap of answers."""
    assignment_id, item_id = assignment.pk, assignment.item_id
    project_id, expert_id = assignment.project_id, assignment.expert_id
    submitted = [now, assignment.duration_s, assignment.active_s, assignment.last_active_at,
                 assignment_id]
    values = [item_id, project_id, expert_id, json.dumps(answer), now]
    if connection.vendor == "postgresql":
        cursor.execute(RECORD_ANSWER_SQL_POSTGRES,
                       [*submitted, *values, item_id, counted])
        annotation_id, reached = cursor.fetchone()
        return annotation_id, reached
    cursor.execute(SUBMITTED_SQL, submitted)
    cursor.execute(f"INSERT INTO tasks_annotation ({ANNOTATION_COLUMNS}) "
                   f"VALUES (%s, %s, %s, %s, %s, %s) RETURNING id", [assignment_id, *values])
    annotation_id = cursor.fetchone()[0]
    cursor.execute(COUNTED_SQL, [item_id, counted])
    row = cursor.fetchone()
    return annotation_id, bool(row and row[0])


@retried_on_deadlock
@transaction.atomic
def submit(*, assignment_id: int, user, answer: Any,
           duration_s: float | None = None) -> Annotation:
    """Record the expert's answer; the slot stays taken, now by the annotation.

    A lease the expert's heartbeats reached counts its last stretch of activity here, as a
    heartbeat would, so that `annotation_submitted` receivers read its final active time;
    only then is the expert's profile locked, after the lease, in the order heartbeats take
    them.
    """
    now = timezone.now()
    lock = "FOR UPDATE OF a" if connection.features.has_select_for_update_of else ""
    with statement_cursor() as cursor:
        cursor.execute(LOCK_ASSIGNMENT_SQL.format(lock=lock), [assignment_id, user.pk])
        row = cursor.fetchone()
        if row is None:
            raise Assignment.DoesNotExist("No such assignment.")
        (status, expires_at, leased_at, is_gold, item_id, project_id, data, questions,
         active_s, last_active_at, contract, weekly_cap_hours) = row
        expires_at, leased_at = aware(expires_at), aware(leased_at)
        assignment = Assignment(pk=assignment_id, status=status, expires_at=expires_at,
                                leased_at=leased_at, is_gold=is_gold, item_id=item_id,
                                project_id=project_id, expert=user, active_s=active_s,
                                last_active_at=last_active_at and aware(last_active_at))
        require_live(assignment, now)
        errors = schema.validate_answer(json_value(questions), json_value(data), answer)
        if errors:
            raise ValidationError({"answer": [f"{name}: {message}" for name, messages in
                                              errors.items() for message in messages]})
        count_last_stretch(assignment, Project(pk=project_id, contract=contract,
                                               weekly_cap_hours=weekly_cap_hours), now)
        assignment.duration_s = ((now - leased_at).total_seconds() if duration_s is None
                                 else duration_s)
        annotation = Annotation(assignment=assignment, item_id=item_id, project_id=project_id,
                                expert=user, answer=answer, created_at=now)
        annotation.pk, reached = _record_answer(cursor, assignment=assignment, answer=answer,
                                                counted=not is_gold, now=now)
    assignment.status = Assignment.Status.SUBMITTED
    assignment.submitted_at = now
    # Receivers may raise the item's overlap (dynamic overlap), so completion is read after.
    annotation_submitted.send(sender=Project, annotation=annotation, reached_overlap=reached,
                              contract=contract)
    if reached:
        check_item_completion(item_id, project_id)
    return annotation


# An unfinished project either has a free slot (the routing index finds one at once) or a
# live lease; checking both avoids scanning every finished item of a large project.
OPEN_SLOTS_SQL = """EXISTS (SELECT 1 FROM tasks_item o WHERE o.project_id = %s
                           AND NOT o.is_gold AND o.filled < o.overlap)"""
LIVE_LEASES_SQL = """EXISTS (SELECT 1 FROM tasks_assignment a WHERE a.project_id = %s
                            AND a.status = 'assigned')"""
PROJECT_OPEN_SQL = f"SELECT {OPEN_SLOTS_SQL}, {LIVE_LEASES_SQL}"
COMPLETION_SQL = f"""
SELECT i.external_id, i.annotated, i.overlap, {OPEN_SLOTS_SQL}, {LIVE_LEASES_SQL}
FROM tasks_item i WHERE i.id = %s
"""


# Namespace of the advisory locks that serialize completion checks within one project.
COMPLETION_LOCK = 0x1A6E58


def check_item_completion(item_id: int, project_id: int) -> bool:
    """Announce an item (and its project) complete if it holds its overlap of answers.

    A free slot seen here means the project goes on: whoever fills it submits later and
    checks again. Without one, two experts finishing a project's last two items at once
    would each still see the other's lease in their own snapshot and neither would
    complete the project; so only then an advisory lock makes the second check wait for
    the first transaction, and read what it committed. Checks in the middle of a project,
    nearly all of them, never queue on each other.
    """
    with statement_cursor() as cursor:
        cursor.execute(COMPLETION_SQL, [project_id, project_id, item_id])
        external_id, annotated, overlap, open_slots, live_leases = cursor.fetchone()
        if annotated < overlap:
            return False
        if not open_slots and live_leases and connection.vendor == "postgresql":
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)",
                           [COMPLETION_LOCK, project_id % 2**31])
            cursor.execute(PROJECT_OPEN_SQL, [project_id, project_id])
            open_slots, live_leases = cursor.fetchone()
    item = Item(pk=item_id, project_id=project_id, external_id=external_id,
                annotated=annotated, overlap=overlap, is_gold=False)
    announce_completion(item, not open_slots and not live_leases)
    return True


def announce_completion(item: Item, project_done: bool) -> None:
    item_completed.send(sender=Project, item=item)
    if project_done:
        project = Project.objects.select_for_update().get(pk=item.project_id)
        if project.status == Project.Status.ACTIVE:
            _set_status(project, Project.Status.COMPLETED)


@retried_on_deadlock
@transaction.atomic
def skip(*, assignment_id: int, user, reason: str = "") -> Assignment:
    """Hand the item back; the time worked on it until now counts, as a submission's does."""
    now = timezone.now()
    assignment = _locked_assignment(assignment_id, user)
    require_live(assignment, now)
    assignment.skip_reason = reason
    count_last_stretch(assignment, assignment.project, now)
    assignment.save(update_fields=["skip_reason", "active_s", "last_active_at"])
    release([assignment], status=Assignment.Status.SKIPPED, now=now)
    return assignment


@transaction.atomic
def extend(*, assignment_id: int, user) -> Assignment:
    """Give a working expert a fresh lease period, counted from now. A receiver may refuse
    it (an hourly lease's longer window is not funded): then nothing changes."""
    now = timezone.now()
    assignment = _locked_assignment(assignment_id, user)
    require_live(assignment, now)
    assignment.expires_at = now + timedelta(seconds=assignment.project.assignment_ttl_s)
    try:
        with transaction.atomic():
            assignment.save(update_fields=["expires_at"])
            assignment_extended.send(sender=Project, assignment=assignment)
    except LeaseRefused as refused:
        raise Conflict(refused.reason, code="insufficient_funds") from refused
    return assignment


@transaction.atomic
def reject_assignment(assignment: Assignment) -> None:
    """A rejected annotation gives its slot back so that another expert answers the item."""
    assignment = Assignment.objects.select_for_update().get(pk=assignment.pk)
    if assignment.status not in Assignment.COUNTED:
        raise Conflict(f"Only submitted work can be rejected; this is {assignment.status}.",
                       code="not_submitted")
    release([assignment], status=Assignment.Status.REJECTED, now=timezone.now())
    reopen(assignment.project_id)


def reopen(project_id: int) -> None:
    """A completed project whose item lost an answer (or needs another) goes back to work."""
    Project.objects.filter(pk=project_id, status=Project.Status.COMPLETED).update(
        status=Project.Status.ACTIVE, updated_at=timezone.now())


@transaction.atomic
def approve_assignment(assignment: Assignment, *, by=None) -> Assignment:
    """Accept submitted work; receivers pay for it in the same transaction."""
    assignment = Assignment.objects.select_for_update().get(pk=assignment.pk)
    if assignment.status != Assignment.Status.SUBMITTED:
        raise Conflict(f"Only submitted work can be approved; this is {assignment.status}.",
                       code="not_submitted")
    assignment.status = Assignment.Status.APPROVED
    assignment.finished_at = timezone.now()
    assignment.save(update_fields=["status", "finished_at"])
    assignment_approved.send(sender=Project, assignment=assignment, by=by)
    return assignment


@transaction.atomic
def overturn_rejection(assignment: Assignment, *, by) -> Assignment:
    """Approve work that was rejected. Its slot may have been refilled meanwhile: then the
    item keeps one more annotation than planned rather than losing a good one."""
    assignment = Assignment.objects.select_for_update().get(pk=assignment.pk)
    if assignment.status != Assignment.Status.REJECTED:
        raise Conflict(f"Only rejected work can be overturned; this is {assignment.status}.",
                       code="not_rejected")
    if not assignment.is_gold:
        item = Item.objects.select_for_update().get(pk=assignment.item_id)
        item.overlap = max(item.overlap, item.filled + 1)
        item.filled += 1
        item.annotated += 1
        item.save(update_fields=["overlap", "filled", "annotated"])
    assignment.status = Assignment.Status.APPROVED
    assignment.finished_at = timezone.now()
    assignment.save(update_fields=["status", "finished_at"])
    assignment_approved.send(sender=Project, assignment=assignment, by=by)
    return assignment


def add_comment(*, user, item: Item, body: str) -> Comment:
    if not Item.objects.visible_to(user).filter(pk=item.pk).exists():
        raise Item.DoesNotExist("No such item.")
    if not body.strip():
        raise ValidationError({"body": ["A comment cannot be empty."]})
    return Comment.objects.create(item=item, author=user, body=body.strip())


def progress(project: Project) -> dict[str, int]:
    return progress_of([project.pk])[project.pk]


def progress_of(project_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """Item and annotation counts of many projects in two grouped queries, however many
    projects are listed; gold items are counted apart."""
    ids = list(project_ids)
    items = {row.pop("project_id"): row for row in (
        Item.objects.filter(project_id__in=ids).order_by().values("project_id").annotate(
            items=Count("pk", filter=Q(is_gold=False)),
            complete=Count("pk", filter=Q(is_gold=False, annotated__gte=F("overlap"))),
            in_progress=Count("pk", filter=Q(is_gold=False, filled__gt=0,
                                             annotated__lt=F("overlap"))),
            gold_items=Count("pk", filter=Q(is_gold=True)),
        ))}
    work = {row.pop("project_id"): row for row in (
        Assignment.objects.filter(project_id__in=ids, is_gold=False).order_by()
        .values("project_id").annotate(
            annotations=Count("pk", filter=Q(status__in=[Assignment.Status.SUBMITTED,
                                                         Assignment.Status.APPROVED,
                                                         Assignment.Status.REJECTED])),
            approved=Count("pk", filter=Q(status=Assignment.Status.APPROVED)),
            rejected=Count("pk", filter=Q(status=Assignment.Status.REJECTED)),
            assigned=Count("pk", filter=Q(status=Assignment.Status.ASSIGNED,
                                          expires_at__gt=timezone.now())),
        ))}
    no_items = dict.fromkeys(("items", "complete", "in_progress", "gold_items"), 0)
    no_work = dict.fromkeys(("annotations", "approved", "rejected", "assigned"), 0)
    found = {}
    for project_id in ids:
        counts = {**no_items, **items.get(project_id, {})}
        counts["open"] = counts["items"] - counts["complete"] - counts["in_progress"]
        found[project_id] = {**counts, **no_work, **work.get(project_id, {})}
    return found
