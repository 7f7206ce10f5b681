"""Shapes of projects, items and assignments on the wire.

Customers and experts see different serializers on purpose: the expert's assignment shape is
built from an allow-list (item id and data, the project's questions and instructions), so a
field added to Item later (such as a gold answer) cannot leak into an expert's response.
"""

from decimal import Decimal

from rest_framework import serializers

from accounts.models import Organization
from config.ids import IdField, ModelSerializer
from config.money import AmountField

from ..models import Assignment, Item, Project
from ..schema import PRESETS, model_fields
from ..serializers import DefinitionsField, DomainSlugField

UNIT = {"min_value": Decimal(0), "max_value": Decimal(1)}


class OrganizationField(IdField):
    """Only the caller's organizations exist here: another one is as unknown as a missing one,
    so that ids cannot be probed."""

    default_error_messages = {"does_not_exist": "Unknown organization."}
    queryset = Organization.objects.all()

    def get_queryset(self):
        return Organization.objects.visible_to(self.context["request"].user)


class ProjectSerializer(ModelSerializer):
    """A project as its customer reads and changes it; organization and preset are fixed at
    creation and the status moves only through the transition endpoints."""

    organization = serializers.PrimaryKeyRelatedField(read_only=True)
    domain = DomainSlugField(required=False)
    fields = DefinitionsField(required=False)
    questions = DefinitionsField(required=False)
    rubric = DefinitionsField(
        required=False,
        help_text="Criteria a QA lead scores reviewed answers on: "
                  '[{"name": "accuracy", "description": "...", "min": 1, "max": 5}]; '
                  "min and max default to 1 and 5. Empty: no rubric.")
    price_per_item = AmountField(min_value=0, max_digits=12, required=False,
                                 help_text="Paid per approved task, in `currency`; 0 on an "
                                           "hourly contract.")
    hourly_rate = AmountField(min_value=0, max_digits=12, required=False,
                              help_text="Hourly contracts: paid per hour of active time, in "
                                        "`currency`; the expert receives it less the platform "
                                        "fee. 0 on a per-task contract.")
    weekly_cap_hours = serializers.DecimalField(
        max_digits=5, decimal_places=2, required=False, min_value=Decimal("0.01"),
        max_value=Decimal(168),
        help_text="Hourly contracts: the most active hours one expert may log on the project "
                  "in a week (Monday 00:00 UTC to Monday); more than 0, at most 168.")
    estimated_seconds = serializers.IntegerField(
        min_value=1, required=False, allow_null=True,
        help_text="Your estimate of an item's working time, shown to experts until enough "
                  "approved work gives a measured one; null: no estimate.")

    class Meta:
        model = Project
        fields = ["id", "organization", "name", "preset", "domain", "instructions", "fields",
                  "questions", "rubric", "status", "overlap", "max_overlap", "gold_rate",
                  "review_rate", "min_degree", "min_trust", "assignment_ttl_s",
                  "auto_approve_after_s", "price_per_item", "currency", "visibility",
                  "require_qualification",
                  "agreement_threshold", "rating_spread_threshold", "contract", "hourly_rate",
                  "weekly_cap_hours", "estimated_seconds", "gold_first", "created_at",
                  "updated_at"]
        read_only_fields = ["id", "preset", "status", "gold_first", "created_at", "updated_at"]
        extra_kwargs = {
            "overlap": {"min_value": 1},
            "max_overlap": {"min_value": 1},
            "gold_rate": UNIT,
            "review_rate": UNIT,
            "min_trust": UNIT,
            "agreement_threshold": UNIT,
            "rating_spread_threshold": {"min_value": Decimal(0)},
            "assignment_ttl_s": {"min_value": 60},
        }

    def validate_currency(self, value: str) -> str:
        value = value.upper()
        if len(value) != 3 or not value.isascii() or not value.isalpha():
            raise serializers.ValidationError("Use a three-letter ISO 4217 code such as 'USD'.")
        return value


class ProjectCreateSerializer(ProjectSerializer):
    organization = OrganizationField()
    domain = DomainSlugField()
    preset = serializers.ChoiceField(choices=sorted(PRESETS), required=False,
                                     help_text="Fills `fields` and `questions`; given ones "
                                               "override it.")

    class Meta(ProjectSerializer.Meta):
        read_only_fields = ["id", "status", "gold_first", "created_at", "updated_at"]


class ItemSerializer(ModelSerializer):
    """An item as its customer sees it, gold answer included."""

    status = serializers.ChoiceField(choices=["open", "in_progress", "complete"],
                                     read_only=True)
    annotations = serializers.IntegerField(
        source="annotation_count", read_only=True,
        help_text="Submitted answers that were not rejected.")

    class Meta:
        model = Item
        fields = ["id", "external_id", "batch", "data", "is_gold", "gold", "priority",
                  "overlap", "status", "annotations", "created_at"]
        read_only_fields = fields


class ProgressSerializer(serializers.Serializer):
    items = serializers.IntegerField(help_text="Items to annotate (gold items excluded).")
    complete = serializers.IntegerField()
    in_progress = serializers.IntegerField()
    open = serializers.IntegerField()
    gold_items = serializers.IntegerField()
    annotations = serializers.IntegerField(
        help_text="Submitted answers on non-gold items, rejected ones included.")
    approved = serializers.IntegerField()
    rejected = serializers.IntegerField()
    assigned = serializers.IntegerField(help_text="Leases held right now.")


class AssignmentItemSerializer(ModelSerializer):
    class Meta:
        model = Item
        fields = ["id", "data"]
        read_only_fields = fields


class AssignmentSerializer(ModelSerializer):
    """What an expert sees of a lease: the item to answer, never whether it is gold."""

    project_name = serializers.CharField(source="project.name", read_only=True)
    item = AssignmentItemSerializer(read_only=True)
    questions = DefinitionsField(source="project.questions", read_only=True)
    instructions = serializers.CharField(source="project.instructions", read_only=True)
    answer = serializers.DictField(source="annotation.answer", read_only=True, allow_null=True,
                                   help_text="Your own answer, once submitted.")
    review_comment = serializers.SerializerMethodField(
        help_text="Why the work was rejected, in the reviewer's words; null otherwise.")
    contract = serializers.ChoiceField(
        source="project.contract", choices=Project.Contract.choices, read_only=True,
        help_text="How the project pays: per approved task, or per hour of active time.")
    active_s = serializers.IntegerField(
        read_only=True,
        help_text="Seconds of active time on this lease, counted from heartbeats: gaps "
                  "between them longer than the idle threshold do not count.")

    class Meta:
        model = Assignment
        fields = ["id", "project", "project_name", "item", "questions", "instructions",
                  "status", "leased_at", "expires_at", "submitted_at", "duration_s",
                  "skip_reason", "answer", "review_comment", "contract", "active_s"]
        read_only_fields = fields

    def to_representation(self, assignment) -> dict:
        """The item's data without the fields naming which model wrote each completion: an
        expert who knows the authors no longer compares the completions blind."""
        shape = super().to_representation(assignment)
        hidden = model_fields(assignment.project.questions)
        if hidden and isinstance(shape["item"].get("data"), dict):
            shape["item"]["data"] = {name: value for name, value in shape["item"]["data"].items()
                                     if name not in hidden}
        return shape

    def get_review_comment(self, assignment) -> str | None:
        # Only rejected work has a reason to show, so the lookup runs for those rows alone.
        if assignment.status != Assignment.Status.REJECTED:
            return None
        review = (assignment.annotation.reviews.filter(verdict="reject")
                  .order_by("-decided_at", "-id").first())
        return review.comment if review else None


class NextRequestSerializer(serializers.Serializer):
    project = IdField(
        queryset=Project.objects.select_related("domain"), required=False, allow_null=True,
        error_messages={"does_not_exist": "Unknown project."},
        help_text="Work from this project only; without it, from any project you may do.")


class SubmitSerializer(serializers.Serializer):
    answer = serializers.DictField(help_text="Question name to answer value.")
    duration_s = serializers.FloatField(min_value=0, required=False, allow_null=True,
                                        help_text="Seconds spent; defaults to the time since "
                                                  "the lease began.")


class SkipSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="",
                                   max_length=2000)


class HeartbeatSerializer(serializers.Serializer):
    active_s = serializers.IntegerField(help_text="The lease's active time now, in seconds.")
    counted_s = serializers.IntegerField(
        help_text="Seconds this heartbeat added: the time since your previous activity on any "
                  "lease, 0 after an idle gap or at the weekly cap.")
    week_logged_s = serializers.IntegerField(
        help_text="Your active seconds on the project in the lease's week (from Monday 00:00 "
                  "UTC).")
    cap_left_s = serializers.IntegerField(
        allow_null=True,
        help_text="Hourly contracts: seconds you may still log on the project that week; "
                  "null on per-task projects.")
    cap_reached = serializers.BooleanField(
        help_text="The weekly cap is reached: further time on the project counts next week.")
