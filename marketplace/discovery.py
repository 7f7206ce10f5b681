"""Finding each other: the anonymized expert directory customers search, and the open
projects an expert may see and apply to. Reads only; the changes are in ``services``."""

from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db.models import (
    Count,
    Exists,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    TextField,
)
from django.db.models.functions import Cast
from django.utils import timezone

from accounts.models import DEGREE_RANK, Credential, Domain, Expertise, ExpertProfile
from tasks.models import Project, ProjectExpert
from tasks.routing import admitting, qualifying_projects

from . import pseudonyms
from .models import Application, ProjectInvitation

User = get_user_model()


def not_suspended(prefix: str = "") -> Q:
    now = timezone.now()
    return Q(**{f"{prefix}suspended_until__isnull": True}) | Q(
        **{f"{prefix}suspended_until__lte": now})


def directory(*, domains: list[Domain] | None = None, min_trust: Decimal | None = None,
              degree: str | None = None, language: str | None = None,
              verified_credentials: int | None = None,
              available_hours: int | None = None) -> QuerySet[ExpertProfile]:
    """Verified, active experts matching every given filter. `domains` are matched by
    expertise that is not suspended, and `min_trust` applies to that expertise (to any
    when no domain is given); `degree` is a minimum, doctorates counting as peers as routing
    counts them."""
    experts = ExpertProfile.objects.filter(verification=ExpertProfile.Verification.VERIFIED,
                                           status=ExpertProfile.Status.ACTIVE)
    if domains is not None or min_trust is not None:
        expertise = Expertise.objects.filter(not_suspended(), expert=OuterRef("pk"))
        if domains is not None:
            expertise = expertise.filter(domain__in=domains)
        if min_trust is not None:
            expertise = expertise.filter(trust__gte=min_trust)
        experts = experts.filter(Exists(expertise))
    if degree:
        rank = DEGREE_RANK[degree]
        experts = experts.filter(highest_degree__in=[
            name for name, value in DEGREE_RANK.items() if value >= rank])
    if language:
        # Languages are a JSON list of normalized codes; matching the quoted code in its
        # text works alike on PostgreSQL and on SQLite, which has no JSON containment.
        experts = experts.alias(language_list=Cast("languages", TextField())).filter(
            language_list__contains=f'"{language}"')
    if available_hours is not None:
        experts = experts.filter(weekly_availability_hours__gte=available_hours)
    experts = cards(experts)
    if verified_credentials is not None:
        experts = experts.filter(verified_credentials__gte=verified_credentials)
    return experts.order_by("pk")


def cards(experts: QuerySet[ExpertProfile]) -> QuerySet[ExpertProfile]:
    """What a directory card shows, loaded in two queries for any number of experts."""
    return experts.annotate(verified_credentials=Count(
        "credentials", filter=Q(credentials__status=Credential.Status.VERIFIED))
    ).prefetch_related(Prefetch(
        "expertise", queryset=Expertise.objects.filter(not_suspended())
        .select_related("domain").order_by("domain__slug")))


def expert_by_pseudonym(pseudonym: str):
    """The expert a directory id names, or None when it names nobody who is an expert."""
    user_id = pseudonyms.decode(pseudonym.strip())
    if user_id is None:
        return None
    return User.objects.filter(pk=user_id, expert_profile__isnull=False).first()


def admitting_domains(slug: str) -> list[Domain]:
    """The domain named `slug` and those whose expertise routing counts for it: a search for
    cardiology finds physicians as well, one for medicine finds cardiologists. Empty for an
    unknown slug."""
    domain = Domain.objects.filter(slug=slug).first()
    if domain is None:
        return []
    return list(Domain.objects.filter(admitting(domain.pk, domain.parent_id, field="")))


def listed_projects(profile: ExpertProfile) -> QuerySet[Project]:
    """Active projects the expert qualifies for, as routing judges it (degree, expertise in
    the domain, its parent or a subdomain, qualified unless the project accepts claims, trust
    at the floor, not suspended): public ones, and private ones they are invited to or let
    in. Projects that removed the expert are not listed."""
    user_id = profile.pk
    roster = ProjectExpert.objects.filter(project=OuterRef("pk"), expert_id=user_id)
    allowed = roster.filter(access=ProjectExpert.Access.ALLOWED)
    invited = ProjectInvitation.objects.filter(project=OuterRef("pk"), expert_id=user_id,
                                               status=ProjectInvitation.Status.PENDING)
    applied = Application.objects.filter(project=OuterRef("pk"), expert_id=user_id,
                                         status=Application.Status.PENDING)
    return (qualifying_projects(profile)
            .filter(Q(visibility=Project.Visibility.PUBLIC) | Exists(allowed)
                    | Exists(invited))
            .exclude(Exists(roster.filter(access=ProjectExpert.Access.REMOVED)))
            .annotate(is_allowed=Exists(allowed), is_invited=Exists(invited),
                      has_applied=Exists(applied))
            .select_related("organization", "domain", "quality_bonus_policy")
            .order_by("-created_at", "-id"))
