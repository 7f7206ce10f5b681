"""Next task: which projects an expert may work on, and which item they get.

The pick is one ``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL: concurrent experts
never wait on each other's candidate rows, they take the next one. The slot itself is the
``Item.filled`` counter, raised under that row lock and bounded by a CHECK constraint; the
(item, expert) unique constraint makes a second lease of the same item to one expert
impossible. On SQLite the same statements run inside an IMMEDIATE transaction, serialized.
"""

import random
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone

from accounts.models import DEGREE_RANK, Expertise, ExpertProfile
from config.exceptions import Conflict

from .models import Assignment, Item, Project, ProjectExpert
from .signals import LeaseRefused, assignment_leased, assignments_released

# While an expert has answered fewer gold items than this on a project, gold comes at least
# at WARMUP_GOLD_RATE: trust has to be earned early, not after a hundred unchecked answers.
WARMUP_GOLD_ANSWERS = 3
WARMUP_GOLD_RATE = 0.5


@dataclass
class NextResult:
    assignment: Assignment | None
    reasons: dict[int, str]


def max_active_leases() -> int:
    return getattr(settings, "MAX_ACTIVE_LEASES", 5)


def allowed_degrees(profile: ExpertProfile) -> list[str]:
    """Values of `Project.min_degree` that this expert's degree satisfies."""
    rank = DEGREE_RANK[profile.highest_degree]
    return ["", *[degree for degree, r in DEGREE_RANK.items() if r <= rank]]


def covering_expertise(profile: ExpertProfile, now: datetime) -> QuerySet[Expertise]:
    """The expert's expertise that covers an outer project: its domain or the parent domain,
    trust at the project's floor, not suspended."""
    return Expertise.objects.filter(
        Q(domain=OuterRef("domain")) | Q(domain=OuterRef("domain__parent")),
        Q(suspended_until__isnull=True) | Q(suspended_until__lte=now),
        expert=profile,
        trust__gte=OuterRef("min_trust"),
    )


def eligible_projects(profile: ExpertProfile, now: datetime | None = None) -> QuerySet[Project]:
    """Active projects the expert may pull from (funding is checked when leasing)."""
    now = now or timezone.now()
    if not profile.can_work:
        return Project.objects.none()
    covering = covering_expertise(profile, now)
    roster = ProjectExpert.objects.filter(project=OuterRef("pk"), expert_id=profile.pk)
    return (
        Project.objects.filter(status=Project.Status.ACTIVE,
                               min_degree__in=allowed_degrees(profile))
        .filter(Exists(covering.filter(level=Expertise.Level.QUALIFIED))
                | (Q(require_qualification=False) & Exists(covering)))
        .filter(Q(visibility=Project.Visibility.PUBLIC)
                | Exists(roster.filter(access=ProjectExpert.Access.ALLOWED)))
        .exclude(Exists(roster.filter(access=ProjectExpert.Access.REMOVED)))
        .order_by("id")
    )


def ineligibility_reason(profile: ExpertProfile, project: Project) -> str:
    """Why this expert gets nothing from this project, in words the expert can act on."""
    now = timezone.now()
    if project.status != Project.Status.ACTIVE:
        return f"The project is {project.status}."
    if project.min_degree not in allowed_degrees(profile):
        return f"The project requires a {project.get_min_degree_display()} or equivalent."
    roster = ProjectExpert.objects.filter(project=project, expert_id=profile.pk).first()
    if roster and roster.access == ProjectExpert.Access.REMOVED:
        return f"You were removed from this project: {roster.reason}"
    if (project.visibility == Project.Visibility.PRIVATE
            and not (roster and roster.access == ProjectExpert.Access.ALLOWED)):
        return "The project is private; it is open to invited experts only."
    expertise = Expertise.objects.filter(
        Q(domain=project.domain) | Q(domain=project.domain.parent_id), expert=profile)
    if not expertise.exists():
        return f"You have no expertise in {project.domain.name}."
    if project.require_qualification and not expertise.filter(
            level=Expertise.Level.QUALIFIED).exists():
        return f"The project requires a qualification in {project.domain.name}."
    if not expertise.filter(Q(suspended_until__isnull=True) | Q(suspended_until__lte=now)
                            ).exists():
        return f"You are suspended in {project.domain.name}."
    return f"Your trust in {project.domain.name} is below the project's floor of " \
           f"{project.min_trust}."


def check_can_work(profile: ExpertProfile | None) -> ExpertProfile:
    if profile is None:
        raise PermissionDenied("Only experts pull work.")
    if profile.verification != ExpertProfile.Verification.VERIFIED:
        raise PermissionDenied(f"Your profile is {profile.verification}; an operator verifies "
                               f"it before you can work.")
    if profile.status != ExpertProfile.Status.ACTIVE:
        raise PermissionDenied(f"Your account is suspended: {profile.status_reason}")
    return profile


@transaction.atomic
def next_assignment(user, project: Project | None = None, *,
                    rng: random.Random | None = None) -> NextResult:
    """Lease the best available item to the expert, from one project or any they may do.

    Raises PermissionDenied when the expert may not work (here or at all) and Conflict when
    they already hold as many live leases as allowed.
    """
    # Locking the profile queues one expert's concurrent calls, so the lease cap and the
    # "never the same item twice" pick cannot be raced past by the expert's own requests.
    profile = check_can_work(ExpertProfile.objects.select_for_update().filter(user=user).first())
    now = timezone.now()
    projects = eligible_projects(profile, now).select_related("domain")
    if project is not None:
        candidates = list(projects.filter(pk=project.pk))
        if not candidates:
            fresh = Project.objects.select_related("domain").get(pk=project.pk)
            raise PermissionDenied(ineligibility_reason(profile, fresh))
    else:
        candidates = list(projects[:100])
    active = Assignment.objects.filter(expert=user, status=Assignment.Status.ASSIGNED,
                                       expires_at__gt=now).count()
    if active >= max_active_leases():
        raise Conflict(f"You hold {active} open assignments, the most allowed at once; "
                       f"submit or skip one first.", code="lease_cap")
    reasons: dict[int, str] = {}
    for candidate in candidates:
        try:
            with transaction.atomic():
                assignment = lease_from(candidate, user, now, rng or random)
        except LeaseRefused as refused:
            reasons[candidate.pk] = refused.reason
            continue
        if assignment is not None:
            return NextResult(assignment, reasons)
    return NextResult(None, reasons)


def lease_from(project: Project, user, now: datetime, rng) -> Assignment | None:
    reclaim_expired(project=project, now=now)
    item = None
    if project.gold_rate > 0 and rng.random() < gold_rate_for(project, user):
        item = pick_gold(project, user, rng)
    if item is None:
        item = pick_open(project, user)
        if item is None:
            return None
        Item.objects.filter(pk=item.pk).update(filled=F("filled") + 1)
    assignment = Assignment.objects.create(
        item=item, project=project, expert=user, is_gold=item.is_gold, leased_at=now,
        expires_at=now + timedelta(seconds=project.assignment_ttl_s),
        price=project.price_per_item)
    assignment.item = item
    assignment.project = project
    assignment_leased.send(sender=Project, assignment=assignment)
    return assignment


def gold_rate_for(project: Project, user) -> float:
    rate = float(project.gold_rate)
    if rate >= WARMUP_GOLD_RATE:
        return rate
    answered = Assignment.objects.filter(project=project, expert=user, is_gold=True,
                                         status__in=Assignment.COUNTED).count()
    return WARMUP_GOLD_RATE if answered < WARMUP_GOLD_ANSWERS else rate


def held_by(user):
    return Assignment.objects.filter(item=OuterRef("pk"), expert=user)


def pick_gold(project: Project, user, rng) -> Item | None:
    """A gold item this expert has never seen, chosen at random among the few there are."""
    unseen = list(Item.objects.filter(project=project, is_gold=True)
                  .exclude(Exists(held_by(user))).values_list("pk", flat=True)[:1000])
    if not unseen:
        return None
    return Item.objects.get(pk=rng.choice(unseen))


def pick_open(project: Project, user) -> Item | None:
    """The open item to lease: priority first, then the one closest to completion.

    One statement; on PostgreSQL rows locked by concurrent picks are skipped, not waited on.
    """
    return (
        Item.objects.filter(project=project, is_gold=False, filled__lt=F("overlap"))
        .exclude(Exists(held_by(user)))
        .order_by("-priority", "-filled", "id")
        .select_for_update(skip_locked=True, of=("self",))
        .first()
    )


@transaction.atomic(savepoint=False)
def reclaim_expired(*, project: Project | None = None, now: datetime | None = None,
                    limit: int = 1000) -> int:
    """Mark live leases past their expiry as expired and give their slots back."""
    now = now or timezone.now()
    expired = Assignment.objects.filter(status=Assignment.Status.ASSIGNED, expires_at__lte=now)
    if project is not None:
        expired = expired.filter(project=project)
    rows = list(expired.select_for_update(skip_locked=True).order_by("expires_at")[:limit])
    release(rows, status=Assignment.Status.EXPIRED, now=now)
    return len(rows)


def release(assignments: Iterable[Assignment], *, status: str, now: datetime) -> None:
    """Give the slots of locked assignments back to their items, under the items' locks.

    Rejected annotations were counted as annotated too; leases were not.
    """
    assignments = list(assignments)
    if not assignments:
        return
    counted = {a.pk for a in assignments if a.status in Assignment.COUNTED}
    Assignment.objects.filter(pk__in=[a.pk for a in assignments]).update(
        status=status, finished_at=now)
    filled = Counter(a.item_id for a in assignments if not a.is_gold)
    annotated = Counter(a.item_id for a in assignments if not a.is_gold and a.pk in counted)
    for item_id, count in sorted(filled.items()):
        Item.objects.filter(pk=item_id).update(filled=F("filled") - count,
                                               annotated=F("annotated") - annotated[item_id])
    by_project: dict[int, list[Assignment]] = {}
    for assignment in assignments:
        assignment.status = status
        assignment.finished_at = now
        by_project.setdefault(assignment.project_id, []).append(assignment)
    for project_assignments in by_project.values():
        assignments_released.send(sender=Project, assignments=project_assignments,
                                  status=status)
