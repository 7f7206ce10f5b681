"""Projects, their items and the leases experts hold on them.

The slot invariant lives here: ``Item.filled`` counts live leases plus submitted annotations
that were not rejected, a CHECK constraint keeps it within ``Item.overlap``, and every change
to it happens under the item's row lock. Routing reads the counter instead of counting
assignments, which is what keeps `next` fast on large projects.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from accounts.models import Degree, Domain, Membership, Organization


class ProjectQuerySet(models.QuerySet):
    def visible_to(self, user) -> "ProjectQuerySet":
        """Operators see every project; customers those of the organizations they belong
        to. Experts see projects through the marketplace listing and their assignments,
        never through this."""
        if not user.is_authenticated:
            return self.none()
        if user.is_staff:
            return self
        return self.filter(organization__memberships__user=user.pk)


class InProjectQuerySet(models.QuerySet):
    """Rows of a model with a ``project`` (batches, annotations, webhooks, rules, reports,
    ...), seen by whoever sees the project: its organization's members and operators."""

    def visible_to(self, user) -> "InProjectQuerySet":
        if not user.is_authenticated:
            return self.none()
        if user.is_staff:
            return self
        return self.filter(project__organization__memberships__user=user.pk)


class Project(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        ACTIVE = "active", "Active"
        PAUSED = "paused", "Paused"
        COMPLETED = "completed", "Completed"
        ARCHIVED = "archived", "Archived"

    class Visibility(models.TextChoices):
        PUBLIC = "public", "Public"
        PRIVATE = "private", "Private (invited experts only)"

    class Contract(models.TextChoices):
        PER_TASK = "per_task", "Per task"
        HOURLY = "hourly", "Hourly"

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT,
                                     related_name="projects")
    name = models.CharField(max_length=200)
    preset = models.CharField(max_length=32, blank=True)
    domain = models.ForeignKey(Domain, on_delete=models.PROTECT, related_name="projects")
    instructions = models.TextField(blank=True)
    fields = models.JSONField()
    questions = models.JSONField()
    rubric = models.JSONField(
        default=list, blank=True,
        help_text="Criteria a QA lead scores a reviewed answer on (tasks.rubric).")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    overlap = models.PositiveSmallIntegerField(default=1)
    max_overlap = models.PositiveSmallIntegerField(default=1)
    gold_rate = models.DecimalField(max_digits=4, decimal_places=3, default=0)
    review_rate = models.DecimalField(max_digits=4, decimal_places=3, default=0)
    min_degree = models.CharField(max_length=16, choices=Degree.choices, blank=True)
    min_trust = models.DecimalField(max_digits=4, decimal_places=3, default=0)
    require_qualification = models.BooleanField(default=True)
    visibility = models.CharField(max_length=16, choices=Visibility.choices,
                                  default=Visibility.PUBLIC)
    assignment_ttl_s = models.PositiveIntegerField(default=3600)
    auto_approve_after_s = models.PositiveIntegerField(default=259200)
    price_per_item = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    currency = models.CharField(max_length=3, default="USD")
    contract = models.CharField(
        max_length=16, choices=Contract.choices, default=Contract.PER_TASK,
        help_text="Per task: price_per_item per approved answer. Hourly: hourly_rate per hour "
                  "of tracked active time, paid weekly.")
    hourly_rate = models.DecimalField(
        max_digits=12, decimal_places=2, default=0,
        help_text="Hourly contracts: what the customer pays per hour of active time; the "
                  "expert receives it less the platform fee.")
    weekly_cap_hours = models.DecimalField(
        max_digits=5, decimal_places=2, default=40,
        help_text="Hourly contracts: the most active hours one expert may log on the project "
                  "in a week (Monday 00:00 UTC to Monday).")
    estimated_seconds = models.PositiveIntegerField(
        null=True, blank=True,
        help_text="The customer's estimate of an item's working time, shown to experts until "
                  "approved work gives a measured one.")
    gold_first = models.PositiveSmallIntegerField(
        default=0, help_text="Gold items a new expert answers first (calibration).")
    agreement_threshold = models.DecimalField(
        max_digits=4, decimal_places=3, default="0.700",
        help_text="Label kinds: below this trust-weighted share for the leading answer an "
                  "item's overlap is raised (dynamic overlap).")
    rating_spread_threshold = models.DecimalField(
        max_digits=6, decimal_places=2, default="1.00",
        help_text="Ratings: above this spread (max - min) an item's overlap is raised.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ProjectQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(overlap__gte=1), name="tasks_project_overlap_pos"),
            models.CheckConstraint(condition=Q(max_overlap__gte=F("overlap")),
                                   name="tasks_project_max_overlap_ge_overlap"),
            models.CheckConstraint(condition=Q(gold_rate__gte=0, gold_rate__lte=1,
                                               review_rate__gte=0, review_rate__lte=1,
                                               min_trust__gte=0, min_trust__lte=1),
                                   name="tasks_project_rates_in_unit_range"),
            models.CheckConstraint(condition=Q(price_per_item__gte=0),
                                   name="tasks_project_price_non_negative"),
            models.CheckConstraint(condition=Q(assignment_ttl_s__gte=60),
                                   name="tasks_project_ttl_at_least_a_minute"),
            models.CheckConstraint(
                condition=Q(contract="per_task", hourly_rate=0)
                | Q(contract="hourly", price_per_item=0, hourly_rate__gte=0),
                name="tasks_project_one_price_per_contract"),
            models.CheckConstraint(condition=Q(weekly_cap_hours__gt=0,
                                               weekly_cap_hours__lte=168),
                                   name="tasks_project_weekly_cap_within_a_week"),
        ]

    def __str__(self) -> str:
        return self.name

    def question(self, name: str) -> dict | None:
        return next((q for q in self.questions if q["name"] == name), None)


class ProjectExpert(models.Model):
    """An expert's standing on one project: let in (invitation, accepted application) or
    taken off it by a quality rule. Private projects route only to allowed experts; removed
    experts get nothing from the project, public or private."""

    class Access(models.TextChoices):
        ALLOWED = "allowed", "Allowed"
        REMOVED = "removed", "Removed"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="roster")
    expert = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                               related_name="project_roster")
    access = models.CharField(max_length=16, choices=Access.choices, default=Access.ALLOWED)
    review_all = models.BooleanField(
        default=False, help_text="Every annotation of this expert goes to review.")
    reason = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "expert"], name="tasks_roster_unique"),
        ]

    def __str__(self) -> str:
        return f"expert {self.expert_id} on project {self.project_id}: {self.access}"


class Batch(models.Model):
    """One upload. Small ones are ingested in the request; large ones by a background job."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        PROCESSING = "processing", "Processing"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="batches")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True,
                                   on_delete=models.SET_NULL, related_name="+")
    idempotency_key = models.CharField(max_length=200, blank=True)
    filename = models.CharField(max_length=255, blank=True)
    file_format = models.CharField(max_length=8)
    upload_path = models.CharField(max_length=500, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    rows = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    existing = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = InProjectQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "idempotency_key"],
                                    condition=~Q(idempotency_key=""),
                                    name="tasks_batch_idempotency_key_unique"),
        ]

    def __str__(self) -> str:
        return f"batch {self.pk} of project {self.project_id} ({self.status})"


class ItemQuerySet(models.QuerySet):
    def visible_to(self, user) -> "ItemQuerySet":
        """Items a user may see and discuss: every item of the projects of the organizations
        they belong to (QA leads included), every item for operators, and for an expert the
        items they hold or held a lease on."""
        if not user.is_authenticated:
            return self.none()
        if user.is_staff:
            return self
        member = Membership.objects.filter(organization=models.OuterRef("project__organization"),
                                           user=user.pk)
        leased = Assignment.objects.filter(item=models.OuterRef("pk"), expert=user.pk)
        return self.filter(models.Exists(member) | models.Exists(leased))


class Item(models.Model):
    # Batch ingest writes items by the hundred thousand, so every per-row index and key check
    # counts: lookups by project use the (project, external_id) index, and the batch is
    # provenance whose key the database need not check (batches go with their project).
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="items",
                                db_index=False)
    batch = models.ForeignKey(Batch, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="items", db_constraint=False)
    external_id = models.CharField(max_length=200)
    data = models.JSONField()
    gold = models.JSONField(null=True, blank=True)
    is_gold = models.BooleanField(default=False)
    priority = models.SmallIntegerField(default=0)
    overlap = models.PositiveSmallIntegerField()
    filled = models.PositiveSmallIntegerField(default=0)
    annotated = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ItemQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "external_id"],
                                    name="tasks_item_external_id_unique"),
            models.CheckConstraint(condition=Q(filled__lte=F("overlap")),
                                   name="tasks_item_filled_le_overlap"),
            models.CheckConstraint(condition=Q(annotated__lte=F("filled")),
                                   name="tasks_item_annotated_le_filled"),
            models.CheckConstraint(condition=Q(is_gold=False) | Q(gold__isnull=False),
                                   name="tasks_item_gold_has_answer"),
        ]
        indexes = [
            # The routing pick: open items of a project, best first.
            models.Index(F("project"), F("priority").desc(), F("filled").desc(), F("id"),
                         condition=Q(is_gold=False, filled__lt=F("overlap")),
                         name="tasks_item_routing"),
            models.Index(fields=["project", "is_gold"], name="tasks_item_project_gold"),
        ]

    def __str__(self) -> str:
        return f"{self.project_id}/{self.external_id}"

    @property
    def status(self) -> str:
        if self.annotated >= self.overlap and not self.is_gold:
            return "complete"
        return "in_progress" if self.filled else "open"

    @staticmethod
    def status_condition(status: str) -> Q:
        """`status` as a database condition, to filter many items without loading them."""
        complete = Q(is_gold=False, annotated__gte=F("overlap"))
        return {"complete": complete, "in_progress": Q(filled__gt=0) & ~complete,
                "open": Q(filled=0)}[status]


class AssignmentQuerySet(models.QuerySet):
    def held_by(self, expert) -> "AssignmentQuerySet":
        """An expert's own assignments; another expert's answer 404 on every surface."""
        if not expert.is_authenticated:
            return self.none()
        return self.filter(expert=expert.pk)


class Assignment(models.Model):
    """A lease of one item to one expert. `assigned` holds a slot until it expires."""

    class Status(models.TextChoices):
        ASSIGNED = "assigned", "Assigned"
        SUBMITTED = "submitted", "Submitted"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        SKIPPED = "skipped", "Skipped"
        EXPIRED = "expired", "Expired"

    # Statuses whose annotation still counts toward the item's overlap.
    COUNTED = (Status.SUBMITTED, Status.APPROVED)

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="assignments")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="assignments")
    expert = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                               related_name="assignments")
    is_gold = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ASSIGNED)
    leased_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    submitted_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_s = models.FloatField(null=True, blank=True)
    skip_reason = models.TextField(blank=True)
    price = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    # Active time from the expert's heartbeats (tasks.activity); routing's raw INSERT leaves
    # it to the database default.
    active_s = models.PositiveIntegerField(
        db_default=0, help_text="Seconds of tracked activity: gaps between heartbeats up to "
                                "the idle threshold.")
    last_active_at = models.DateTimeField(null=True, blank=True)

    objects = AssignmentQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["item", "expert"],
                                    name="tasks_assignment_one_per_expert_item"),
        ]
        indexes = [
            models.Index(fields=["expert", "status"], name="tasks_asg_expert_status"),
            models.Index(fields=["project", "status"], name="tasks_asg_project_status"),
            models.Index(fields=["expires_at"], condition=Q(status="assigned"),
                         name="tasks_asg_live_expiry"),
            # The expert's latest activity, read by every heartbeat and counted submission.
            models.Index(fields=["expert", "last_active_at"],
                         condition=Q(last_active_at__isnull=False),
                         name="tasks_asg_expert_active"),
            # The expert's week on a project, read against the weekly cap.
            models.Index(fields=["expert", "project", "leased_at"],
                         name="tasks_asg_expert_week"),
        ]

    def __str__(self) -> str:
        return f"assignment {self.pk} ({self.status})"


class Annotation(models.Model):
    """What an expert submitted for an assignment; reviews and money refer to it."""

    assignment = models.OneToOneField(Assignment, on_delete=models.CASCADE,
                                      related_name="annotation")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="annotations")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="annotations")
    expert = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                               related_name="annotations")
    answer = models.JSONField()
    final_answer = models.JSONField(
        null=True, blank=True, help_text="A reviewer's fix; exports prefer it to `answer`.")
    held_for_review = models.BooleanField(
        db_default=False, help_text="Waiting for a review: automatic approval leaves it alone.")
    created_at = models.DateTimeField(auto_now_add=True)

    # The customer's side: an expert reads their own answers through their assignments.
    objects = InProjectQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["project", "id"], name="tasks_annotation_project")]

    def __str__(self) -> str:
        return f"annotation {self.pk} by expert {self.expert_id}"

    @property
    def effective_answer(self) -> dict:
        return self.final_answer if self.final_answer is not None else self.answer


class Comment(models.Model):
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                               related_name="+")
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"comment {self.pk} on item {self.item_id}"


class Webhook(models.Model):
    class Event(models.TextChoices):
        BATCH_INGESTED = "batch.ingested", "Batch ingested"
        ITEM_COMPLETED = "item.completed", "Item completed"
        PROJECT_COMPLETED = "project.completed", "Project completed"
        APPEAL_FILED = "appeal.filed", "Appeal filed"
        APPEAL_DECIDED = "appeal.decided", "Appeal decided"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="webhooks")
    url = models.URLField(max_length=500)
    secret = models.CharField(max_length=128)
    events = models.JSONField(default=list)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = InProjectQuerySet.as_manager()

    def __str__(self) -> str:
        return f"{self.url} ({', '.join(self.events)})"


class WebhookDelivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=32, choices=Webhook.Event.choices)
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["next_attempt_at"], condition=Q(status="pending"),
                                name="tasks_delivery_due")]

    def __str__(self) -> str:
        return f"{self.event} to webhook {self.webhook_id} ({self.status})"
