"""Every change to accounts, one transaction each.

Views and admin actions call these functions so that the rules (who may grant which role,
what a verification records) hold whichever door the change comes through.
"""

from collections.abc import Iterable
from decimal import Decimal
from pathlib import PurePath

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from .access import ROLES_FOR, Action, role_in
from .models import Credential, Domain, Expertise, ExpertProfile, Membership, Organization

User = get_user_model()


def _create_user(username: str, email: str, password: str) -> User:
    if User.objects.filter(username__iexact=username).exists():
        raise ValidationError({"username": ["A user with that username already exists."]})
    if User.objects.filter(email__iexact=email).exists():
        raise ValidationError({"email": ["A user with that email already exists."]})
    try:
        with transaction.atomic():
            return User.objects.create_user(username=username, email=email, password=password)
    except IntegrityError as exc:
        # Two signups raced past the checks above; the database constraint decided.
        raise ValidationError({"username": ["A user with that username or email already "
                                            "exists."]}) from exc


@transaction.atomic
def signup_expert(
    *,
    username: str,
    email: str,
    password: str,
    full_name: str,
    highest_degree: str,
    field_of_study: str,
    domains: Iterable[Domain],
    languages: list[str],
    bio: str = "",
    timezone_name: str = "UTC",
    weekly_availability_hours: int = 0,
) -> ExpertProfile:
    user = _create_user(username, email, password)
    profile = ExpertProfile.objects.create(
        user=user,
        full_name=full_name,
        highest_degree=highest_degree,
        field_of_study=field_of_study,
        languages=languages,
        bio=bio,
        timezone=timezone_name,
        weekly_availability_hours=weekly_availability_hours,
    )
    claim_domains(profile, domains, source=Expertise.Source.SIGNUP)
    return profile


@transaction.atomic
def signup_customer(*, username: str, email: str, password: str,
                    organization_name: str) -> Membership:
    if Organization.objects.filter(name__iexact=organization_name).exists():
        raise ValidationError({"organization": ["An organization with that name already "
                                                "exists; ask its owner to add you."]})
    user = _create_user(username, email, password)
    try:
        with transaction.atomic():
            organization = Organization.objects.create(name=organization_name)
    except IntegrityError as exc:
        # Two signups for one organization raced past the check above.
        raise ValidationError({"organization": ["An organization with that name already "
                                                "exists; ask its owner to add you."]}) from exc
    return Membership.objects.create(user=user, organization=organization,
                                     role=Membership.Role.OWNER)


def claim_domains(profile: ExpertProfile, domains: Iterable[Domain], *, source: str) -> None:
    """Add domain claims; an existing expertise (perhaps qualified) is left as it is."""
    existing = set(profile.expertise.values_list("domain_id", flat=True))
    Expertise.objects.bulk_create(
        [Expertise(expert=profile, domain=d, source=source) for d in domains
         if d.pk not in existing],
        ignore_conflicts=True,
    )


@transaction.atomic
def update_expert_profile(profile: ExpertProfile, *, domains: Iterable[Domain] | None = None,
                          **changes) -> ExpertProfile:
    """Experts edit their own profile; verification and status are not theirs to change."""
    editable = {"full_name", "field_of_study", "languages", "bio", "timezone",
                "weekly_availability_hours", "highest_degree"}
    unknown = set(changes) - editable
    if unknown:
        raise ValidationError({name: ["This field cannot be changed here."]
                               for name in sorted(unknown)})
    for name, value in changes.items():
        setattr(profile, name, value)
    if changes:
        profile.save(update_fields=list(changes))
    if domains is not None:
        claim_domains(profile, domains, source=Expertise.Source.PROFILE)
    return profile


# Evidence an operator can open in a browser without running anything: PDFs and pictures.
EVIDENCE_TYPES = {".pdf": "application/pdf", ".png": "image/png", ".jpg": "image/jpeg",
                  ".jpeg": "image/jpeg"}
EVIDENCE_MAX_BYTES = 10 * 1024 * 1024
# How each kind of file starts, so that a renamed executable is not taken for a scan.
EVIDENCE_SIGNATURES = {".pdf": (b"%PDF-",), ".png": (b"\x89PNG\r\n\x1a\n",),
                       ".jpg": (b"\xff\xd8\xff",), ".jpeg": (b"\xff\xd8\xff",)}


def check_evidence(upload: UploadedFile) -> None:
    """Refuse evidence that is too large or not a PDF, PNG or JPEG, naming the limit."""
    suffix = PurePath(upload.name or "").suffix.lower()
    if suffix not in EVIDENCE_TYPES:
        raise ValidationError({"evidence_file": [
            f"Upload a PDF, PNG or JPEG file; {upload.name!r} is not one."]})
    if upload.size > EVIDENCE_MAX_BYTES:
        raise ValidationError({"evidence_file": [
            f"The file is {upload.size / 1024 / 1024:.1f} MB; the limit is "
            f"{EVIDENCE_MAX_BYTES // 1024 // 1024} MB."]})
    upload.seek(0)
    head = upload.read(8)
    upload.seek(0)
    if not head.startswith(EVIDENCE_SIGNATURES[suffix]):
        raise ValidationError({"evidence_file": [
            f"{upload.name!r} does not look like a {suffix[1:].upper()} file."]})


@transaction.atomic
def add_credential(profile: ExpertProfile, *, degree: str, institution: str, year: int,
                   evidence_file: UploadedFile, field: str = "") -> Credential:
    """An expert adds a degree or licence with its evidence; it waits for an operator."""
    check_evidence(evidence_file)
    credential = Credential(expert=profile, degree=degree, field=field,
                            institution=institution, year=year)
    credential.full_clean(exclude=["evidence_file", "evidence"])
    credential.evidence_file.save(evidence_file.name, evidence_file, save=False)
    try:
        credential.save()
    except Exception:
        credential.evidence_file.delete(save=False)
        raise
    return credential


def _require_manager(actor: User, organization: Organization) -> str:
    """The actor's standing for managing members: an operator counts as an owner."""
    role = Membership.Role.OWNER if actor.is_staff else role_in(actor, organization)
    if role not in ROLES_FOR[Action.MANAGE]:
        raise PermissionDenied("Only the organization's owners and admins manage members.")
    return role


def _require_may_grant(actor_role: str, role: str) -> None:
    """Only owners grant or take away ownership; this is about member management, so it
    stays with it rather than in the access policy's role sets."""
    if role == Membership.Role.OWNER and actor_role != Membership.Role.OWNER:
        raise PermissionDenied("Only an owner can make or unmake owners.")


def _other_owners_exist(membership: Membership) -> bool:
    return (Membership.objects.select_for_update()
            .filter(organization=membership.organization, role=Membership.Role.OWNER)
            .exclude(pk=membership.pk).exists())


@transaction.atomic
def add_member(*, organization: Organization, actor: User, user: User,
               role: str) -> Membership:
    actor_role = _require_manager(actor, organization)
    _require_may_grant(actor_role, role)
    if user.is_expert:
        raise ValidationError({"username": ["Expert accounts cannot join a customer "
                                            "organization."]})
    membership, created = Membership.objects.get_or_create(
        user=user, organization=organization, defaults={"role": role})
    if not created:
        raise ValidationError({"username": ["This user is already a member."]})
    return membership


@transaction.atomic
def change_member_role(*, membership: Membership, actor: User, role: str) -> Membership:
    actor_role = _require_manager(actor, membership.organization)
    _require_may_grant(actor_role, role)
    _require_may_grant(actor_role, membership.role)
    if (membership.role == Membership.Role.OWNER and role != Membership.Role.OWNER
            and not _other_owners_exist(membership)):
        raise ValidationError({"role": ["An organization needs at least one owner."]})
    membership.role = role
    membership.save(update_fields=["role"])
    return membership


@transaction.atomic
def remove_member(*, membership: Membership, actor: User) -> None:
    actor_role = _require_manager(actor, membership.organization)
    _require_may_grant(actor_role, membership.role)
    if membership.role == Membership.Role.OWNER and not _other_owners_exist(membership):
        raise ValidationError({"username": ["An organization needs at least one owner."]})
    membership.delete()


@transaction.atomic
def set_verification(*, expert: ExpertProfile, actor: User, verification: str,
                     reason: str = "") -> ExpertProfile:
    """Record an operator's decision on an expert, with who, when and why."""
    if verification == ExpertProfile.Verification.REJECTED and not reason.strip():
        raise ValidationError({"reason": ["A rejection needs a reason the expert can read."]})
    expert = ExpertProfile.objects.select_for_update().get(pk=expert.pk)
    expert.verification = verification
    expert.verified_by = actor
    expert.verified_at = timezone.now()
    expert.verification_reason = reason.strip()
    expert.save(update_fields=["verification", "verified_by", "verified_at",
                               "verification_reason"])
    return expert


@transaction.atomic
def set_expert_status(*, expert: ExpertProfile, actor: User, status: str,
                      reason: str = "") -> ExpertProfile:
    if status == ExpertProfile.Status.SUSPENDED and not reason.strip():
        raise ValidationError({"reason": ["A suspension needs a reason the expert can read."]})
    expert.status = status
    expert.status_reason = reason.strip()
    expert.save(update_fields=["status", "status_reason"])
    return expert


@transaction.atomic
def review_credential(*, credential: Credential, actor: User, status: str,
                      notes: str = "") -> Credential:
    credential.status = status
    credential.reviewer_notes = notes
    credential.reviewed_by = actor
    credential.reviewed_at = timezone.now()
    credential.save(update_fields=["status", "reviewer_notes", "reviewed_by", "reviewed_at"])
    return credential


@transaction.atomic
def qualify_expertise(*, expert: ExpertProfile, domain: Domain, score: Decimal | None,
                      source: str) -> Expertise:
    """Make a domain qualified; a better score never gets overwritten by a worse one."""
    expertise, _ = Expertise.objects.select_for_update().get_or_create(
        expert=expert, domain=domain, defaults={"source": source})
    expertise.level = Expertise.Level.QUALIFIED
    expertise.source = source
    if score is not None and (expertise.qualification_score is None
                              or score > expertise.qualification_score):
        expertise.qualification_score = score
    expertise.qualified_at = timezone.now()
    expertise.save()
    return expertise
