"""Who may see and do what: the one access policy that the REST API, the workspace pages and
the services all ask.

Seeing is scoped by QuerySets on the models (``Organization.objects.visible_to(user)``,
``Project.objects.visible_to(user)``, ``Assignment.objects.held_by(user)``): what a user may
not see does not exist for them, so both surfaces answer 404 for it. Doing is decided here, by
the user's role in the object's organization: ``require(user, Action.REVIEW, organization)``.
Operators (staff) may do everything a role may.

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


ROLES_FOR: dict[Action, frozenset[str]] = {
    Action.READ: frozenset(Role.values),
    # Members run projects day to day: define them, upload batches, start and pause them.
    Action.EDIT_PROJECTS: frozenset({Role.OWNER, Role.ADMIN, Role.MEMBER}),
    # QA leads, owners and admins judge work: reviews, quality rules, reports, expert actions.
    Action.REVIEW: frozenset({Role.OWNER, Role.ADMIN, Role.QA_LEAD}),
    # Owners and admins hold the keys: members, webhooks, invitations, applications, bonuses.
    Action.MANAGE: frozenset({Role.OWNER, Role.ADMIN}),
}

REFUSALS: dict[Action, str] = {
    Action.READ: "You are not a member of this organization.",
    Action.EDIT_PROJECTS: "Your role in this organization does not allow this.",
    Action.REVIEW: "Only QA leads, owners and admins review work.",
    Action.MANAGE: "Only the organization's owners and admins may do this.",
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


def may(user, action: Action, organization: Organization | int) -> bool:
    if not user.is_authenticated:
        return False
    return user.is_staff or role_in(user, organization) in ROLES_FOR[action]


def require(user, action: Action, organization: Organization | int) -> None:
    """Raise PermissionDenied unless the user may."""
    if not may(user, action, organization):
        raise PermissionDenied(REFUSALS[action])


def is_expert(user) -> bool:
    return user.is_authenticated and hasattr(user, "expert_profile")


def is_customer(user) -> bool:
    return bool(roles(user))


def is_reviewer(user) -> bool:
    """Reviews work somewhere: QA lead, owner or admin of an organization, or an operator."""
    return user.is_authenticated and (user.is_staff or bool(roles(user) & ROLES_FOR[Action.REVIEW]))
