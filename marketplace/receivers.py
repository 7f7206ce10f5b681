"""How money follows the work loop. Every receiver runs inside the transaction that sent the
signal, so a reservation, a release or a payment commits exactly when the change that caused
it does, and a refusal rolls that change back."""

from django.dispatch import receiver

from tasks.signals import (
    assignment_approved,
    assignment_leased,
    assignment_pay_requested,
    assignments_released,
    rejection_appeal_denied,
    rejection_appealed,
)

from . import appeals, services, statements


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
