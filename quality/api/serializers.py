"""Shapes of the quality API.

What experts receive is built from allow-lists: an attempt lists its items' ids and data and
the test's questions, never the gold answers; an expert's quality actions show the finding
and the reversal, never another expert. QA views name experts by the project's pseudonym
(`tasks.export.expert_pseudonym`); operators also get the user id.
"""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from config.ids import ModelSerializer
from tasks.export import expert_pseudonym
from tasks.serializers import DefinitionsField, DomainSlugField

from ..metrics import COMPARATOR_WORDS, METRIC_WORDS
from ..models import (
    QualificationAttempt,
    QualificationItem,
    QualificationTest,
    QualityAction,
    QualityRule,
    Review,
)
from ..qualifications import retry_at

UNIT = {"min_value": 0, "max_value": 1}


@extend_schema_field({"type": "integer", "nullable": True,
                      "description": "The expert's user id; operators only, null otherwise."})
class ExpertIdField(serializers.Field):
    """The expert's user id for operators; null for the customer's team, who see the
    pseudonym only."""

    def __init__(self, path: str = "expert_id", **kwargs):
        self.path = path.split(".")
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, obj):
        request = self.context.get("request")
        if request is None or not request.user.is_staff:
            return None
        for name in self.path:
            obj = getattr(obj, name)
        return obj


# Qualification tests.

class AttemptSummarySerializer(ModelSerializer):
    class Meta:
        model = QualificationAttempt
        fields = ["id", "status", "score", "started_at", "expires_at", "submitted_at"]
        read_only_fields = fields


class QualificationTestSerializer(ModelSerializer):
    """A test as experts browse it; `last_attempt` and `retry_at` are the caller's own."""

    domain = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    fields = DefinitionsField(read_only=True)
    questions = DefinitionsField(read_only=True)
    items = serializers.IntegerField(source="item_count", read_only=True,
                                     help_text="Items in the test's pool.")
    last_attempt = serializers.SerializerMethodField()
    retry_at = serializers.SerializerMethodField()

    class Meta:
        model = QualificationTest
        fields = ["id", "domain", "name", "instructions", "fields", "questions",
                  "items_per_attempt", "pass_mark", "time_limit_s", "retry_after_s", "active",
                  "items", "last_attempt", "retry_at", "created_at"]
        read_only_fields = fields

    @extend_schema_field(AttemptSummarySerializer(allow_null=True))
    def get_last_attempt(self, test) -> dict | None:
        last = self.context.get("last_attempts", {}).get(test.pk)
        return AttemptSummarySerializer(last).data if last else None

    @extend_schema_field(serializers.DateTimeField(
        allow_null=True, help_text="When you may start the test again; null when you may "
                                   "now (or never need to: you passed)."))
    def get_retry_at(self, test):
        moment = retry_at(test, self.context.get("last_attempts", {}).get(test.pk))
        return serializers.DateTimeField().to_representation(moment) if moment else None


class QualificationItemInputSerializer(serializers.Serializer):
    data = serializers.DictField()
    gold = serializers.DictField(help_text="The reference answer: question name to value.")


class QualificationTestCreateSerializer(ModelSerializer):
    """Operators write a test with its items in one request."""

    domain = DomainSlugField()
    fields = DefinitionsField()
    questions = DefinitionsField()
    items = QualificationItemInputSerializer(many=True, allow_empty=False)

    class Meta:
        model = QualificationTest
        fields = ["domain", "name", "instructions", "fields", "questions", "items",
                  "items_per_attempt", "pass_mark", "time_limit_s", "retry_after_s", "active"]
        extra_kwargs = {"pass_mark": UNIT, "items_per_attempt": {"min_value": 1},
                        "time_limit_s": {"min_value": 60}}


class AttemptItemSerializer(ModelSerializer):
    class Meta:
        model = QualificationItem
        fields = ["id", "data"]
        read_only_fields = fields


class AttemptSerializer(ModelSerializer):
    """An attempt as its expert sees it: the items to answer, never their gold answers."""

    test_name = serializers.CharField(source="test.name", read_only=True)
    domain = serializers.SlugRelatedField(source="test.domain", slug_field="slug",
                                          read_only=True)
    instructions = serializers.CharField(source="test.instructions", read_only=True)
    questions = DefinitionsField(source="test.questions", read_only=True)
    pass_mark = serializers.DecimalField(source="test.pass_mark", max_digits=4,
                                         decimal_places=3, read_only=True)
    items = AttemptItemSerializer(many=True, read_only=True)

    class Meta:
        model = QualificationAttempt
        fields = ["id", "test", "test_name", "domain", "status", "started_at", "expires_at",
                  "submitted_at", "score", "pass_mark", "instructions", "questions", "items"]
        read_only_fields = fields


class AttemptSubmitSerializer(serializers.Serializer):
    answers = serializers.DictField(
        child=serializers.DictField(),
        help_text="Item id to answer (question name to value), one for every item.")


# Rules and what they did.

class RuleSerializer(ModelSerializer):
    description = serializers.SerializerMethodField()

    class Meta:
        model = QualityRule
        fields = ["id", "project", "name", "metric", "window", "window_size", "min_evidence",
                  "comparator", "value", "action", "suspend_days", "active", "description",
                  "created_at"]
        read_only_fields = ["id", "project", "description", "created_at"]
        extra_kwargs = {"window_size": {"min_value": 1}, "suspend_days": {"min_value": 1},
                        "value": {"min_value": 0}}

    def get_description(self, rule) -> str:
        window = (f"the last {rule.window_size} days" if rule.window == QualityRule.Window.DAYS
                  else f"the last {rule.window_size} answers")
        return (f"If {METRIC_WORDS[rule.metric].lower()} over {window} "
                f"{COMPARATOR_WORDS[rule.comparator]} {rule.value.normalize():f} "
                f"(with at least {rule.min_evidence} answers), then "
                f"{rule.get_action_display().lower()}.")


class QualityActionSerializer(ModelSerializer):
    """An action as the customer's QA team sees it."""

    expert = serializers.SerializerMethodField()
    expert_id = ExpertIdField()
    active = serializers.BooleanField(read_only=True)
    reversal_effect = serializers.SerializerMethodField()

    class Meta:
        model = QualityAction
        fields = ["id", "project", "rule", "expert", "expert_id", "action", "reason",
                  "metric_value", "active", "created_at", "reversed_at", "reversal_note",
                  "reversal_effect"]
        read_only_fields = fields

    def get_expert(self, action) -> str:
        return expert_pseudonym(action.project_id, action.expert_id)

    def get_reversal_effect(self, action) -> str:
        return action.details.get("reversal", "")


class MyQualityActionSerializer(QualityActionSerializer):
    """An action as the expert it concerns sees it."""

    project_name = serializers.CharField(source="project.name", read_only=True)

    class Meta(QualityActionSerializer.Meta):
        fields = ["id", "project", "project_name", "action", "reason", "active", "created_at",
                  "reversed_at", "reversal_note", "reversal_effect"]
        read_only_fields = fields


class ActionBriefSerializer(ModelSerializer):
    class Meta:
        model = QualityAction
        fields = ["id", "action", "reason", "created_at"]
        read_only_fields = fields


class ReverseSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, default="",
                                 max_length=2000, help_text="Why the action was reversed.")


# Reviews.

class ReviewSerializer(ModelSerializer):
    verdict = serializers.ChoiceField(choices=Review.Verdict.choices, allow_blank=True,
                                      read_only=True,
                                      help_text="Empty while the review waits for a decision.")
    reviewer = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True,
        help_text="Null while the review waits, and when a rule closed it.")

    class Meta:
        model = Review
        fields = ["id", "annotation", "reason", "priority", "verdict", "reviewer", "answer",
                  "rubric", "comment", "created_at", "decided_at"]
        read_only_fields = fields


class OtherAnswerSerializer(serializers.Serializer):
    expert = serializers.CharField()
    answer = serializers.DictField()
    status = serializers.CharField()


class QueueEntrySerializer(ModelSerializer):
    """One review waiting, with what the reviewer needs to decide it."""

    annotation = serializers.IntegerField(source="annotation_id", read_only=True)
    answer = serializers.DictField(source="annotation.answer", read_only=True)
    submitted_at = serializers.DateTimeField(source="annotation.assignment.submitted_at",
                                             read_only=True)
    duration_s = serializers.FloatField(source="annotation.assignment.duration_s",
                                        read_only=True, allow_null=True)
    item = serializers.SerializerMethodField()
    expert = serializers.SerializerMethodField()
    expert_id = ExpertIdField("annotation.expert_id")
    gold = serializers.SerializerMethodField()
    other_answers = serializers.SerializerMethodField()

    class Meta:
        model = Review
        fields = ["id", "annotation", "reason", "priority", "created_at", "answer",
                  "submitted_at", "duration_s", "item", "expert", "expert_id", "gold",
                  "other_answers"]
        read_only_fields = fields

    @extend_schema_field({"type": "object", "properties": {
        "id": {"type": "integer"}, "external_id": {"type": "string"},
        "data": {"type": "object", "additionalProperties": {}},
        "is_gold": {"type": "boolean"}}})
    def get_item(self, review) -> dict:
        item = review.annotation.item
        return {"id": item.pk, "external_id": item.external_id, "data": item.data,
                "is_gold": item.is_gold}

    def get_expert(self, review) -> str:
        return expert_pseudonym(review.project_id, review.annotation.expert_id)

    @extend_schema_field({"type": "object", "nullable": True, "additionalProperties": {},
                          "description": "The gold answer, when the item is gold."})
    def get_gold(self, review):
        return review.annotation.item.gold if review.annotation.item.is_gold else None

    @extend_schema_field(OtherAnswerSerializer(many=True))
    def get_other_answers(self, review) -> list:
        annotation = review.annotation
        return [{"expert": expert_pseudonym(review.project_id, other.expert_id),
                 "answer": other.effective_answer, "status": other.assignment.status}
                for other in annotation.item.annotations.all() if other.pk != annotation.pk]


class ReviewRequestSerializer(serializers.Serializer):
    verdict = serializers.ChoiceField(choices=Review.Verdict.choices)
    answer = serializers.DictField(required=False, allow_null=True,
                                   help_text="The corrected answer; required to fix.")
    comment = serializers.CharField(required=False, allow_blank=True, default="",
                                    max_length=5000,
                                    help_text="Required to reject: the expert reads it.")
    rubric = serializers.DictField(
        required=False, default=dict,
        help_text="Scores on the project's rubric, {criterion: whole number from its min to "
                  "its max}; some criteria or all, with any verdict.")


class OverturnSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, default="",
                                 max_length=2000)


# The project's experts.

class ExpertStatsSerializer(serializers.Serializer):
    expert = serializers.CharField(help_text="The expert's pseudonym on this project.")
    expert_id = serializers.IntegerField(allow_null=True,
                                         help_text="The user id; operators only.")
    annotations = serializers.IntegerField(help_text="Answers given, rejected included.")
    gold_answered = serializers.IntegerField()
    gold_accuracy = serializers.FloatField(allow_null=True,
                                           help_text="Mean gold score; null without gold.")
    gold_accuracy_lower = serializers.FloatField(
        help_text="5% lower bound of the Beta posterior of gold accuracy (prior Beta(2, 2)).")
    agreement_with_consensus = serializers.FloatField(
        allow_null=True, help_text="Mean agreement of the expert's answers with the other "
                                   "experts' on the same items (the others' majority, 1/t "
                                   "for a t-way tie; 1 - distance / range on scales), the "
                                   "figure the agreement report gives.")
    median_seconds = serializers.FloatField(allow_null=True)
    skip_rate = serializers.FloatField(allow_null=True)
    access = serializers.ChoiceField(choices=["allowed", "removed"], allow_null=True)
    review_all = serializers.BooleanField()
    flags = ActionBriefSerializer(many=True, help_text="Quality actions in force.")
    spammer_score = serializers.FloatField(
        allow_null=True, help_text="Raykar & Yu's spammer score from the latest report's "
                                   "Dawid-Skene fit: 0 when answers do not depend on the "
                                   "item, 1 when they determine it; null without a fit.")
    dawid_skene = serializers.DictField(
        help_text="Per label question of the latest report: labels, confusion (true class "
                  "by given answer), accuracy, spammer_score and answers.")
    report = serializers.IntegerField(
        allow_null=True, help_text="The agreement report the spammer score and confusion "
                                   "matrices come from; null before the first one.")
