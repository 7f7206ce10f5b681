"""Next task: which projects an expert may work on, and which item they get.

The pick is one ``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL: concurrent experts
never wait on each other's candidate rows, they take the next one. The slot itself is the
``Item.filled`` counter, raised under that row lock and bounded by a CHECK constraint; the
(item, expert) unique constraint makes a second lease of the same item to one expert
impossible. On SQLite the same statements run inside an IMMEDIATE transaction, serialized.
"""

import json
import random
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone

from accounts.models import DEGREE_RANK, Domain, Expertise, ExpertProfile
from config.exceptions import Conflict
from config.rawsql import instances, statement_cursor
from config.transactions import retried_on_deadlock

from .activity import cap_seconds, logged_seconds, week_start
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


def admitting(domain: Any, parent: Any, *, field: str = "domain") -> Q:
    """Expertise that admits its expert to work in `domain`, whose parent is `parent`.

    Expertise counts in the domain itself, in its parent (a physician may work a cardiology
    project) and in its subdomains (a cardiologist may work a medicine project); the taxonomy
    is two levels deep, so these are all of a domain's relatives. Each expertise is judged on
    its own: one suspended in a subdomain admits to nothing, whatever its level. Either
    argument may be a value or an ``OuterRef``. `field` is the path to the expertise's domain
    from the model filtered, "" to filter domains themselves. The one statement of this rule
    in SQL is ``ELIGIBLE_PROJECTS_SQL``; a test holds the two to the same answers.
    """
    own = field or "pk"
    parent_of = f"{field}__parent" if field else "parent"
    return Q(**{own: domain}) | Q(**{own: parent}) | Q(**{parent_of: domain})


# Projects an expert may pull from. Expertise that `admitting` counts must be qualified
# unless the project accepts claims, not suspended, and its trust at the project's floor.
# Private projects need an allowed roster entry; removed experts get nothing. The expertise
# probe starts from the expert's own few rows (the (expert, domain) unique index), whatever
# the project's place in the tree.
ELIGIBLE_PROJECTS_SQL = """
SELECT p.id, p.organization_id, p.domain_id, p.name, p.status, p.gold_rate, p.gold_first,
  p.assignment_ttl_s, p.price_per_item, p.currency, p.contract, p.hourly_rate,
  p.weekly_cap_hours, EXISTS (
    SELECT 1 FROM tasks_assignment x
    WHERE x.project_id = p.id AND x.status = 'assigned' AND x.expires_at <= %s
  ) AS has_expired_leases
FROM tasks_project p
JOIN accounts_domain d ON d.id = p.domain_id
WHERE p.status = 'active'
  AND p.min_degree IN ({degrees})
  AND EXISTS (
    SELECT 1 FROM accounts_expertise e
    JOIN accounts_domain ed ON ed.id = e.domain_id
    WHERE e.expert_id = %s
      AND (e.domain_id = p.domain_id OR e.domain_id = d.parent_id
           OR ed.parent_id = p.domain_id)
      AND (e.suspended_until IS NULL OR e.suspended_until <= %s)
      AND e.trust >= p.min_trust
      AND (e.level = 'qualified' OR NOT p.require_qualification))
  AND (p.visibility = 'public' OR EXISTS (
    SELECT 1 FROM tasks_projectexpert r
    WHERE r.project_id = p.id AND r.expert_id = %s AND r.access = 'allowed'))
  AND NOT EXISTS (
    SELECT 1 FROM tasks_projectexpert r
    WHERE r.project_id = p.id AND r.expert_id = %s AND r.access = 'removed')
  {only}
ORDER BY p.id
LIMIT 100
"""


def eligible_projects(profile: ExpertProfile, now: datetime | None = None,
                      project_id: int | None = None) -> list[Project]:
    """Active projects the expert may pull from (funding is checked when leasing).

    Raw SQL because it runs on every `next`; the ORM spent longer building this query than
    PostgreSQL spent answering it. Only the columns leasing needs are read; any other field
    loads on first access.
    """
    if not profile.can_work:
        return []
    degrees = allowed_degrees(profile)
    sql = ELIGIBLE_PROJECTS_SQL.format(degrees=", ".join(["%s"] * len(degrees)),
                                       only="AND p.id = %s" if project_id else "")
    now = now or timezone.now()
    params = [now, *degrees, profile.pk, now, profile.pk, profile.pk]
    return instances(Project, sql, [*params, project_id] if project_id else params)


def listed_to(profile: ExpertProfile, project: Project) -> bool:
    """Whether the expert may know the project exists: a customer's drafts and private
    projects stay hidden from everyone the customer did not let in."""
    if project.status in (Project.Status.DRAFT, Project.Status.ARCHIVED):
        return False
    return (project.visibility == Project.Visibility.PUBLIC
            or ProjectExpert.objects.filter(project=project, expert_id=profile.pk).exists())


def qualifying_projects(profile: ExpertProfile, now: datetime | None = None
                        ) -> QuerySet[Project]:
    """Active projects whose degree, domain and trust rules the expert meets, whatever their
    visibility: the rules of ELIGIBLE_PROJECTS_SQL as a queryset, for listings that filter
    and annotate further. Kept beside the SQL so that the two cannot drift apart."""
    now = now or timezone.now()
    covering = Expertise.objects.filter(
        admitting(OuterRef("domain"), OuterRef("domain__parent")),
        Q(suspended_until__isnull=True) | Q(suspended_until__lte=now),
        expert=profile, trust__gte=OuterRef("min_trust"))
    return (Project.objects
            .filter(status=Project.Status.ACTIVE, min_degree__in=allowed_degrees(profile))
            .filter(Exists(covering.filter(level=Expertise.Level.QUALIFIED))
                    | Q(require_qualification=False) & Exists(covering)))


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
    domain = project.domain
    expertise = list(Expertise.objects.filter(admitting(domain.pk, domain.parent_id),
                                              expert=profile).select_related("domain"))
    if not expertise:
        return f"You have no expertise in {relatives(domain)}."
    if project.require_qualification:
        expertise = [e for e in expertise if e.level == Expertise.Level.QUALIFIED]
        if not expertise:
            return f"The project requires a qualification in {relatives(domain)}."
    working = [e for e in expertise if e.suspended_until is None or e.suspended_until <= now]
    if not working:
        latest = max(expertise, key=lambda e: e.suspended_until)
        reason = f": {latest.suspension_reason}" if latest.suspension_reason else "."
        return (f"You are suspended in {latest.domain.name} until "
                f"{latest.suspended_until:%Y-%m-%d %H:%M} UTC{reason}")
    best = max(working, key=lambda e: e.trust)
    return (f"Your trust in {best.domain.name} is {best.trust}, below the project's floor of "
            f"{project.min_trust}.")


def relatives(domain: Domain) -> str:
    """The domains whose expertise `admitting` counts for `domain`, in words."""
    if domain.parent_id:
        return f"{domain.name} or {domain.parent.name}"
    return f"{domain.name} or one of its subdomains"


def check_can_work(profile: ExpertProfile | None) -> ExpertProfile:
    if profile is None:
        raise PermissionDenied("Only experts pull work.")
    if profile.verification != ExpertProfile.Verification.VERIFIED:
        raise PermissionDenied(f"Your profile is {profile.verification}; an operator verifies "
                               f"it before you can work.")
    if profile.status != ExpertProfile.Status.ACTIVE:
        raise PermissionDenied(f"Your account is suspended: {profile.status_reason}")
    return profile


LOCK_PROFILE_SQL = """
SELECT e.user_id, e.verification, e.status, e.status_reason, e.highest_degree, (
    SELECT COUNT(*) FROM tasks_assignment a
    WHERE a.expert_id = %s AND a.status = 'assigned' AND a.expires_at > %s
  ) AS active_leases
FROM accounts_expertprofile e
WHERE e.user_id = %s
{lock}
"""


@retried_on_deadlock
@transaction.atomic
def next_assignment(user, project: Project | None = None, *,
                    rng: random.Random | None = None) -> NextResult:
    """Lease the best available item to the expert, from one project or any they may do.

    Raises PermissionDenied when the expert may not work (here or at all) and Conflict when
    they already hold as many live leases as allowed. A project that is paused or completed
    refuses nobody: it has nothing to hand out, so the result is empty, with the reason.
    """
    # Locking the profile queues one expert's concurrent calls, so the lease cap and the
    # "never the same item twice" pick cannot be raced past by the expert's own requests.
    now = timezone.now()
    lock = "FOR UPDATE OF e" if connection.features.has_select_for_update_of else ""
    profile = check_can_work(next(iter(instances(
        ExpertProfile, LOCK_PROFILE_SQL.format(lock=lock), [user.pk, now, user.pk])), None))
    candidates = eligible_projects(profile, now, project.pk if project else None)
    if project is not None and not candidates:
        fresh = Project.objects.select_related("domain__parent").get(pk=project.pk)
        if not listed_to(profile, fresh):
            raise ValidationError({"project": ["Unknown project."]})
        if fresh.status != Project.Status.ACTIVE:
            return NextResult(None, {fresh.pk: ineligibility_reason(profile, fresh)})
        raise PermissionDenied(ineligibility_reason(profile, fresh))
    if profile.active_leases >= max_active_leases():
        raise Conflict(f"You hold {profile.active_leases} open assignments, the most allowed "
                       f"at once; submit or skip one first.", code="lease_cap")
    reasons: dict[int, str] = {}
    # A receiver may refuse a lease after writing. While another project could still serve
    # the expert, the refused lease rolls back to a savepoint; a refusal by the last one
    # marks the whole call for rollback instead, which saves the savepoint's round trips on
    # the common call, for one project.
    guarded = assignment_leased.has_listeners(Project)
    for position, candidate in enumerate(candidates, 1):
        if candidate.contract == Project.Contract.HOURLY:
            capped = weekly_cap_reason(candidate, user.pk, now)
            if capped:
                reasons[candidate.pk] = capped
                continue
        try:
            with transaction.atomic(savepoint=guarded and position < len(candidates)):
                assignment = lease_from(candidate, user, now, rng or random)
        except LeaseRefused as refused:
            reasons[candidate.pk] = refused.reason
            continue
        if assignment is not None:
            return NextResult(assignment, reasons)
    return NextResult(None, reasons)


def weekly_cap_reason(project: Project, expert_id: int, now: datetime) -> str:
    """Why an hourly project gives the expert nothing more this week, or "" while it may."""
    week = week_start(now)
    logged, cap = logged_seconds(project.pk, expert_id, week), cap_seconds(project)
    if logged < cap:
        return ""
    resets = week + timedelta(days=7)
    return (f"You have logged {logged / 3600:.1f} of this week's {cap / 3600:.1f} hours on "
            f"{project.name}; the cap resets Monday {resets:%Y-%m-%d} 00:00 UTC.")


def lease_from(project: Project, user, now: datetime, rng) -> Assignment | None:
    if project.has_expired_leases:
        reclaim_expired(project=project, now=now)
    assignment = Assignment(
        project=project, expert=user, leased_at=now, status=Assignment.Status.ASSIGNED,
        expires_at=now + timedelta(seconds=project.assignment_ttl_s),
        price=project.price_per_item)
    gold = None
    if (project.gold_rate > 0 or project.gold_first) and rng.random() < gold_rate_for(
            project, user, now):
        gold = pick_gold(project, user, rng)
    if gold is not None:
        assignment.item, assignment.is_gold = gold, True
        assignment.pk = scalar(INSERT_ASSIGNMENT_SQL + " RETURNING id", [
            gold.pk, project.pk, user.pk, True, now, assignment.expires_at,
            project.price_per_item])
    elif not take_open_slot(assignment):
        return None
    assignment_leased.send(sender=Project, assignment=assignment)
    return assignment


def scalar(sql: str, params: list) -> Any:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return row[0] if row else None


def gold_rate_for(project: Project, user, now: datetime) -> float:
    """The chance that this lease is gold: certain while a calibrating project's new expert
    has had fewer than ``gold_first`` gold items (live leases among them), the warm-up rate
    while they have answered few, the project's rate after that."""
    rate = float(project.gold_rate)
    if project.gold_first:
        served = scalar("SELECT COUNT(*) FROM tasks_assignment WHERE project_id = %s AND "
                        "expert_id = %s AND is_gold AND (status IN ('submitted', 'approved', "
                        "'rejected') OR (status = 'assigned' AND expires_at > %s))",
                        [project.pk, user.pk, now])
        if served < project.gold_first:
            return 1.0
    if rate >= WARMUP_GOLD_RATE or rate == 0:
        return rate
    answered = scalar("SELECT COUNT(*) FROM tasks_assignment WHERE project_id = %s AND "
                      "expert_id = %s AND is_gold AND status IN ('submitted', 'approved')",
                      [project.pk, user.pk])
    return WARMUP_GOLD_RATE if answered < WARMUP_GOLD_ANSWERS else rate


def pick_gold(project: Project, user, rng) -> Item | None:
    """A gold item this expert has never seen, chosen at random among the few there are."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.id FROM tasks_item i WHERE i.project_id = %s AND i.is_gold AND NOT EXISTS "
            "(SELECT 1 FROM tasks_assignment a WHERE a.item_id = i.id AND a.expert_id = %s) "
            "ORDER BY i.id LIMIT 1000", [project.pk, user.pk])
        unseen = [row[0] for row in cursor.fetchall()]
    if not unseen:
        return None
    return Item.objects.get(pk=rng.choice(unseen))


# The pick: priority first, then the item closest to completion, never one the expert held.
# "Held" is probed per candidate through the (item, expert) unique index: as NOT EXISTS the
# planner may anti-join against every assignment the expert ever had, which grows with the
# expert's history and made each pick slower than the last.
PICK_OPEN_SQL = """
SELECT i.id, i.data, i.external_id FROM tasks_item i
WHERE i.project_id = %s AND NOT i.is_gold AND i.filled < i.overlap
  AND (SELECT a.id FROM tasks_assignment a
       WHERE a.item_id = i.id AND a.expert_id = %s LIMIT 1) IS NULL
ORDER BY i.priority DESC, i.filled DESC, i.id
LIMIT 1
"""
INSERT_ASSIGNMENT_SQL = (
    "INSERT INTO tasks_assignment (item_id, project_id, expert_id, is_gold, status, leased_at, "
    "expires_at, skip_reason, price) VALUES (%s, %s, %s, %s, 'assigned', %s, %s, '', %s)")

# On PostgreSQL the pick, the slot and the lease are one statement. Rows locked by concurrent
# picks are skipped, not waited on; the slot is taken under the row lock the pick holds.
LEASE_SQL_POSTGRES = f"""
WITH picked AS ({PICK_OPEN_SQL} FOR UPDATE OF i SKIP LOCKED),
slot AS (
  UPDATE tasks_item SET filled = filled + 1 FROM picked WHERE tasks_item.id = picked.id
  RETURNING tasks_item.id
),
lease AS (
  INSERT INTO tasks_assignment (item_id, project_id, expert_id, is_gold, status, leased_at,
                                expires_at, skip_reason, price)
  SELECT slot.id, %s, %s, false, 'assigned', %s, %s, '', %s FROM slot
  RETURNING id, item_id
)
SELECT lease.id, picked.id, picked.data, picked.external_id
FROM lease JOIN picked ON picked.id = lease.item_id
"""


def take_open_slot(assignment: Assignment) -> bool:
    """Lease an open item into `assignment`; False when the project has none for the expert.
    """
    project_id, expert_id = assignment.project.pk, assignment.expert.pk
    lease_values = [assignment.leased_at, assignment.expires_at, assignment.price]
    with statement_cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(LEASE_SQL_POSTGRES, [project_id, expert_id, project_id, expert_id,
                                                *lease_values])
            row = cursor.fetchone()
            if row is None:
                return False
            assignment.pk, item_id, data, external_id = row
        else:
            cursor.execute(PICK_OPEN_SQL, [project_id, expert_id])
            row = cursor.fetchone()
            if row is None:
                return False
            item_id, data, external_id = row
            cursor.execute("UPDATE tasks_item SET filled = filled + 1 WHERE id = %s", [item_id])
            cursor.execute(INSERT_ASSIGNMENT_SQL + " RETURNING id",
                           [item_id, project_id, expert_id, False, *lease_values])
            assignment.pk = cursor.fetchone()[0]
    assignment.item = Item(pk=item_id, project_id=project_id, external_id=external_id,
                           data=data if isinstance(data, dict) else json.loads(data),
                           is_gold=False)
    assignment.is_gold = False
    return True


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
