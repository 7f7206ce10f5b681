"""Who may see and do what: the one access policy that the REST API, the workspace pages and
the services all ask.

Seeing is scoped by QuerySets on the models (``Organization.objects.visible_to(user)``,
``Project.objects.visible_to(user)`` and the project's batches, items, annotations, webhooks,
rules and reports alike; ``Assignment.objects.held_by(expert)`` and the other records an
expert owns): what a user may not see does not exist for them, so both surfaces answer 404
for it. Doing is decided here, by the user's role in the object's organization:
``require(user, Action.REVIEW, organization)``. Operators (staff) may do everything a role
may, and what only operators do is :attr:`Action.OPERATE`.

An expert is a user with an expert profile; a customer is a user with at least one
membership. One person may be both.
"""

from enum import StrEnum

from django.core.exceptions import PermissionDenied

from .models import Membership, Organization

Role = Membership.Role


class Action(StrEnum):
    """What a member may do in their organization."""

    READ = "read"
    EDIT_PROJECTS = "edit_projects"
    REVIEW = "review"
    MANAGE = "manage"
    OPERATE = "operate"


ROLES_FOR: dict[Action, frozenset[str]] = {
    # Every member reads the organization's projects, progress, money and reports, and may ask
    # for a new agreement report or post judges' answers.
    Action.READ: frozenset(Role.values),
    # Members run projects day to day: define them, upload batches, start and pause them.
    Action.EDIT_PROJECTS: frozenset({Role.OWNER, Role.ADMIN, Role.MEMBER}),
    # QA leads, owners and admins judge work: reviews, quality rules, expert actions.
    Action.REVIEW: frozenset({Role.OWNER, Role.ADMIN, Role.QA_LEAD}),
    # Owners and admins hold the keys: members, webhooks, invitations, applications, bonuses.
    Action.MANAGE: frozenset({Role.OWNER, Role.ADMIN}),
    # No role: recording payments, writing qualification tests, verifying experts.
    Action.OPERATE: frozenset(),
}

REFUSALS: dict[Action, str] = {
    Action.READ: "You are not a member of this organization.",
    Action.EDIT_PROJECTS: "Your role in this organization does not allow this.",
    Action.REVIEW: "Only the organization's QA leads, owners and admins may do this.",
    Action.MANAGE: "Only the organization's owners and admins may do this.",
    Action.OPERATE: "Only platform operators may do this.",
}


def role_in(user, organization: Organization | int) -> str | None:
    """The user's role in the organization, or None for a non-member."""
    if not user.is_authenticated:
        return None
    return (Membership.objects.filter(user=user, organization=organization)
            .values_list("role", flat=True).first())


def roles(user) -> set[str]:
    """Every role the user holds in any organization."""
    if not user.is_authenticated:
        return set()
    return set(Membership.objects.filter(user=user).values_list("role", flat=True))


def may(user, action: Action, organization: Organization | int | None = None) -> bool:
    """Whether the user may take the action in the organization; without one, in any
    organization they belong to (``may(user, Action.READ)``: is a customer or an operator).
    """
    if not user.is_authenticated:
        return False
    if user.is_staff:
        return True
    held = roles(user) if organization is None else {role_in(user, organization)}
    return bool(held & ROLES_FOR[action])


def require(user, action: Action, organization: Organization | int | None = None, *,
            message: str | None = None) -> None:
    """Raise PermissionDenied unless the user may; ``message`` words the refusal for the
    operation at hand instead of the action's general one."""
    if not may(user, action, organization):
        raise PermissionDenied(message or REFUSALS[action])


def is_expert(user) -> bool:
    return user.is_authenticated and hasattr(user, "expert_profile")


def require_expert(user, *, message: str = "Only experts may do this.") -> None:
    """Raise PermissionDenied unless the user has an expert profile."""
    if not is_expert(user):
        raise PermissionDenied(message)


def is_customer(user) -> bool:
    return bool(roles(user))


def is_reviewer(user) -> bool:
    """Reviews work somewhere: QA lead, owner or admin of an organization, or an operator."""
    return may(user, Action.REVIEW)
