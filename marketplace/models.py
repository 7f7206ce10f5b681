"""Money and the marketplace around it.

The ledger is double-entry: every movement is a ``Transaction`` whose ``Entry`` rows sum to zero
per currency. PostgreSQL enforces that at commit with a deferred constraint trigger (migration
0002); the posting code checks it too, which is all SQLite gets. Entries are signed: a positive
amount raises the balance of the account it is posted to.

Every account but one holds money the platform owes somebody (a customer's funds, an expert's
earnings, the platform's own fees), so their balances are never negative. ``platform_cash`` is
the counterpart of money that entered or left the platform: its balance is minus the cash the
platform holds, and the sum of all balances is zero.

Accounts that are checked before money leaves them (an organization's available and reserved
funds, an expert's earnings) keep a cached ``balance``, updated in the same transaction as their
entries under the account's row lock, and a CHECK keeps it non-negative; the reconciliation
page proves it equal to the sum of the entries. Platform accounts keep none: every approval
posts to the fee account, and a cached balance there would be one row all approvals wait on.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from accounts.models import ExpertOwnedQuerySet, Organization
from tasks.models import Assignment, InProjectQuerySet, Project

MONEY = {"max_digits": 14, "decimal_places": 2}


class Account(models.Model):
    class Kind(models.TextChoices):
        ORGANIZATION = "organization", "Organization: available funds"
        RESERVED = "reserved", "Organization: reserved for leased work"
        PAYABLE = "payable", "Organization: decided time awaiting the weekly payment"
        EXPERT = "expert", "Expert earnings"
        PLATFORM_FEES = "platform_fees", "Platform fees"
        PLATFORM_CASH = "platform_cash", "Platform cash (counterpart)"
        PAYOUTS_PENDING = "payouts_pending", "Payouts in flight"

    # Kinds whose balance is cached and must never go below zero.
    CACHED_KINDS = (Kind.ORGANIZATION, Kind.RESERVED, Kind.PAYABLE, Kind.EXPERT)

    kind = models.CharField(max_length=16, choices=Kind.choices)
    organization = models.ForeignKey(Organization, null=True, blank=True,
                                     on_delete=models.PROTECT, related_name="ledger_accounts")
    expert = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                               on_delete=models.PROTECT, related_name="ledger_accounts")
    currency = models.CharField(max_length=3)
    balance = models.DecimalField(
        **MONEY, null=True, blank=True,
        help_text="Cached sum of the entries, for the kinds that are checked before paying "
                  "out; empty for platform accounts, whose balance is always computed.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["kind", "currency", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["organization", "reserved", "payable"],
                            organization__isnull=False,
                            expert__isnull=True)
                | Q(kind="expert", expert__isnull=False, organization__isnull=True)
                | Q(kind__in=["platform_fees", "platform_cash", "payouts_pending"],
                    organization__isnull=True, expert__isnull=True),
                name="marketplace_account_owner_matches_kind"),
            models.CheckConstraint(
                condition=Q(kind__in=["organization", "reserved", "payable", "expert"],
                            balance__gte=0)
                | Q(kind__in=["platform_fees", "platform_cash", "payouts_pending"],
                    balance__isnull=True),
                name="marketplace_account_cached_balance_non_negative"),
            models.CheckConstraint(condition=Q(currency__regex=r"^[A-Z]{3}\Z"),
                                   name="marketplace_account_currency_code"),
            models.UniqueConstraint(fields=["kind", "organization", "currency"],
                                    condition=Q(organization__isnull=False),
                                    name="marketplace_account_unique_organization"),
            models.UniqueConstraint(fields=["kind", "expert", "currency"],
                                    condition=Q(expert__isnull=False),
                                    name="marketplace_account_unique_expert"),
            models.UniqueConstraint(fields=["kind", "currency"],
                                    condition=Q(organization__isnull=True,
                                                expert__isnull=True),
                                    name="marketplace_account_unique_platform"),
        ]

    def __str__(self) -> str:
        owner = self.organization or self.expert or "platform"
        return f"{owner}: {self.get_kind_display()} ({self.currency})"

    @property
    def cached(self) -> bool:
        return self.kind in self.CACHED_KINDS


class Deposit(models.Model):
    """A customer's payment recorded by an operator, or money sent back to the customer."""

    class Kind(models.TextChoices):
        DEPOSIT = "deposit", "Deposit"
        REFUND = "refund", "Refund"

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT,
                                     related_name="deposits")
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.DEPOSIT)
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3)
    reference = models.CharField(max_length=200,
                                 help_text="The bank or invoice reference; one per payment.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0),
                                   name="marketplace_deposit_amount_positive"),
            models.UniqueConstraint(fields=["organization", "reference"],
                                    name="marketplace_deposit_reference_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} {self.currency} for {self.organization}"


class Bonus(models.Model):
    """Money a customer gives an expert on top of the task price: by hand, or the project's
    quality bonus paid at approval."""

    class Kind(models.TextChoices):
        MANUAL = "manual", "Manual"
        QUALITY = "quality", "Quality bonus"

    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="bonuses")
    expert = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                               related_name="bonuses")
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.MANUAL)
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3)
    reason = models.TextField()
    idempotency_key = models.CharField(max_length=200)
    assignment = models.ForeignKey(Assignment, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "bonuses"
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0),
                                   name="marketplace_bonus_amount_positive"),
            models.UniqueConstraint(fields=["project", "idempotency_key"],
                                    name="marketplace_bonus_idempotency_key_unique"),
            models.CheckConstraint(condition=Q(kind="manual") | Q(assignment__isnull=False),
                                   name="marketplace_quality_bonus_has_assignment"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} bonus of {self.amount} {self.currency} to {self.expert_id}"


class Payout(models.Model):
    """An expert's withdrawal: requested -> processing -> paid | failed.

    The amount leaves the expert's balance when requested (into ``payouts_pending``); paid
    sends it out of the platform, failed gives it back. A payout settles once: its row lock and
    status decide, and a unique constraint on its settling transaction backs them up.
    """

    class Status(models.TextChoices):
        REQUESTED = "requested", "Requested"
        PROCESSING = "processing", "Processing"
        PAID = "paid", "Paid"
        FAILED = "failed", "Failed"

    expert = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                               related_name="payouts")
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.REQUESTED)
    idempotency_key = models.CharField(max_length=200, blank=True)
    provider = models.CharField(max_length=100, blank=True)
    batch = models.CharField(max_length=64, blank=True,
                             help_text="The provider run this payout was sent in.")
    reference = models.CharField(max_length=300, blank=True,
                                 help_text="The provider's reference for the transfer.")
    failure_reason = models.TextField(blank=True)
    requested_at = models.DateTimeField(auto_now_add=True)
    processing_at = models.DateTimeField(null=True, blank=True)
    settled_at = models.DateTimeField(null=True, blank=True)
    settled_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+",
                                   help_text="The operator who settled it by hand, if any.")

    objects = ExpertOwnedQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0),
                                   name="marketplace_payout_amount_positive"),
            models.UniqueConstraint(fields=["expert", "idempotency_key"],
                                    condition=~Q(idempotency_key=""),
                                    name="marketplace_payout_idempotency_key_unique"),
            models.CheckConstraint(
                condition=Q(status__in=["requested", "processing"], settled_at__isnull=True)
                | Q(status__in=["paid", "failed"], settled_at__isnull=False),
                name="marketplace_payout_settled_when_final"),
        ]
        indexes = [models.Index(fields=["status", "processing_at"],
                                condition=Q(status__in=["requested", "processing"]),
                                name="marketplace_payout_open")]

    def __str__(self) -> str:
        return f"payout {self.pk} of {self.amount} {self.currency} ({self.status})"


class ExpertInProjectQuerySet(InProjectQuerySet, ExpertOwnedQuerySet):
    """Records of one expert's work on one project: the project's customer reads them
    (``visible_to``), the expert their own (``of_expert``)."""


class WeeklyPayment(models.Model):
    """One expert's decided time on an hourly project in one work week, paid at once.

    The time entries it pays point at it; its amount is their sum, and the fee comes off it
    once, so an expert's week reads as one line of pay.
    """

    project = models.ForeignKey(Project, on_delete=models.PROTECT,
                                related_name="weekly_payments")
    expert = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                               related_name="weekly_payments")
    week = models.DateField(help_text="The Monday (UTC) of the work week paid.")
    seconds = models.PositiveIntegerField(help_text="Active time paid, in seconds.")
    amount = models.DecimalField(**MONEY, help_text="What the customer paid, before the fee.")
    fee = models.DecimalField(**MONEY)
    net = models.DecimalField(**MONEY, help_text="What the expert received.")
    currency = models.CharField(max_length=3)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ExpertInProjectQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(fee__gte=0, net__gte=0,
                                               amount=F("fee") + F("net")),
                                   name="marketplace_weekly_payment_amount_split"),
        ]

    def __str__(self) -> str:
        return f"week of {self.week} on project {self.project_id} to {self.expert_id}"


class Transaction(models.Model):
    """One balanced movement of money, and what caused it."""

    class Kind(models.TextChoices):
        DEPOSIT = "deposit", "Deposit"
        REFUND = "refund", "Refund"
        RESERVATION = "reservation", "Reservation for a lease"
        RELEASE = "release", "Reservation released"
        APPROVAL = "approval", "Payment for approved work"
        BONUS = "bonus", "Bonus"
        PAYOUT_REQUEST = "payout_request", "Payout requested"
        PAYOUT_PAID = "payout_paid", "Payout paid"
        PAYOUT_FAILED = "payout_failed", "Payout failed"
        TIME_ACCRUED = "time_accrued", "Decided time awaiting the weekly payment"
        TIME_WITHHELD = "time_withheld", "Time withheld as fraud"
        HOURLY_PAYMENT = "hourly_payment", "Weekly payment for hourly work"

    # What an organization spent: money that went to experts and the platform's fee.
    SPENDING_KINDS = (Kind.APPROVAL, Kind.BONUS, Kind.HOURLY_PAYMENT)

    kind = models.CharField(max_length=16, choices=Kind.choices)
    memo = models.CharField(max_length=500, blank=True)
    idempotency_key = models.CharField(max_length=200, unique=True)
    project = models.ForeignKey(Project, null=True, blank=True, on_delete=models.PROTECT,
                                related_name="ledger_transactions")
    assignment = models.ForeignKey(Assignment, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="ledger_transactions")
    bonus = models.ForeignKey(Bonus, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="transactions")
    payout = models.ForeignKey(Payout, null=True, blank=True, on_delete=models.PROTECT,
                               related_name="transactions")
    deposit = models.ForeignKey(Deposit, null=True, blank=True, on_delete=models.PROTECT,
                                related_name="transactions")
    weekly_payment = models.ForeignKey(WeeklyPayment, null=True, blank=True,
                                       on_delete=models.PROTECT, related_name="transactions")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            # Paid or failed, never both, never twice.
            models.UniqueConstraint(fields=["payout"],
                                    condition=Q(kind__in=["payout_paid", "payout_failed"]),
                                    name="marketplace_payout_settles_once"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"


class TimeEntry(models.Model):
    """An hourly lease's decided active time and what it cost the customer.

    Written once per assignment when the work is decided (approved, rejected, skipped or
    expired): the cost moves from the hold to the organization's payable account, and the
    weekly payment pays it unless an operator withholds it as fraud first.
    """

    class Status(models.TextChoices):
        PAYABLE = "payable", "Awaiting the weekly payment"
        PAID = "paid", "Paid"
        WITHHELD = "withheld", "Withheld as fraud"

    assignment = models.OneToOneField(Assignment, on_delete=models.PROTECT,
                                      related_name="time_entry")
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="time_entries")
    expert = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                               related_name="time_entries")
    week = models.DateField(help_text="The Monday (UTC) of the week the lease began.")
    seconds = models.PositiveIntegerField(help_text="Active time, in seconds.")
    rate = models.DecimalField(max_digits=12, decimal_places=2,
                               help_text="The project's hourly rate the time was costed at.")
    amount = models.DecimalField(**MONEY, help_text="The customer's cost, before the fee.")
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PAYABLE)
    withheld_reason = models.TextField(blank=True)
    withheld_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+")
    withheld_at = models.DateTimeField(null=True, blank=True)
    payment = models.ForeignKey(WeeklyPayment, null=True, blank=True, on_delete=models.PROTECT,
                                related_name="entries")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ExpertInProjectQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "time entries"
        constraints = [
            models.CheckConstraint(condition=Q(seconds__gt=0, rate__gte=0, amount__gte=0),
                                   name="marketplace_time_entry_amounts"),
            models.CheckConstraint(
                condition=Q(status="paid", payment__isnull=False)
                | Q(status__in=["payable", "withheld"], payment__isnull=True),
                name="marketplace_time_entry_paid_has_payment"),
            models.CheckConstraint(
                condition=Q(status="withheld") & ~Q(withheld_reason="")
                | Q(status__in=["payable", "paid"], withheld_reason=""),
                name="marketplace_time_entry_withheld_has_reason"),
        ]
        indexes = [models.Index(fields=["week"], condition=Q(status="payable"),
                                name="marketplace_time_entry_payable")]

    def __str__(self) -> str:
        return f"{self.seconds} s on assignment {self.assignment_id} ({self.status})"


class Entry(models.Model):
    transaction = models.ForeignKey(Transaction, on_delete=models.PROTECT,
                                    related_name="entries")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="entries")
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3)

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "entries"
        constraints = [
            models.CheckConstraint(condition=~Q(amount=0), name="marketplace_entry_non_zero"),
        ]
        indexes = [models.Index(fields=["account", "transaction"],
                                name="marketplace_entry_account")]

    def __str__(self) -> str:
        return f"{self.amount} {self.currency} to account {self.account_id}"


class QualityBonusPolicy(models.Model):
    """A project's quality bonus: a share of the price on top, at approval, for experts whose
    trust in the project's domain is above a threshold.

    Trust is ``accounts.Expertise.trust``, the quality app's posterior mean kept on the
    expertise for routing; this app may not read the quality app's own records. The bonus is
    reserved with the price when work is leased, so an approval never waits on funds.
    """

    project = models.OneToOneField(Project, on_delete=models.CASCADE, primary_key=True,
                                   related_name="quality_bonus_policy")
    rate = models.DecimalField(max_digits=4, decimal_places=3,
                               help_text="Share of the price, e.g. 0.100 for +10%.")
    min_trust = models.DecimalField(max_digits=4, decimal_places=3,
                                    help_text="Paid when the expert's trust is above this.")
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "quality bonus policies"
        constraints = [
            models.CheckConstraint(condition=Q(rate__gt=0, rate__lte=1, min_trust__gte=0,
                                               min_trust__lte=1),
                                   name="marketplace_quality_bonus_ranges"),
        ]

    def __str__(self) -> str:
        return f"+{self.rate:%} above trust {self.min_trust} on project {self.project_id}"


class Decision(models.TextChoices):
    """Where an invitation or an application stands."""

    PENDING = "pending", "Pending"
    ACCEPTED = "accepted", "Accepted"
    DECLINED = "declined", "Declined"


class ProjectDecisionQuerySet(InProjectQuerySet, ExpertOwnedQuerySet):
    """Invitations and applications: the project's customer reads them (``visible_to``), the
    expert they concern reads their own (``of_expert``)."""


class ProjectInvitation(models.Model):
    Status = Decision

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="invitations")
    expert = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                               related_name="project_invitations")
    message = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    responded_at = models.DateTimeField(null=True, blank=True)

    objects = ProjectDecisionQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "expert"], condition=Q(status="pending"),
                                    name="marketplace_one_pending_invitation"),
        ]

    def __str__(self) -> str:
        return f"invitation of {self.expert_id} to project {self.project_id} ({self.status})"


class Application(models.Model):
    Status = Decision

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="applications")
    expert = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                               related_name="project_applications")
    message = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    objects = ProjectDecisionQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "expert"], condition=Q(status="pending"),
                                    name="marketplace_one_pending_application"),
        ]

    def __str__(self) -> str:
        return f"application of {self.expert_id} to project {self.project_id} ({self.status})"


class IdempotentResponse(models.Model):
    """The first answer to a request sent with an ``Idempotency-Key`` header, replayed to
    its retries: same status code, same body, whatever happened to the object since."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="+")
    scope = models.CharField(max_length=100)
    key = models.CharField(max_length=200)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of the request body.")
    status_code = models.PositiveSmallIntegerField()
    body = models.TextField(help_text="The JSON answered, as text: a JSON column would not "
                                      "keep the keys' order, and a replay repeats it byte "
                                      "for byte.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "scope", "key"],
                                    name="marketplace_idempotent_response_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.scope} {self.key!r} of user {self.user_id}"
