"""Every change to money and to who may work where, one transaction each.

The work loop's signals arrive here through ``receivers``: a lease reserves its price (and
the project's quality bonus) in the organization's reserved account, a lease that gives its
slot back releases it, and approval pays the expert from it less the platform fee. Leases
therefore never promise more than the organization has; approval of leased work never waits
on funds. Only an overturned rejection pays from available funds again, because the
rejection released its reservation: if those are short the overturn is refused (409) and the
customer is asked for a deposit, rather than letting an organization's balance go negative.
"""

import secrets
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from accounts.access import Action, require, require_expert
from accounts.models import Expertise, Organization
from config.exceptions import Conflict
from config.money import after_fee, platform_fee
from tasks.models import Assignment, Project, ProjectExpert
from tasks.routing import admitting
from tasks.signals import LeaseRefused

from . import ledger
from .ledger import ZERO, InsufficientFunds, Line, money
from .models import (
    Account,
    Application,
    Bonus,
    Deposit,
    Entry,
    Payout,
    ProjectInvitation,
    QualityBonusPolicy,
    Transaction,
)

Kind = Transaction.Kind


def _require_positive(amount: Decimal) -> Decimal:
    if amount <= 0:
        raise ValidationError({"amount": ["The amount must be positive."]})
    if amount != money(amount):
        raise ValidationError({"amount": ["Amounts have at most two decimal places."]})
    return money(amount)


def _funds_short(organization: Organization, account: Account, needed: Decimal,
                 what: str) -> Conflict:
    return Conflict(f"{organization.name}'s available balance of {account.balance} "
                    f"{account.currency} cannot pay {needed} {account.currency} for {what}; "
                    f"deposit funds, then try again.", code="insufficient_funds")


# Funding ------------------------------------------------------------------------------------

@transaction.atomic
def record_deposit(*, organization: Organization, amount: Decimal, currency: str,
                   reference: str, by, kind: str = Deposit.Kind.DEPOSIT) -> tuple[Deposit, bool]:
    """Record a customer's payment (or a refund to them); ``(deposit, created)``.

    The reference identifies the payment: recording it again returns the first record, and
    the same reference with other figures is a conflict, never a second deposit.
    """
    require(by, Action.OPERATE, message="Only platform operators record payments.")
    amount = _require_positive(amount)
    if not reference.strip():
        raise ValidationError({"reference": ["The payment's reference is required."]})
    available = ledger.get_account(Account.Kind.ORGANIZATION, currency,
                                   organization_id=organization.pk)
    ledger.lock([available])  # serializes recordings of one reference
    existing = Deposit.objects.filter(organization=organization, reference=reference).first()
    if existing is not None:
        if (existing.kind, existing.amount, existing.currency) != (kind, amount, currency):
            raise Conflict(f"Reference {reference!r} was recorded as a {existing.kind} of "
                           f"{existing.amount} {existing.currency}.", code="reference_reused")
        return existing, False
    deposit = Deposit.objects.create(organization=organization, kind=kind, amount=amount,
                                     currency=currency, reference=reference, created_by=by)
    cash = ledger.platform_account(Account.Kind.PLATFORM_CASH, currency)
    sign = 1 if kind == Deposit.Kind.DEPOSIT else -1
    try:
        ledger.post(kind=Kind.DEPOSIT if sign > 0 else Kind.REFUND,
                    lines=[Line(available, sign * amount), Line(cash, -sign * amount)],
                    idempotency_key=f"deposit:{deposit.pk}", deposit=deposit, created_by=by,
                    memo=f"{deposit.get_kind_display()} {reference}")
    except InsufficientFunds as exc:
        raise ValidationError({"amount": [
            f"{organization.name} has {exc.balance} {currency} available; a refund cannot "
            f"exceed it."]}) from exc
    return deposit, True


def quality_bonus_rate(project_id: int) -> Decimal:
    rate = (QualityBonusPolicy.objects.filter(project_id=project_id)
            .values_list("rate", flat=True).first())
    return rate or ZERO


def lease_hold(project: Project, price: Decimal | None = None) -> Decimal:
    """What one lease reserves: the price, plus the quality bonus it may earn."""
    price = project.price_per_item if price is None else price
    if price <= 0:
        return ZERO
    return money(price) + money(price * quality_bonus_rate(project.pk))


def refusal(project: Project, organization: Organization, hold: Decimal) -> str:
    return (f"{organization.name}'s balance cannot cover another task at {hold} "
            f"{project.currency}")


@transaction.atomic
def reserve_for_lease(assignment: Assignment) -> None:
    """Move a new lease's price from the organization's available funds to its reserved
    account; raise LeaseRefused when they cannot cover it.

    The available account's row lock serializes concurrent leases of one organization, so
    together they never reserve more than it has.
    """
    if assignment.price <= 0:
        return
    project = assignment.project
    hold = lease_hold(project, assignment.price)
    available, reserved = ledger.organization_accounts(project.organization_id,
                                                       project.currency)
    try:
        ledger.post(kind=Kind.RESERVATION, lines=[Line(available, -hold), Line(reserved, hold)],
                    idempotency_key=f"reserve:{assignment.pk}", project_id=project.pk,
                    assignment_id=assignment.pk, memo=f"Lease of assignment {assignment.pk}")
    except InsufficientFunds as exc:
        organization = Organization.objects.get(pk=project.organization_id)
        raise LeaseRefused(refusal(project, organization, hold)) from exc


@transaction.atomic
def release_holds(assignments: list[Assignment], *, status: str) -> None:
    """Return what released leases (skipped, expired, rejected) still hold to the
    organization's available funds. Rejected work pays nothing."""
    holds = ledger.outstanding_holds(a.pk for a in assignments)
    for assignment in assignments:
        if assignment.pk in holds:
            reserved_id, amount = holds[assignment.pk]
            _release(assignment, Account.objects.get(pk=reserved_id), amount,
                     f"Assignment {assignment.pk} {status}")


def _release(assignment: Assignment, reserved: Account, amount: Decimal, memo: str) -> None:
    available = ledger.get_account(Account.Kind.ORGANIZATION, reserved.currency,
                                   organization_id=reserved.organization_id)
    ledger.post(kind=Kind.RELEASE, lines=[Line(reserved, -amount), Line(available, amount)],
                idempotency_key=f"release:{assignment.pk}", project_id=assignment.project_id,
                assignment_id=assignment.pk, memo=memo)


# Approval -------------------------------------------------------------------------------------

def expert_trust(expert_id: int, project: Project) -> Decimal | None:
    """The expert's best trust among the expertise routing counts for the project's domain
    (its own, its parent's or a subdomain's)."""
    return (Expertise.objects.filter(admitting(project.domain_id, project.domain.parent_id),
                                     expert_id=expert_id)
            .aggregate(trust=Max("trust"))["trust"])


def _quality_bonus(assignment: Assignment, project: Project, held: Decimal) -> tuple[
        Decimal, str]:
    """The quality bonus this approval pays and why: what the lease held beyond the price,
    if the project still has a policy and the expert's trust is above its threshold."""
    bonus = held - assignment.price
    policy = QualityBonusPolicy.objects.filter(project=project).first()
    if bonus <= 0 or policy is None:
        return ZERO, ""
    trust = expert_trust(assignment.expert_id, project)
    if trust is None or trust <= policy.min_trust:
        return ZERO, ""
    return bonus, (f"Quality bonus: trust {trust} in {project.domain.name} is above "
                   f"{policy.min_trust}")


def _take(amount: Decimal, reserved: Account, available: Account, left: Decimal) -> tuple[
        list[Line], Decimal]:
    """Lines taking `amount` from the reservation first, the rest from available funds."""
    from_hold = min(left, amount)
    return [Line(reserved, -from_hold), Line(available, -(amount - from_hold))], left - from_hold


@transaction.atomic
def settle_approval(assignment: Assignment) -> None:
    """Pay approved work: the price from the organization (its reservation first) to the
    expert less the platform fee, the fee to the platform, the quality bonus likewise, and
    give back what the lease held beyond that. Once per assignment: approving it again
    (after a rejection was overturned) pays nothing more."""
    if assignment.price <= 0 or Transaction.objects.filter(
            idempotency_key=f"approval:{assignment.pk}").exists():
        return
    project = Project.objects.select_related("organization", "domain").get(
        pk=assignment.project_id)
    currency, price = project.currency, assignment.price
    available, reserved = ledger.organization_accounts(project.organization_id, currency)
    expert = ledger.expert_account(assignment.expert_id, currency)
    fees = ledger.platform_account(Account.Kind.PLATFORM_FEES, currency)
    held = (Entry.objects.filter(account=reserved, transaction__kind=Kind.RESERVATION,
                                 transaction__assignment_id=assignment.pk)
            .values_list("amount", flat=True).first()) or price
    left = ledger.outstanding_holds([assignment.pk]).get(assignment.pk, (None, ZERO))[1]
    bonus, why = _quality_bonus(assignment, project, held)
    refs = {"project": project, "assignment_id": assignment.pk}
    try:
        taken, left = _take(price, reserved, available, left)
        ledger.post(kind=Kind.APPROVAL, idempotency_key=f"approval:{assignment.pk}",
                    memo=f"Approved assignment {assignment.pk}", **refs,
                    lines=[*taken, Line(expert, after_fee(price)),
                           Line(fees, platform_fee(price))])
        if bonus:
            record = Bonus.objects.create(
                project=project, expert_id=assignment.expert_id, kind=Bonus.Kind.QUALITY,
                amount=bonus, currency=currency, reason=why, assignment_id=assignment.pk,
                idempotency_key=f"quality:{assignment.pk}")
            taken, left = _take(bonus, reserved, available, left)
            ledger.post(kind=Kind.BONUS, idempotency_key=f"bonus:{record.pk}", memo=why,
                        bonus=record, **refs,
                        lines=[*taken, Line(expert, after_fee(bonus)),
                               Line(fees, platform_fee(bonus))])
    except InsufficientFunds as exc:
        raise _funds_short(project.organization, exc.account, price + bonus,
                           f"assignment {assignment.pk}") from exc
    if left > 0:
        _release(assignment, reserved, left,
                 f"Unused quality bonus hold of assignment {assignment.pk}")


# Bonuses --------------------------------------------------------------------------------------

@transaction.atomic
def grant_bonus(*, project: Project, expert, amount: Decimal, reason: str,
                idempotency_key: str, by) -> tuple[Bonus, bool]:
    """Pay an expert who worked on the project a bonus from the organization's available
    funds, less the platform fee; ``(bonus, created)``. The key makes retries safe."""
    require(by, Action.MANAGE, project.organization_id)
    amount = _require_positive(amount)
    if not reason.strip():
        raise ValidationError({"reason": ["Say why: the expert reads it."]})
    if not idempotency_key.strip():
        raise ValidationError({"idempotency_key": ["A key is required so that a retry "
                                                   "cannot pay twice."]})
    available = ledger.get_account(Account.Kind.ORGANIZATION, project.currency,
                                   organization_id=project.organization_id)
    expert_account = ledger.expert_account(expert.pk, project.currency)
    # Both at once, in the ledger's lock order; this also serializes retries under one key.
    ledger.lock([available, expert_account])
    existing = Bonus.objects.filter(project=project, idempotency_key=idempotency_key).first()
    if existing is not None:
        if (existing.expert_id, existing.amount, existing.reason) != (expert.pk, amount,
                                                                      reason.strip()):
            raise Conflict("This idempotency key was used for a different bonus.",
                           code="idempotency_key_reused")
        return existing, False
    if not (Assignment.objects.filter(project=project, expert=expert).exists()
            or ProjectExpert.objects.filter(project=project, expert=expert,
                                            access=ProjectExpert.Access.ALLOWED).exists()):
        raise ValidationError({"expert": ["This expert has not worked on the project."]})
    bonus = Bonus.objects.create(project=project, expert=expert, amount=amount,
                                 currency=project.currency, reason=reason.strip(),
                                 idempotency_key=idempotency_key, created_by=by)
    fees = ledger.platform_account(Account.Kind.PLATFORM_FEES, project.currency)
    try:
        ledger.post(kind=Kind.BONUS, idempotency_key=f"bonus:{bonus.pk}", memo=bonus.reason,
                    project=project, bonus=bonus, created_by=by,
                    lines=[Line(available, -amount), Line(expert_account, after_fee(amount)),
                           Line(fees, platform_fee(amount))])
    except InsufficientFunds as exc:
        raise _funds_short(project.organization, exc.account, amount, "this bonus") from exc
    return bonus, True


@transaction.atomic
def set_quality_bonus(*, project: Project, rate: Decimal, min_trust: Decimal,
                      by) -> QualityBonusPolicy:
    """Set the project's quality bonus. Leases taken from now on reserve it; leases already
    held keep what they reserved."""
    require(by, Action.MANAGE, project.organization_id)
    policy, _ = QualityBonusPolicy.objects.update_or_create(
        project=project, defaults={"rate": rate, "min_trust": min_trust, "updated_by": by})
    return policy


@transaction.atomic
def remove_quality_bonus(*, project: Project, by) -> None:
    require(by, Action.MANAGE, project.organization_id)
    QualityBonusPolicy.objects.filter(project=project).delete()


# Payouts --------------------------------------------------------------------------------------

@transaction.atomic
def request_payout(*, expert, amount: Decimal, currency: str,
                   idempotency_key: str = "") -> tuple[Payout, bool]:
    """Take an amount out of the expert's balance into payouts in flight; ``(payout,
    created)``. The expert's account lock serializes their requests, so two at once cannot
    both spend one balance, and a repeated key returns the first payout."""
    require_expert(expert, message="Only experts have earnings to pay out.")
    amount = _require_positive(amount)
    account = ledger.expert_account(expert.pk, currency)
    balance = ledger.lock([account])[account.pk].balance
    if idempotency_key:
        existing = Payout.objects.filter(expert=expert, idempotency_key=idempotency_key).first()
        if existing is not None:
            if (existing.amount, existing.currency) != (amount, currency):
                raise Conflict("This Idempotency-Key was used for a different payout.",
                               code="idempotency_key_reused")
            return existing, False
    minimum = settings.PAYOUT_MINIMUM
    if amount < minimum:
        raise ValidationError({"amount": [f"The smallest payout is {minimum} {currency}."]})
    if amount > balance:
        raise ValidationError({"amount": [f"Your balance is {balance} {currency}; a payout "
                                          f"cannot exceed it."]})
    payout = Payout.objects.create(expert=expert, amount=amount, currency=currency,
                                   idempotency_key=idempotency_key)
    pending = ledger.platform_account(Account.Kind.PAYOUTS_PENDING, currency)
    ledger.post(kind=Kind.PAYOUT_REQUEST, idempotency_key=f"payout:{payout.pk}:request",
                payout=payout, created_by=expert, memo=f"Payout {payout.pk} requested",
                lines=[Line(account, -amount), Line(pending, amount)])
    return payout, True


def new_batch() -> str:
    return f"{timezone.now():%Y%m%dT%H%M%S}-{secrets.token_hex(4)}"


@transaction.atomic
def claim_payouts(*, provider: str, limit: int) -> str | None:
    """Mark up to `limit` requested payouts as processing under a new batch name and return
    it. Rows another worker is claiming are skipped, so each payout joins one batch."""
    claimed = [payout.pk for payout in Payout.objects.select_for_update(skip_locked=True)
               .filter(status=Payout.Status.REQUESTED).order_by("pk").only("pk")[:limit]]
    if not claimed:
        return None
    batch = new_batch()
    Payout.objects.filter(pk__in=claimed).update(
        status=Payout.Status.PROCESSING, batch=batch, provider=provider,
        processing_at=timezone.now())
    return batch


@transaction.atomic
def settle_payout(*, payout: Payout, paid: bool, reference: str = "", reason: str = "",
                  by=None) -> Payout:
    """Finish a payout: paid sends the money out of the platform, failed returns it to the
    expert. Settling it again the same way changes nothing; the other way is a conflict."""
    if not paid and not reason.strip():
        raise ValidationError({"reason": ["Say why the payout failed: the expert reads it."]})
    payout = Payout.objects.select_for_update().get(pk=payout.pk)
    target = Payout.Status.PAID if paid else Payout.Status.FAILED
    if payout.status == target:
        return payout
    if payout.status not in (Payout.Status.REQUESTED, Payout.Status.PROCESSING):
        raise Conflict(f"Payout {payout.pk} is already {payout.status}.", code="settled")
    pending = ledger.platform_account(Account.Kind.PAYOUTS_PENDING, payout.currency)
    if paid:
        counterpart = ledger.platform_account(Account.Kind.PLATFORM_CASH, payout.currency)
    else:
        counterpart = ledger.expert_account(payout.expert_id, payout.currency)
    ledger.post(kind=Kind.PAYOUT_PAID if paid else Kind.PAYOUT_FAILED,
                idempotency_key=f"payout:{payout.pk}:settled", payout=payout, created_by=by,
                memo=f"Payout {payout.pk} {target}" + (f": {reason.strip()}" if reason else ""),
                lines=[Line(pending, -payout.amount), Line(counterpart, payout.amount)])
    payout.status = target
    payout.settled_at = timezone.now()
    payout.settled_by = by
    payout.reference = reference or payout.reference
    payout.failure_reason = reason.strip()
    payout.save(update_fields=["status", "settled_at", "settled_by", "reference",
                               "failure_reason"])
    return payout


# Who may work where ---------------------------------------------------------------------------

def _allow(project: Project, expert, reason: str) -> ProjectExpert:
    """Put the expert on the project's roster; a removal by a quality rule stands."""
    roster = (ProjectExpert.objects.select_for_update()
              .filter(project=project, expert=expert).first())
    if roster is not None and roster.access == ProjectExpert.Access.REMOVED:
        raise Conflict(f"The expert was removed from this project: {roster.reason}",
                       code="removed")
    if roster is None:
        return ProjectExpert.objects.create(project=project, expert=expert, reason=reason,
                                            access=ProjectExpert.Access.ALLOWED)
    return roster


def _require_not_on_roster(project: Project, expert) -> None:
    roster = ProjectExpert.objects.filter(project=project, expert=expert).first()
    if roster is None:
        return
    if roster.access == ProjectExpert.Access.REMOVED:
        raise Conflict(f"The expert was removed from this project: {roster.reason}",
                       code="removed")
    raise Conflict("The expert is already on this project.", code="already_allowed")


@transaction.atomic
def invite_expert(*, project: Project, expert, by, message: str = "") -> tuple[
        ProjectInvitation, bool]:
    """Invite an expert; ``(invitation, created)``. A pending invitation is returned as is."""
    require(by, Action.MANAGE, project.organization_id)
    if not expert.is_expert:
        raise ValidationError({"expert": ["No such expert."]})
    _require_not_on_roster(project, expert)
    return ProjectInvitation.objects.get_or_create(
        project=project, expert=expert, status=ProjectInvitation.Status.PENDING,
        defaults={"invited_by": by, "message": message})


@transaction.atomic
def respond_to_invitation(*, invitation: ProjectInvitation, expert,
                          accept: bool) -> ProjectInvitation:
    """The invited expert accepts (and may then pull the project's work) or declines."""
    invitation = ProjectInvitation.objects.select_for_update().get(pk=invitation.pk,
                                                                  expert=expert)
    if invitation.status != ProjectInvitation.Status.PENDING:
        raise Conflict(f"This invitation is already {invitation.status}.", code="answered")
    if accept:
        _allow(invitation.project, expert, "Accepted an invitation.")
    invitation.status = (ProjectInvitation.Status.ACCEPTED if accept
                         else ProjectInvitation.Status.DECLINED)
    invitation.responded_at = timezone.now()
    invitation.save(update_fields=["status", "responded_at"])
    return invitation


@transaction.atomic
def apply_to_project(*, project: Project, expert, message: str = "") -> Application:
    _require_not_on_roster(project, expert)
    if ProjectInvitation.objects.filter(project=project, expert=expert,
                                        status=ProjectInvitation.Status.PENDING).exists():
        raise Conflict("You are invited to this project; accept the invitation instead.",
                       code="invited")
    application, created = Application.objects.get_or_create(
        project=project, expert=expert, status=Application.Status.PENDING,
        defaults={"message": message})
    if not created:
        raise Conflict("You already applied to this project.", code="already_applied")
    return application


@transaction.atomic
def decide_application(*, application: Application, by, accept: bool) -> Application:
    application = Application.objects.select_for_update().select_related(
        "project__organization").get(pk=application.pk)
    require(by, Action.MANAGE, application.project.organization_id)
    if application.status != Application.Status.PENDING:
        raise Conflict(f"This application is already {application.status}.", code="decided")
    if accept:
        _allow(application.project, application.expert, "Application accepted.")
    application.status = (Application.Status.ACCEPTED if accept
                          else Application.Status.DECLINED)
    application.decided_by = by
    application.decided_at = timezone.now()
    application.save(update_fields=["status", "decided_by", "decided_at"])
    return application
