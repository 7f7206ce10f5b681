"""What the work loop announces, for the quality and marketplace apps to react to.

Every signal is sent inside the transaction that made the change, so a receiver's writes
commit or roll back with it. A receiver may refuse a lease by raising ``LeaseRefused``.
"""

from django.dispatch import Signal

# sender=Project, assignment=Assignment. Sent after the lease row exists.
assignment_leased = Signal()

# sender=Project, assignment=Assignment. Sent when a live lease may log more time than before:
# given more time (after its new `expires_at` is saved), or its project's weekly cap raised.
# A receiver may refuse by raising LeaseRefused (the longer window or the higher cap is not
# funded); the change then rolls back.
assignment_extended = Signal()

# sender=Project, assignments=list[Assignment], status=str. Leases that gave their slot back
# (skipped, expired) and annotations that were rejected.
assignments_released = Signal()

# sender=Project, annotation=Annotation, reached_overlap=bool, contract=str. Sent after the
# annotation row exists, with the assignment's active time final
# (`annotation.assignment.active_s`); `reached_overlap` says whether the item now holds its
# overlap of answers, `contract` is the project's (Project.Contract), so that a receiver for
# one kind of contract needs no query to skip the other.
annotation_submitted = Signal()

# sender=Project, assignment=Assignment, by=User | None (None: automatic approval).
# Sent when submitted work is approved, including a rejection overturned on appeal.
assignment_approved = Signal()

# sender=Project, assignment=Assignment, appeal_id=int. An expert appealed the rejection of
# this assignment: the money its approval would pay may be held for the decision.
rejection_appealed = Signal()

# sender=Project, assignment=Assignment, appeal_id=int. The appeal was denied: what was held
# for it goes back. (Upheld, the rejection is overturned and `assignment_approved` follows.)
rejection_appeal_denied = Signal()

# sender=Assignment, expert=User, assignment_ids=list[int]. Asked rather than announced, by
# pages that show an expert their own work: a receiver returns ``{assignment_id: (amount,
# currency)}``, what the expert was paid for each (after the platform fee, bonuses included),
# so that the app keeping the money answers without the asking app importing it.
assignment_pay_requested = Signal()

# sender=Project, batch=Batch. Sent when a batch's items are stored.
batch_ingested = Signal()

# sender=Project, item=Item.
item_completed = Signal()

# sender=Project, project=Project.
project_completed = Signal()


class LeaseRefused(Exception):
    """A receiver refuses to let the project lease more work now (for example no funds)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason
