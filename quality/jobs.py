"""Background jobs of the quality app (django-q2). Each is idempotent: a rerun only finds
what is left to do."""

from django.utils import timezone

from tasks.models import Project, ProjectExpert

from . import appeals, qualifications, rules
from .metrics import experts_on
from .models import QualityRule

SCHEDULES = [
    # (function, minutes between runs)
    ("quality.jobs.evaluate_rules", 15),
    ("quality.jobs.expire_attempts", 5),
    ("quality.jobs.decide_lapsed_appeals", 15),
]


def evaluate_rules() -> int:
    """Apply every project's active rules to each expert on it; returns the actions taken.

    Submissions and reviews evaluate their expert at once; this run catches what time alone
    changes (day windows) and rules added or changed after the work was done. Each expert is
    evaluated in a transaction of its own.
    """
    taken = 0
    now = timezone.now()
    projects = Project.objects.filter(
        pk__in=QualityRule.objects.filter(active=True).values("project_id")
    ).exclude(status=Project.Status.ARCHIVED)
    for project in projects:
        removed = set(ProjectExpert.objects.filter(
            project=project, access=ProjectExpert.Access.REMOVED).values_list("expert_id",
                                                                                flat=True))
        for expert_id in experts_on(project).values_list("expert_id", flat=True):
            if expert_id in removed:
                continue
            taken += len(rules.evaluate_rules(project, expert_id, now=now))
    return taken


def expire_attempts() -> int:
    """Mark qualification attempts whose time ran out as expired."""
    return qualifications.expire_attempts()


def decide_lapsed_appeals() -> int:
    """Uphold the appeals nobody decided by their deadline (quality.appeals)."""
    return appeals.decide_lapsed_appeals()



def build_agreement_report(report_id: int) -> None:
    """Compute an agreement report (quality.reporting.compute); a done report is left alone."""
    from .reporting import compute

    compute(report_id)


def give_up_report(report_id: int, *, error: str) -> None:
    """The report's job has no attempt left (durable.runner.end): the report fails with the
    reason, for the customer to read, instead of staying pending or running."""
    from .reporting import fail

    fail(report_id, error=error)
