"""The money an appealed rejection waits on.

A rejection gives the lease's reservation back to the organization's available funds. When
the expert appeals, the price is held again (available -> reserved, linked to the assignment)
so that an upheld appeal pays from the hold, as approval of leased work does: settlement
takes an assignment's outstanding reservation first. A denied appeal gives the hold back.
Funds too short to hold leave the appeal standing: an upheld appeal then pays from what is
available at the decision, or is refused until the customer deposits.
"""

from django.db import transaction

from tasks.models import Assignment, Project

from . import ledger
from .ledger import InsufficientFunds, Line
from .models import Account, Entry, Transaction


def hold_key(appeal_id: int) -> str:
    return f"appeal:{appeal_id}:hold"


def release_key(appeal_id: int) -> str:
    return f"appeal:{appeal_id}:release"


@transaction.atomic
def hold_for_appeal(assignment: Assignment, appeal_id: int) -> bool:
    """Reserve the appealed work's price; False when nothing was held (no price, or the
    organization's available funds are short)."""
    if assignment.price <= 0:
        return False
    project = Project.objects.only("organization_id", "currency").get(pk=assignment.project_id)
    available, reserved = ledger.organization_accounts(project.organization_id,
                                                       project.currency)
    try:
        ledger.post(kind=Transaction.Kind.RESERVATION,
                    lines=[Line(available, -assignment.price), Line(reserved, assignment.price)],
                    idempotency_key=hold_key(appeal_id), project_id=assignment.project_id,
                    assignment_id=assignment.pk,
                    memo=f"Held for appeal {appeal_id} of assignment {assignment.pk}")
    except InsufficientFunds:
        return False
    return True


@transaction.atomic
def release_appeal_hold(assignment: Assignment, appeal_id: int) -> None:
    """Give back what the appeal held once it is denied: the hold, or what of it the
    assignment still holds; never another hold of the assignment's."""
    hold = (Entry.objects.filter(transaction__idempotency_key=hold_key(appeal_id), amount__gt=0)
            .select_related("account").first())
    outstanding = ledger.outstanding_holds([assignment.pk]).get(assignment.pk)
    if hold is None or outstanding is None:
        return
    reserved, amount = hold.account, min(hold.amount, outstanding[1])
    available = ledger.get_account(Account.Kind.ORGANIZATION, reserved.currency,
                                   organization_id=reserved.organization_id)
    ledger.post(kind=Transaction.Kind.RELEASE,
                lines=[Line(reserved, -amount), Line(available, amount)],
                idempotency_key=release_key(appeal_id), project_id=assignment.project_id,
                assignment_id=assignment.pk,
                memo=f"Appeal {appeal_id} of assignment {assignment.pk} denied")
