"""Quality evidence: gold results, trust, qualification tests, rules and what they did,
reviews, agreement reports and machine judges' answers."""

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q

from accounts.models import Domain, ExpertOwnedQuerySet
from tasks.models import Annotation, InProjectQuerySet, Item, Project


class TrustScoreQuerySet(models.QuerySet):
    def means_on(self, project: Project | int) -> dict[int, float]:
        """Each expert's trust mean on the project, by expert id; experts without a record
        are left out (the crowd answer gives them the prior's mean)."""
        return dict(self.filter(project=project).values_list("expert_id", "mean"))


class TrustScore(models.Model):
    """Beta-binomial posterior of an expert's gold accuracy, per domain or per project."""

    expert = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                               related_name="trust_scores")
    domain = models.ForeignKey(Domain, null=True, blank=True, on_delete=models.CASCADE,
                               related_name="+")
    project = models.ForeignKey(Project, null=True, blank=True, on_delete=models.CASCADE,
                                related_name="trust_scores")
    alpha = models.FloatField()
    beta = models.FloatField()
    answers = models.PositiveIntegerField(default=0)
    mean = models.FloatField()
    lower = models.FloatField(help_text="5% quantile of the posterior.")
    updated_at = models.DateTimeField(auto_now=True)

    objects = TrustScoreQuerySet.as_manager()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(domain__isnull=False, project__isnull=True)
                | Q(domain__isnull=True, project__isnull=False),
                name="quality_trust_one_scope"),
            models.UniqueConstraint(fields=["expert", "domain"], condition=Q(project__isnull=True),
                                    name="quality_trust_domain_unique"),
            models.UniqueConstraint(fields=["expert", "project"], condition=Q(domain__isnull=True),
                                    name="quality_trust_project_unique"),
        ]

    def __str__(self) -> str:
        scope = f"domain {self.domain_id}" if self.domain_id else f"project {self.project_id}"
        return f"trust of {self.expert_id} in {scope}: {self.mean:.2f}"


class GoldResult(models.Model):
    """How one answer on a gold item scored; rules and reports read these."""

    annotation = models.OneToOneField(Annotation, on_delete=models.CASCADE,
                                      related_name="gold_result")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="gold_results")
    expert = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                               related_name="gold_results")
    score = models.FloatField()
    per_question = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["project", "expert", "created_at"],
                                name="quality_gold_project_expert")]

    def __str__(self) -> str:
        return f"gold result {self.score:.2f} for annotation {self.annotation_id}"


class QualificationTest(models.Model):
    """A domain's entrance test: gold items answered under a time limit."""

    domain = models.ForeignKey(Domain, on_delete=models.PROTECT,
                               related_name="qualification_tests")
    name = models.CharField(max_length=200)
    instructions = models.TextField(blank=True)
    fields = models.JSONField()
    questions = models.JSONField()
    items_per_attempt = models.PositiveSmallIntegerField(default=10)
    pass_mark = models.DecimalField(max_digits=4, decimal_places=3, default="0.800")
    time_limit_s = models.PositiveIntegerField(default=1800)
    retry_after_s = models.PositiveIntegerField(default=7 * 24 * 3600)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["domain__slug", "name"]
        constraints = [
            models.CheckConstraint(condition=Q(pass_mark__gte=0, pass_mark__lte=1),
                                   name="quality_test_pass_mark_range"),
        ]

    def __str__(self) -> str:
        return self.name


class QualificationItem(models.Model):
    test = models.ForeignKey(QualificationTest, on_delete=models.CASCADE, related_name="items")
    data = models.JSONField()
    gold = models.JSONField()

    def __str__(self) -> str:
        return f"item {self.pk} of test {self.test_id}"


class QualificationAttempt(models.Model):
    class Status(models.TextChoices):
        IN_PROGRESS = "in_progress", "In progress"
        PASSED = "passed", "Passed"
        FAILED = "failed", "Failed"
        EXPIRED = "expired", "Expired"

    test = models.ForeignKey(QualificationTest, on_delete=models.CASCADE,
                             related_name="attempts")
    expert = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                               related_name="qualification_attempts")
    items = models.ManyToManyField(QualificationItem, related_name="+")
    status = models.CharField(max_length=16, choices=Status.choices,
                              default=Status.IN_PROGRESS)
    started_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    submitted_at = models.DateTimeField(null=True, blank=True)
    answers = models.JSONField(default=dict, blank=True)
    score = models.DecimalField(max_digits=5, decimal_places=4, null=True, blank=True)

    objects = ExpertOwnedQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.UniqueConstraint(fields=["test", "expert"],
                                    condition=Q(status="in_progress"),
                                    name="quality_one_open_attempt"),
        ]

    def __str__(self) -> str:
        return f"attempt {self.pk} at {self.test} ({self.status})"


class QualityRule(models.Model):
    """"If <metric> over <window> <comparator> <value> then <action>", stored as data."""

    class Metric(models.TextChoices):
        GOLD_ACCURACY = "gold_accuracy", "Gold accuracy (mean)"
        GOLD_ACCURACY_LOWER = "gold_accuracy_lower", "Gold accuracy (5% lower bound)"
        MEDIAN_SECONDS = "median_seconds", "Median seconds per task"
        AGREEMENT = "agreement_with_consensus", "Agreement with consensus"
        SKIP_RATE = "skip_rate", "Skip rate"
        REJECTION_RATE = "rejection_rate", "Rejection rate"

    class Window(models.TextChoices):
        ANSWERS = "answers", "Last N answers"
        DAYS = "days", "Last N days"

    class Comparator(models.TextChoices):
        LT = "lt", "<"
        LTE = "lte", "<="
        GT = "gt", ">"
        GTE = "gte", ">="

    class Action(models.TextChoices):
        FLAG = "flag", "Flag"
        REQUIRE_REVIEW = "require_review", "Require review of all work"
        REMOVE = "remove", "Remove from the project"
        SUSPEND = "suspend_domain", "Suspend in the domain"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="quality_rules")
    name = models.CharField(max_length=200, blank=True)
    metric = models.CharField(max_length=32, choices=Metric.choices)
    window = models.CharField(max_length=16, choices=Window.choices, default=Window.ANSWERS)
    window_size = models.PositiveIntegerField(default=20)
    min_evidence = models.PositiveIntegerField(
        default=5, help_text="Observations needed in the window before the rule may act.")
    comparator = models.CharField(max_length=4, choices=Comparator.choices)
    value = models.DecimalField(max_digits=10, decimal_places=4)
    action = models.CharField(max_length=16, choices=Action.choices)
    suspend_days = models.PositiveIntegerField(default=7)
    active = models.BooleanField(default=True)
    preset = models.CharField(
        max_length=32, blank=True,
        help_text="Set when a project setting owns the rule (\"calibration\"), which "
                  "changes it with the setting.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = InProjectQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(window_size__gte=1),
                                   name="quality_rule_window_positive"),
        ]

    def __str__(self) -> str:
        return self.name or f"{self.metric} {self.comparator} {self.value} -> {self.action}"


class QualityActionQuerySet(InProjectQuerySet, ExpertOwnedQuerySet):
    """The customer's side reads a project's actions (``visible_to``); the expert reads the
    actions taken on them (``of_expert``)."""


class QualityAction(models.Model):
    """What a rule (or a QA lead) did to an expert, why, and whether it was reversed."""

    rule = models.ForeignKey(QualityRule, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="actions")
    project = models.ForeignKey(Project, on_delete=models.CASCADE,
                                related_name="quality_actions")
    expert = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                               related_name="quality_actions")
    action = models.CharField(max_length=16, choices=QualityRule.Action.choices)
    reason = models.TextField()
    metric_value = models.FloatField(null=True, blank=True)
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    reversed_at = models.DateTimeField(null=True, blank=True)
    reversed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+")
    reversal_note = models.TextField(blank=True)

    objects = QualityActionQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["rule", "expert"],
                                    condition=Q(reversed_at__isnull=True),
                                    name="quality_action_one_live_per_rule"),
        ]

    def __str__(self) -> str:
        return f"{self.action} of {self.expert_id} on project {self.project_id}"

    @property
    def active(self) -> bool:
        return self.reversed_at is None


class Review(models.Model):
    """One look at an annotation by a QA lead; an annotation's reviews are its history."""

    class Reason(models.TextChoices):
        RULE = "rule", "Required by a quality rule"
        DISPUTED = "disputed", "Disputed item"
        SAMPLE = "sample", "Random sample"
        MANUAL = "manual", "Requested"

    class Verdict(models.TextChoices):
        ACCEPT = "accept", "Accept"
        REJECT = "reject", "Reject"
        FIX = "fix", "Fix"

    # Queue order: what a rule forced first, then disputes, then the sample.
    PRIORITY = {Reason.RULE: 30, Reason.DISPUTED: 20, Reason.MANUAL: 15, Reason.SAMPLE: 10}
    # How long after a rejection a QA lead may still overturn it.
    OVERTURN_WINDOW = timedelta(days=30)

    annotation = models.ForeignKey(Annotation, on_delete=models.CASCADE,
                                   related_name="reviews")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="reviews")
    reason = models.CharField(max_length=16, choices=Reason.choices)
    priority = models.PositiveSmallIntegerField(default=0)
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="+")
    verdict = models.CharField(max_length=8, choices=Verdict.choices, blank=True)
    answer = models.JSONField(null=True, blank=True)
    rubric = models.JSONField(
        default=dict, blank=True,
        help_text="The reviewer's scores on the project's rubric, {criterion: score}.")
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-priority", "created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["annotation"], condition=Q(verdict=""),
                                    name="quality_one_pending_review"),
        ]
        indexes = [models.Index(fields=["project", "-priority", "created_at"],
                                condition=Q(verdict=""), name="quality_review_queue")]

    def __str__(self) -> str:
        return f"review of annotation {self.annotation_id}: {self.verdict or 'pending'}"


class AppealQuerySet(InProjectQuerySet, ExpertOwnedQuerySet):
    """The customer's side reads a project's appeals (``visible_to``); the expert reads their
    own (``of_expert``)."""


class Appeal(models.Model):
    """An expert's one request to look again at a rejection or at a quality action.

    It goes to a QA lead other than the one who decided first where the organization has
    one; a decision is recorded with its reason for both sides, and an appeal not decided by
    ``due_at`` is decided in the expert's favour.
    """

    class Subject(models.TextChoices):
        REJECTION = "rejection", "A rejection"
        QUALITY_ACTION = "quality_action", "A quality action"

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for a decision"
        UPHELD = "upheld", "Upheld"
        DENIED = "denied", "Denied"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="appeals")
    expert = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                               related_name="appeals")
    subject = models.CharField(max_length=16, choices=Subject.choices)
    annotation = models.ForeignKey(Annotation, null=True, blank=True, on_delete=models.CASCADE,
                                   related_name="appeals")
    quality_action = models.ForeignKey(QualityAction, null=True, blank=True,
                                       on_delete=models.CASCADE, related_name="appeals")
    first_decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+", help_text="The reviewer who rejected; empty when a rule decided.")
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="assigned_appeals",
        help_text="The QA lead asked to decide: another than the first where there is one.")
    reason = models.TextField(help_text="The expert's case, in their words.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    due_at = models.DateTimeField(
        help_text="Undecided by then, the appeal is upheld automatically.")
    decision_reason = models.TextField(blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    automatic = models.BooleanField(
        default=False, help_text="Decided by the deadline, not by a person.")
    details = models.JSONField(default=dict, blank=True,
                               help_text="What the decision restored or paid.")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = AppealQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(subject="rejection", annotation__isnull=False,
                            quality_action__isnull=True)
                | Q(subject="quality_action", quality_action__isnull=False,
                    annotation__isnull=True),
                name="quality_appeal_subject_matches"),
            # Once: one appeal per rejected annotation and per quality action, ever.
            models.UniqueConstraint(fields=["annotation"],
                                    condition=Q(annotation__isnull=False),
                                    name="quality_appeal_once_per_annotation"),
            models.UniqueConstraint(fields=["quality_action"],
                                    condition=Q(quality_action__isnull=False),
                                    name="quality_appeal_once_per_action"),
            models.CheckConstraint(
                condition=Q(status="pending", decided_at__isnull=True)
                | Q(status__in=["upheld", "denied"], decided_at__isnull=False),
                name="quality_appeal_decided_when_final"),
        ]
        indexes = [models.Index(fields=["due_at"], condition=Q(status="pending"),
                                name="quality_appeal_due")]

    def __str__(self) -> str:
        return f"appeal {self.pk} of {self.expert_id} on project {self.project_id} ({self.status})"


class AgreementReport(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    project = models.ForeignKey(Project, on_delete=models.CASCADE,
                                related_name="agreement_reports")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True,
                                     on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = InProjectQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"agreement report {self.pk} of project {self.project_id} ({self.status})"


class JudgeAnnotation(models.Model):
    """A model's or LLM judge's answer: compared with humans, never counted as one."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE,
                                related_name="judge_annotations")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="judge_annotations")
    judge = models.CharField(max_length=100)
    answer = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["item", "judge"], name="quality_judge_item_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.judge} on item {self.item_id}"

