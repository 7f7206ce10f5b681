"""How money follows the work loop. Every receiver runs inside the transaction that sent the
signal, so a reservation, a release or a payment commits exactly when the change that caused
it does, and a refusal rolls that change back."""

from django.dispatch import receiver

from tasks.models import Assignment, Project
from tasks.signals import (
    annotation_submitted,
    assignment_approved,
    assignment_extended,
    assignment_leased,
    assignment_pay_requested,
    assignments_released,
    rejection_appeal_denied,
    rejection_appealed,
)

from . import appeals, hourly, services, statements


@receiver(assignment_leased, dispatch_uid="marketplace.reserve_for_lease")
def reserve_for_lease(sender, assignment, **kwargs) -> None:
    """Raises LeaseRefused when the organization cannot cover the lease; routing then skips
    the project and reports the reason."""
    if assignment.price > 0:
        services.reserve_for_lease(assignment)


@receiver(assignments_released, dispatch_uid="marketplace.release_holds")
def release_holds(sender, assignments, status, **kwargs) -> None:
    """Skipped, expired and rejected leases give back what they reserved."""
    paid = [assignment for assignment in assignments if assignment.price > 0]
    if paid:
        services.release_holds(paid, status=status)


@receiver(assignment_approved, dispatch_uid="marketplace.settle_approval")
def settle_approval(sender, assignment, **kwargs) -> None:
    """Raises Conflict when an overturned rejection cannot be paid: the overturn is refused."""
    services.settle_approval(assignment)


@receiver(assignment_pay_requested, dispatch_uid="marketplace.paid_for")
def paid_for(sender, expert, assignment_ids, **kwargs) -> dict:
    """Answers what the expert was paid for each assignment, from the ledger."""
    return statements.paid_for(expert, assignment_ids)


@receiver(rejection_appealed, dispatch_uid="marketplace.hold_for_appeal")
def hold_for_appeal(sender, assignment, appeal_id, **kwargs) -> None:
    """Hold the appealed work's price for the decision; short funds hold nothing."""
    appeals.hold_for_appeal(assignment, appeal_id)


@receiver(rejection_appeal_denied, dispatch_uid="marketplace.release_appeal_hold")
def release_appeal_hold(sender, assignment, appeal_id, **kwargs) -> None:
    """A denied appeal gives its hold back to the organization's available funds."""
    appeals.release_appeal_hold(assignment, appeal_id)


# Hourly contracts: leases cost nothing per item (price 0), so the receivers above skip them.

def _hourly_project(project_id: int) -> Project | None:
    return Project.objects.filter(pk=project_id, contract=Project.Contract.HOURLY).first()


@receiver(assignment_leased, dispatch_uid="marketplace.reserve_for_hourly_lease")
def reserve_for_hourly_lease(sender, assignment, **kwargs) -> None:
    """Raises LeaseRefused when the organization cannot cover the time the lease may log."""
    if hourly.is_hourly(assignment.project):
        hourly.reserve_for_lease(assignment)


@receiver(assignment_extended, dispatch_uid="marketplace.reserve_for_hourly_extension")
def reserve_for_hourly_extension(sender, assignment, **kwargs) -> None:
    """Raises LeaseRefused when the organization cannot cover the longer window: the
    extension is refused."""
    if hourly.is_hourly(assignment.project):
        hourly.reserve_for_extension(assignment)


@receiver(annotation_submitted, dispatch_uid="marketplace.release_unlogged_time")
def release_unlogged_time(sender, annotation, contract, **kwargs) -> None:
    """The lease's active time is final: the hold beyond its cost goes back."""
    if contract == Project.Contract.HOURLY:
        assignment = Assignment.objects.select_related("project").get(
            pk=annotation.assignment_id)
        hourly.release_unlogged(assignment, assignment.project)


@receiver(assignments_released, dispatch_uid="marketplace.accrue_released_time")
def accrue_released_time(sender, assignments, status, **kwargs) -> None:
    """Rejected, skipped and expired hourly leases book the time they logged: rejected time
    is paid unless an operator withholds it."""
    unpriced = [assignment.pk for assignment in assignments if assignment.price <= 0]
    project = unpriced and _hourly_project(assignments[0].project_id)
    if project:
        hourly.accrue(Assignment.objects.filter(pk__in=unpriced).order_by("pk"), project)


@receiver(assignment_approved, dispatch_uid="marketplace.accrue_approved_time")
def accrue_approved_time(sender, assignment, **kwargs) -> None:
    """Approved hourly work books its time; a rejection overturned later was booked at the
    rejection, and books nothing more."""
    project = assignment.price <= 0 and _hourly_project(assignment.project_id)
    if project:
        hourly.accrue([assignment], project)
