"""Money goes in and out as string decimals with a currency, never as JSON numbers: every
amount below is an ``AmountField``, read by the service's one amount parser."""

from django.contrib.auth import get_user_model
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.languages import normalize_language
from accounts.models import Degree, ExpertProfile
from config.ids import ModelSerializer, WholeNumberField, parse_id
from config.money import AmountField, after_fee
from tasks import estimates
from tasks.models import Assignment, Project

from .. import discovery, pseudonyms, statements
from ..models import (
    Application,
    Bonus,
    Deposit,
    Payout,
    ProjectInvitation,
    QualityBonusPolicy,
    TimeEntry,
    Transaction,
    WeeklyPayment,
)

User = get_user_model()


class Currency(serializers.RegexField):
    def __init__(self, **kwargs):
        super().__init__(r"^[A-Z]{3}\Z", max_length=3, min_length=3, **kwargs)
        self.error_messages["invalid"] = "A three-letter ISO 4217 code such as USD."


class CurrencyQuerySerializer(serializers.Serializer):
    currency = Currency(required=False)


class Hours(serializers.DecimalField):
    """Hours to the hundredth as a decimal string, e.g. "6.50"."""

    def __init__(self, **kwargs):
        kwargs.setdefault("read_only", True)
        super().__init__(max_digits=12, decimal_places=2, coerce_to_string=True, **kwargs)


class HoursOfSeconds(Hours):
    """Hours read from a count of seconds (``source`` names it)."""

    def to_representation(self, value):
        return None if value is None else super().to_representation(statements.hours(value))


# Organizations ---------------------------------------------------------------------------------

class DepositRequestSerializer(serializers.Serializer):
    amount = AmountField(min_value=0)
    currency = Currency()
    reference = serializers.CharField(max_length=200)


class DepositSerializer(ModelSerializer):
    amount = AmountField(read_only=True)

    class Meta:
        model = Deposit
        fields = ["id", "organization", "kind", "amount", "currency", "reference", "created_at"]


class ProjectSpendSerializer(serializers.Serializer):
    project = serializers.IntegerField()
    name = serializers.CharField()
    spent = AmountField()
    fees = AmountField(help_text="The platform's share of `spent`.")
    reserved = AmountField(help_text="Held for leases in progress.")
    payable = AmountField(help_text="Hourly contracts: decided time the next weekly payment "
                                    "pays.")
    approved_tasks = serializers.IntegerField()
    contract = serializers.CharField(help_text="`per_task` or `hourly`.")
    hours = Hours(allow_null=True, help_text=(
        "Hourly contracts: hours of experts' time paid or payable (time withheld as fraud "
        "is not); null on per-task projects."))


class BalanceSerializer(serializers.Serializer):
    currency = serializers.CharField()
    available = AmountField(help_text="deposits - refunds - spent - reserved - payable")
    reserved = AmountField(help_text="Held for leased work until it is approved or released.")
    payable = AmountField(help_text="Hourly contracts: decided time awaiting the weekly "
                                    "payment; spent once paid.")
    spent = AmountField(help_text="Paid for approved work, bonuses and weekly payments of "
                                  "hourly time, the platform's fee included.")
    deposits = AmountField()
    refunds = AmountField()
    fees = AmountField()
    by_project = ProjectSpendSerializer(many=True)


class StatementLineSerializer(ModelSerializer):
    """One transaction that touched the organization's funds. `available`, `reserved` and
    `payable` are what it did to them (signed); `to_expert` and `fee` where spent money
    went; `hours` the hourly time it was for."""

    project_name = serializers.CharField(source="project.name", default=None, read_only=True,
                                         allow_null=True)
    currency = serializers.SerializerMethodField()
    available = AmountField()
    reserved = AmountField()
    payable = AmountField()
    to_expert = AmountField()
    fee = AmountField()
    hours = HoursOfSeconds(source="seconds", allow_null=True, help_text=(
        "Hourly time: a lease's decided time (`time_accrued`, `time_withheld`) or the "
        "week's time a weekly payment paid (`hourly_payment`); null on other lines."))

    class Meta:
        model = Transaction
        fields = ["id", "created_at", "kind", "memo", "project", "project_name", "assignment",
                  "available", "reserved", "payable", "to_expert", "fee", "hours", "currency"]

    def get_currency(self, obj) -> str:
        return self.context["currency"]


class FundingSerializer(serializers.Serializer):
    currency = serializers.CharField()
    hold_per_task = AmountField(help_text="What one lease reserves: the price, plus the "
                                          "quality bonus it may earn; on hourly contracts "
                                          "the lease's window at the hourly rate, within "
                                          "the weekly cap.")
    available = AmountField()
    reserved = AmountField()
    can_lease = serializers.BooleanField()
    reason = serializers.CharField(help_text="Why experts get no work from the project now; "
                                             "empty when it can lease.")


# Bonuses ---------------------------------------------------------------------------------------

class ExpertReferenceField(serializers.CharField):
    """An expert by directory pseudonym (`ex_...`) or user id."""

    def to_internal_value(self, data):
        text = super().to_internal_value(data)
        user_id = (pseudonyms.decode(text) if text.startswith(pseudonyms.PREFIX)
                   else parse_id(text))
        expert = (User.objects.filter(pk=user_id, expert_profile__isnull=False).first()
                  if user_id is not None else None)
        if expert is None:
            raise serializers.ValidationError("No such expert.")
        return expert


@extend_schema_field(OpenApiTypes.STR)
class PseudonymField(serializers.Field):
    """An expert's pseudonymous id, from the user id in `source`."""

    def __init__(self, **kwargs):
        kwargs.setdefault("read_only", True)
        kwargs.setdefault("source", "expert_id")
        super().__init__(**kwargs)

    def to_representation(self, value) -> str:
        return pseudonyms.encode(value)


class BonusRequestSerializer(serializers.Serializer):
    expert = ExpertReferenceField()
    amount = AmountField(min_value=0)
    reason = serializers.CharField()
    idempotency_key = serializers.CharField(max_length=200)


class BonusSerializer(ModelSerializer):
    expert = PseudonymField()
    amount = AmountField(read_only=True, help_text="What the organization paid.")
    expert_receives = serializers.SerializerMethodField()

    class Meta:
        model = Bonus
        fields = ["id", "project", "expert", "kind", "amount", "expert_receives", "currency",
                  "reason", "idempotency_key", "assignment", "created_at"]

    @extend_schema_field(AmountField(read_only=True))
    def get_expert_receives(self, obj) -> str:
        return str(after_fee(obj.amount))


class QualityBonusSerializer(ModelSerializer):
    rate = serializers.DecimalField(max_digits=4, decimal_places=3, min_value=0,
                                    max_value=1, coerce_to_string=True,
                                    help_text="Share of the price paid on top, e.g. 0.100.")
    min_trust = serializers.DecimalField(max_digits=4, decimal_places=3, min_value=0,
                                         max_value=1, coerce_to_string=True)

    class Meta:
        model = QualityBonusPolicy
        fields = ["rate", "min_trust", "updated_at"]

    def validate_rate(self, value):
        if value <= 0:
            raise serializers.ValidationError("A quality bonus must be positive.")
        return value


# Earnings and payouts --------------------------------------------------------------------------

class PayoutRequestSerializer(serializers.Serializer):
    amount = AmountField(min_value=0)
    currency = Currency(required=False)


class PayoutSerializer(ModelSerializer):
    amount = AmountField(read_only=True)

    class Meta:
        model = Payout
        fields = ["id", "amount", "currency", "status", "reference", "failure_reason",
                  "requested_at", "processing_at", "settled_at"]


class EarningEntrySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    created_at = serializers.DateTimeField(source="transaction.created_at")
    kind = serializers.CharField(source="transaction.kind")
    memo = serializers.CharField(source="transaction.memo")
    project = serializers.IntegerField(source="transaction.project_id", allow_null=True)
    amount = AmountField()
    currency = serializers.CharField()


EFFECTIVE_RATE = ("What you were paid per hour of that time, after the platform fee, bonuses "
                  "and weekly payments included; null without tracked time. Hourly time "
                  "awaiting its weekly payment counts once it is paid.")


class ProjectEarningsSerializer(serializers.Serializer):
    project = serializers.IntegerField()
    name = serializers.CharField()
    contract = serializers.CharField(help_text="`per_task` or `hourly`.")
    earned = AmountField(help_text="After the platform fee, bonuses and weekly payments "
                                   "included.")
    bonuses = AmountField()
    approved_tasks = serializers.IntegerField()
    hours = Hours(help_text=(
        "Your time on decided work: approved and rejected, and on hourly contracts also "
        "skipped and expired leases. A lease counts its tracked active time, or the time "
        "from lease to answer when none was tracked."))
    effective_hourly_rate = AmountField(allow_null=True, help_text=EFFECTIVE_RATE)


class WeeklyPaymentSerializer(ModelSerializer):
    """One week of your hourly time on a project, paid at once."""

    project_name = serializers.CharField(source="project.name")
    hours = HoursOfSeconds(source="seconds")
    rate = AmountField(help_text="The hourly rate your time was costed at, before the fee.")
    amount = AmountField(help_text="Before the platform fee.")
    fee = AmountField()
    net = AmountField(help_text="What you received.")

    class Meta:
        model = WeeklyPayment
        fields = ["id", "week", "project", "project_name", "hours", "rate", "amount", "fee",
                  "net", "currency", "created_at"]
        read_only_fields = fields


class TimeEntrySerializer(ModelSerializer):
    """A decided hourly lease's time: awaiting the weekly payment, paid, or withheld."""

    project_name = serializers.CharField(source="project.name")
    hours = HoursOfSeconds(source="seconds")
    rate = AmountField()
    amount = AmountField(help_text="The time at the rate, before the platform fee.")
    expert_receives = serializers.SerializerMethodField(help_text=(
        "The amount after the fee; the weekly payment takes the fee once on the week's "
        "total, so its cents may differ."))

    class Meta:
        model = TimeEntry
        fields = ["assignment", "project", "project_name", "week", "hours", "rate", "amount",
                  "expert_receives", "currency", "status", "withheld_reason", "withheld_at"]
        read_only_fields = fields

    @extend_schema_field(AmountField(read_only=True))
    def get_expert_receives(self, obj) -> str:
        return str(after_fee(obj.amount))


class RejectionSerializer(ModelSerializer):
    """Rejected work; the reviewer's reason is the assignment's `review_comment`."""

    assignment = serializers.IntegerField(source="pk")
    project_name = serializers.CharField(source="project.name")
    amount = AmountField(source="price", help_text="The price the work would have paid.")
    currency = serializers.CharField(source="project.currency")
    rejected_at = serializers.DateTimeField(source="finished_at")

    class Meta:
        model = Assignment
        fields = ["assignment", "project", "project_name", "amount", "currency", "rejected_at"]
        read_only_fields = fields


class EarningsSerializer(serializers.Serializer):
    balance = AmountField(help_text="Available to pay out.")
    currency = serializers.CharField()
    pending_payouts = AmountField()
    paid_out = AmountField()
    hours = Hours(help_text="Your time on decided work on every project (see per_project).")
    effective_hourly_rate = AmountField(allow_null=True, help_text=EFFECTIVE_RATE)
    per_project = ProjectEarningsSerializer(many=True)
    weekly_payments = WeeklyPaymentSerializer(many=True, help_text=(
        "Hourly contracts: your decided time paid each week (Monday 00:00 UTC), newest "
        "first."))
    pending = TimeEntrySerializer(many=True, help_text=(
        "Hourly contracts: decided time the next weekly payment pays, after its week ends."))
    withheld = TimeEntrySerializer(many=True, help_text=(
        "Hourly time an operator withheld as fraud, with the reason; it is not paid."))
    bonuses = BonusSerializer(many=True)
    payouts = PayoutSerializer(many=True)
    rejected = RejectionSerializer(many=True, help_text=(
        "Rejected per-task work that paid nothing (rejected hourly time is paid); why is the "
        "assignment's `review_comment` (GET /api/v1/assignments/{id}/). You may appeal a "
        "rejection once; when a QA lead upholds the appeal or overturns the rejection, the "
        "work is paid."))
    entries = EarningEntrySerializer(many=True, help_text="The latest ledger lines; "
                                                          "`?format=csv` has them all.")


# Directory, invitations and applications ---------------------------------------------------------

class DirectoryQuerySerializer(serializers.Serializer):
    domain = serializers.SlugField(required=False)
    min_trust = serializers.DecimalField(max_digits=4, decimal_places=3, min_value=0,
                                         max_value=1, required=False)
    degree = serializers.ChoiceField(choices=Degree.choices, required=False)
    language = serializers.CharField(max_length=16, required=False)
    verified_credentials = WholeNumberField(min_value=0, required=False,
                                            help_text="At least this many.")
    available_hours = WholeNumberField(min_value=0, max_value=168, required=False,
                                       help_text="At least this many a week.")

    def validate_language(self, value):
        code = normalize_language(value)
        if code is None:
            raise serializers.ValidationError(f"Unknown language code: {value!r}.")
        return code


class DirectoryExpertiseSerializer(serializers.Serializer):
    slug = serializers.CharField(source="domain.slug")
    name = serializers.CharField(source="domain.name")
    level = serializers.CharField()
    trust = serializers.DecimalField(max_digits=5, decimal_places=4, coerce_to_string=True)


class DirectoryExpertSerializer(ModelSerializer):
    """An expert as customers see them: what they can do, never who they are."""

    id = serializers.SerializerMethodField(help_text="Pseudonymous id; invite with it.")
    degree = serializers.CharField(source="highest_degree")
    field = serializers.CharField(source="field_of_study")
    domains = DirectoryExpertiseSerializer(source="expertise", many=True)
    verified_credentials = serializers.IntegerField()

    class Meta:
        model = ExpertProfile
        fields = ["id", "degree", "field", "domains", "languages", "weekly_availability_hours",
                  "verified_credentials"]

    def get_id(self, obj) -> str:
        return pseudonyms.encode(obj.pk)


def expert_cards(user_ids) -> dict:
    """Directory cards of these experts by user id, for serializers that show applicants."""
    return {card.pk: card for card in discovery.cards(
        ExpertProfile.objects.filter(pk__in=set(user_ids)))}


class ProjectSummarySerializer(serializers.Serializer):
    """A project as experts see it before they work on it."""

    id = serializers.IntegerField()
    name = serializers.CharField()
    organization = serializers.CharField(source="organization.name")
    domain = serializers.CharField(source="domain.slug")
    domain_name = serializers.CharField(source="domain.name")
    visibility = serializers.CharField()
    min_degree = serializers.CharField()
    min_trust = serializers.DecimalField(max_digits=4, decimal_places=3, coerce_to_string=True)
    instructions_summary = serializers.SerializerMethodField()
    price_per_item = AmountField(help_text="What the customer pays per approved task.")
    expert_price = serializers.SerializerMethodField(
        help_text="What you receive per approved task, after the platform fee.")
    currency = serializers.CharField()
    quality_bonus = serializers.SerializerMethodField()

    def get_instructions_summary(self, obj) -> str:
        text = " ".join(obj.instructions.split())
        return text if len(text) <= 280 else text[:279].rsplit(" ", 1)[0] + "…"

    @extend_schema_field(AmountField(read_only=True))
    def get_expert_price(self, obj) -> str:
        return str(after_fee(obj.price_per_item))

    @extend_schema_field(QualityBonusSerializer(allow_null=True))
    def get_quality_bonus(self, obj):
        policy = getattr(obj, "quality_bonus_policy", None)
        return QualityBonusSerializer(policy).data if policy else None


class ListedProjectSerializer(ProjectSummarySerializer):
    """A listed project with its time per item and what that pays per hour; the listing
    passes every row's estimate in the context (``estimates``, from one query)."""

    access = serializers.SerializerMethodField(
        help_text="`allowed`: you are on the project; `invited`: accept the invitation; "
                  "`applied`: waiting for the customer; `open`: pull work or apply.")
    contract = serializers.ChoiceField(
        choices=Project.Contract.choices,
        help_text="`per_task`: paid per approved task; `hourly`: paid per hour of tracked "
                  "active time, weekly.")
    hourly_rate_after_fee = serializers.SerializerMethodField(
        help_text="Hourly contracts: what an hour of active time pays you after the platform "
                  "fee; null on per-task projects.")
    estimated_seconds = serializers.SerializerMethodField(
        help_text="About how long an item takes: the median active time of approved answers "
                  "once there are enough, the customer's estimate until then; null when "
                  "neither is known.")
    estimate_source = serializers.SerializerMethodField(
        help_text="`measured` (approved answers' median), `customer` (the customer's "
                  "estimate) or null.")
    implied_hourly_rate = serializers.SerializerMethodField(
        help_text="What an hour of this work pays you after the platform fee: the hourly rate "
                  "on hourly contracts, the price per task over the estimated time on per-task "
                  "ones; null while there is no estimate.")

    def get_access(self, obj) -> str:
        if obj.is_allowed:
            return "allowed"
        if obj.is_invited:
            return "invited"
        return "applied" if obj.has_applied else "open"

    def _estimate(self, obj) -> estimates.Estimate:
        found = self.context.get("estimates", {}).get(obj.pk)
        return found if found is not None else estimates.estimate_of(obj)

    @extend_schema_field(AmountField(read_only=True, allow_null=True))
    def get_hourly_rate_after_fee(self, obj) -> str | None:
        if obj.contract != Project.Contract.HOURLY:
            return None
        return str(after_fee(obj.hourly_rate))

    def get_estimated_seconds(self, obj) -> int | None:
        return self._estimate(obj).seconds

    @extend_schema_field(serializers.ChoiceField(
        choices=[estimates.MEASURED, estimates.CUSTOMER], allow_null=True))
    def get_estimate_source(self, obj) -> str | None:
        return self._estimate(obj).source

    @extend_schema_field(AmountField(read_only=True, allow_null=True))
    def get_implied_hourly_rate(self, obj) -> str | None:
        rate = estimates.implied_hourly_rate(obj, self._estimate(obj))
        return None if rate is None else str(rate)


class InvitationRequestSerializer(serializers.Serializer):
    expert = ExpertReferenceField(help_text="The directory's pseudonymous id, or a user id.")
    message = serializers.CharField(required=False, allow_blank=True, default="")


class ProjectInvitationSerializer(ModelSerializer):
    """An invitation as the customer sees it."""

    expert = PseudonymField()

    class Meta:
        model = ProjectInvitation
        fields = ["id", "project", "expert", "message", "status", "created_at", "responded_at"]


class MyInvitationSerializer(ModelSerializer):
    """An invitation as the invited expert sees it."""

    project = ProjectSummarySerializer()

    class Meta:
        model = ProjectInvitation
        fields = ["id", "project", "message", "status", "created_at", "responded_at"]


class ApplyRequestSerializer(serializers.Serializer):
    message = serializers.CharField(required=False, allow_blank=True, default="")


class ApplicationSerializer(ModelSerializer):
    """An application as the customer sees it: the applicant's anonymized card."""

    expert = PseudonymField()
    profile = serializers.SerializerMethodField()

    class Meta:
        model = Application
        fields = ["id", "project", "expert", "profile", "message", "status", "created_at",
                  "decided_at"]

    @extend_schema_field(DirectoryExpertSerializer)
    def get_profile(self, obj):
        """The view passes the applicants' cards, built in one query, as `cards`."""
        return DirectoryExpertSerializer(self.context["cards"][obj.expert_id]).data


class MyApplicationSerializer(ModelSerializer):
    class Meta:
        model = Application
        fields = ["id", "project", "message", "status", "created_at", "decided_at"]
