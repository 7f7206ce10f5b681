"""People and organizations: who may post work, who may do it, and in which domains."""

import uuid
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models.functions import Lower


class User(AbstractUser):
    """Our own user model from the first migration, so that it can grow without a swap."""

    email = models.EmailField("email address")

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
        constraints = [
            models.UniqueConstraint(Lower("username"), name="accounts_user_username_ci_unique"),
            models.UniqueConstraint(
                Lower("email"),
                condition=~models.Q(email=""),
                name="accounts_user_email_ci_unique",
            ),
        ]

    @property
    def is_expert(self) -> bool:
        return hasattr(self, "expert_profile")


class OrganizationQuerySet(models.QuerySet):
    def visible_to(self, user) -> "OrganizationQuerySet":
        """Operators see every organization, everyone else those they belong to; each row
        carries the user's ``role`` in it (None for an operator who is not a member)."""
        if not user.is_authenticated:
            return self.none()
        role = Membership.objects.filter(organization=models.OuterRef("pk"), user=user.pk)
        queryset = self.annotate(role=models.Subquery(role.values("role")[:1]))
        return queryset if user.is_staff else queryset.filter(memberships__user=user.pk)


class ExpertOwnedQuerySet(models.QuerySet):
    """Records that belong to one expert, such as their qualification attempts, payouts or
    applications: another expert's record of the kind does not exist for them (404)."""

    def of_expert(self, expert) -> "ExpertOwnedQuerySet":
        if not expert.is_authenticated:
            return self.none()
        return self.filter(expert=expert.pk)


class Organization(models.Model):
    """A customer: owns projects, money and members."""

    name = models.CharField(max_length=200, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = OrganizationQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        ADMIN = "admin", "Admin"
        QA_LEAD = "qa_lead", "QA lead"
        MEMBER = "member", "Member"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="memberships")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE,
                                     related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["organization_id", "user_id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "organization"],
                                    name="accounts_membership_unique"),
            models.CheckConstraint(condition=models.Q(role__in=["owner", "admin", "qa_lead",
                                                                "member"]),
                                   name="accounts_membership_role_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.organization} ({self.role})"


class Domain(models.Model):
    """A node of the expertise taxonomy; projects and qualifications hang off it."""

    slug = models.SlugField(max_length=80, unique=True)
    name = models.CharField(max_length=120)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT,
                               related_name="children")
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.name


class Degree(models.TextChoices):
    PHD = "phd", "PhD"
    MD = "md", "MD"
    JD = "jd", "JD"
    MASTERS = "masters", "Master's"
    BACHELORS = "bachelors", "Bachelor's"
    NONE = "none", "None"


# Doctorates are peers: a project asking for a PhD accepts an MD or a JD as well, because the
# requirement is about research-level training, not the name of the diploma.
DEGREE_RANK = {"none": 0, "bachelors": 1, "masters": 2, "phd": 3, "md": 3, "jd": 3}


class Verification(models.TextChoices):
    PENDING = "pending", "Pending"
    VERIFIED = "verified", "Verified"
    REJECTED = "rejected", "Rejected"


class ExpertProfileQuerySet(models.QuerySet):
    def visible_to(self, user) -> "ExpertProfileQuerySet":
        """An expert's full profile is theirs and the operators' to read; customers find
        experts through the anonymized directory instead."""
        if not user.is_authenticated:
            return self.none()
        return self if user.is_staff else self.filter(user=user.pk)


class ExpertProfile(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"

    Verification = Verification

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                primary_key=True, related_name="expert_profile")
    full_name = models.CharField(max_length=200)
    highest_degree = models.CharField(max_length=16, choices=Degree.choices)
    field_of_study = models.CharField(max_length=200)
    languages = models.JSONField(default=list, blank=True)
    bio = models.TextField(blank=True)
    timezone = models.CharField(max_length=64, default="UTC")
    weekly_availability_hours = models.PositiveSmallIntegerField(default=0)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    status_reason = models.TextField(blank=True)
    verification = models.CharField(max_length=16, choices=Verification.choices,
                                    default=Verification.PENDING)
    verified_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+")
    verified_at = models.DateTimeField(null=True, blank=True)
    verification_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    domains = models.ManyToManyField(Domain, through="Expertise", related_name="experts")

    objects = ExpertProfileQuerySet.as_manager()

    class Meta:
        ordering = ["user_id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(weekly_availability_hours__lte=168),
                                   name="accounts_expert_availability_le_week"),
        ]

    def __str__(self) -> str:
        return f"{self.full_name} ({self.user.username})"

    @property
    def degree_rank(self) -> int:
        return DEGREE_RANK[self.highest_degree]

    @property
    def can_work(self) -> bool:
        return (self.status == self.Status.ACTIVE
                and self.verification == self.Verification.VERIFIED)


def evidence_path(credential: "Credential", filename: str) -> str:
    """Evidence files are stored under a random name in the expert's own folder: the name an
    expert's computer gave the file says nothing the operator needs and may say too much."""
    suffix = Path(filename).suffix.lower()
    return f"credentials/{credential.expert_id}/{uuid.uuid4().hex}{suffix}"


class Credential(models.Model):
    Status = Verification

    expert = models.ForeignKey(ExpertProfile, on_delete=models.CASCADE,
                               related_name="credentials")
    degree = models.CharField(max_length=16, choices=Degree.choices)
    field = models.CharField(max_length=200, blank=True)
    institution = models.CharField(max_length=200)
    year = models.PositiveSmallIntegerField()
    evidence = models.URLField(max_length=500, blank=True,
                               help_text="Link to the diploma, registry entry or publication.")
    evidence_file = models.FileField(upload_to=evidence_path, max_length=200, blank=True,
                                     help_text="A scan or PDF of the diploma or licence.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    reviewer_notes = models.TextField(blank=True)
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+")
    reviewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["expert_id", "-year"]
        constraints = [
            models.CheckConstraint(condition=models.Q(year__gte=1900, year__lte=2100),
                                   name="accounts_credential_year_sane"),
        ]

    def __str__(self) -> str:
        return f"{self.get_degree_display()}, {self.institution} ({self.year})"


class Expertise(models.Model):
    """An expert's standing in one domain: a claim until a test or an operator qualifies it."""

    class Level(models.TextChoices):
        CLAIMED = "claimed", "Claimed"
        QUALIFIED = "qualified", "Qualified"

    class Source(models.TextChoices):
        SIGNUP = "signup", "Declared at signup"
        PROFILE = "profile", "Declared on the profile"
        TEST = "test", "Qualification test"
        OPERATOR = "operator", "Operator"

    expert = models.ForeignKey(ExpertProfile, on_delete=models.CASCADE,
                               related_name="expertise")
    domain = models.ForeignKey(Domain, on_delete=models.PROTECT, related_name="expertise")
    level = models.CharField(max_length=16, choices=Level.choices, default=Level.CLAIMED)
    qualification_score = models.DecimalField(max_digits=5, decimal_places=4, null=True,
                                              blank=True)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.SIGNUP)
    trust = models.DecimalField(
        max_digits=5, decimal_places=4, default="0.5000",
        help_text="Posterior mean of gold accuracy in this domain, kept here so that routing "
                  "can filter on it; the quality app owns the full record.")
    qualified_at = models.DateTimeField(null=True, blank=True)
    suspended_until = models.DateTimeField(null=True, blank=True)
    suspension_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["expert_id", "domain__slug"]
        constraints = [
            models.UniqueConstraint(fields=["expert", "domain"],
                                    name="accounts_expertise_unique"),
            models.CheckConstraint(
                condition=models.Q(qualification_score__isnull=True)
                | models.Q(qualification_score__gte=0, qualification_score__lte=1),
                name="accounts_expertise_score_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.expert_id} in {self.domain.slug} ({self.level})"
