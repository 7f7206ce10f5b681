"""How money follows the work loop. Every receiver runs inside the transaction that sent the
signal, so a reservation, a release or a payment commits exactly when the change that caused
it does, and a refusal rolls that change back."""

from django.dispatch import receiver

from tasks.signals import (
    assignment_approved,
    assignment_leased,
    assignment_pay_requested,
    assignments_released,
)

from . import services, statements


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
