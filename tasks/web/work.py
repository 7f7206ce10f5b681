"""The expert's work page: the next item rendered by field type and a form per question.

``/workspace/work/`` resumes an open lease or starts one through routing, from any project
the expert may work on or from one (``?project=``), and says plainly why there is nothing
when routing says so. ``/workspace/work/<id>/`` is one lease: the item, the project's
instructions and questions, the time left, and the ways out (submit, skip with a reason,
more time), with the item's comments. Leases are looked up among the expert's own
(``Assignment.objects.held_by``), so another expert's answers 404; items are loaded without
their gold answers and the gold flag is never shown. Every change goes through the services
the API calls, and after a submit or a skip the next item follows.
"""

import math
from dataclasses import asdict
from datetime import datetime

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.models import Membership
from config.exceptions import Conflict
from config.ids import parse_id
from config.workspace import FAILED, Audience, MenuEntry, page, perform, render

from .. import estimates, services
from ..activity import cap_seconds, logged_seconds, record_heartbeat, week_start
from ..export import expert_pseudonym
from ..models import Assignment, Comment, Project
from ..routing import (
    check_can_work,
    eligible_projects,
    ineligibility_reason,
    listed_to,
    max_active_leases,
    next_assignment,
)
from .answer_form import AnswerForm
from .item_display import shown_fields

# The countdown turns to a warning this long before the lease ends.
WARNING_S = 300
SKIP_REASONS = ("Outside my expertise", "The item is broken or unreadable",
                "I have a conflict of interest", "The instructions do not cover this item")
# What a project that gives no more work is doing, for the expert who just finished there.
PAUSED_OR_OVER = {
    Project.Status.COMPLETED: "is complete: every item has its answers. Thank you",
    Project.Status.PAUSED: "is paused by its customer; its items wait until it resumes",
}
COMMENT_MAX_LENGTH = 10_000
SKIP_REASON_MAX_LENGTH = 2000


def open_leases(user) -> QuerySet[Assignment]:
    """The expert's leases that may still be answered, the first to run out first."""
    return (Assignment.objects.held_by(user)
            .filter(status=Assignment.Status.ASSIGNED, expires_at__gt=timezone.now())
            .select_related("project").order_by("expires_at", "pk"))


def held_lease(request: HttpRequest, assignment_id: int) -> Assignment:
    return get_object_or_404(Assignment.objects.held_by(request.user)
                             .select_related("project", "item").defer("item__gold"),
                             pk=assignment_id)


def work_url(project_id: int | None = None) -> str:
    url = reverse("workspace:work")
    return f"{url}?project={project_id}" if project_id else url


def _project_id(raw: str | None) -> int | None:
    return parse_id(raw)


def _why_nothing(request: HttpRequest, project: Project | None, reasons: dict[int, str]) -> str:
    """Routing found nothing: name the projects that held work back, or say that none is
    open to the expert, or that the open ones have nothing left for them."""
    if reasons:
        names = dict(Project.objects.filter(pk__in=reasons).values_list("pk", "name"))
        return "Nothing to work on right now. " + " ".join(
            f"{names.get(pk, f'Project {pk}')}: {reason}" for pk, reason in sorted(reasons.items()))
    if project is not None:
        return (f"{project.name} has no item left for you: every open item is taken, answered "
                "by you, or already has its answers.")
    if not eligible_projects(request.user.expert_profile):
        return ("No project is open to you right now. Projects open to you once you qualify in "
                "their domain (see Qualification tests) or are let into them (see Open "
                "projects).")
    return ("The projects open to you have no item left for you: every open item is taken, "
            "answered by you, or already has its answers.")


def lease_next(request: HttpRequest, project: Project | None) -> HttpResponse:
    """Resume the expert's open lease if there is one, else ask routing for the next item."""
    waiting = open_leases(request.user).filter(project=project) if project else open_leases(
        request.user)
    lease = waiting.first()
    if lease is not None:
        return redirect("workspace:work-lease", assignment_id=lease.pk)
    if project is not None:
        project.refresh_from_db(fields=["status"])  # the answer just given may complete it
    if project is not None and project.status != Project.Status.ACTIVE:
        messages.info(request, f"{project.name} {PAUSED_OR_OVER.get(project.status, 'is closed')}.")
        return redirect("workspace:work")
    result = perform(request, next_assignment, request.user, project)
    if result is FAILED:
        return redirect(work_url(project.pk if project else None))
    if result.assignment is None:
        messages.info(request, _why_nothing(request, project, result.reasons))
        return redirect(work_url(project.pk if project else None))
    return redirect("workspace:work-lease", assignment_id=result.assignment.pk)


@page(Audience.EXPERT)
def work(request: HttpRequest) -> HttpResponse:
    """The way in: open leases to resume, or a button that leases the next item."""
    chosen_id = _project_id(request.POST.get("project") or request.GET.get("project"))
    chosen = Project.objects.select_related("domain__parent").filter(pk=chosen_id).first()
    profile = request.user.expert_profile
    if request.method == "POST":
        # A project the expert may not know of is unknown, as routing says of it.
        if chosen_id and (chosen is None or not listed_to(profile, chosen)):
            messages.error(request, "Unknown project.")
            return redirect("workspace:work")
        return lease_next(request, chosen)
    try:
        check_can_work(profile)
        blocked = ""
    except PermissionDenied as refusal:
        blocked = str(refusal)
    leases = list(open_leases(request.user))
    projects = eligible_projects(profile) if not blocked else []
    chosen_reason = ""
    if chosen_id and not blocked and chosen_id not in {p.pk for p in projects}:
        chosen_reason = (f"{chosen.name}: {ineligibility_reason(profile, chosen)}"
                         if chosen is not None and listed_to(profile, chosen)
                         else "Unknown project.")
        chosen = None
    return render(request, "tasks/web/work.html", {
        "leases": leases, "projects": projects, "chosen": chosen,
        "chosen_reason": chosen_reason, "blocked": blocked,
        "at_cap": len(leases) >= max_active_leases(), "cap": max_active_leases(),
    }, title="Work")


def _remaining(expires_at: datetime) -> int:
    # Rounded down, so that the page's clock never outlasts the server's.
    return max(0, math.floor((expires_at - timezone.now()).total_seconds()))


def comment_rows(request: HttpRequest, assignment: Assignment) -> list[dict]:
    """The item's comments, their authors named as the API names them to this reader:
    experts by their pseudonym on the project, the customer's people and operators by role
    for an expert reader."""
    item, user = assignment.item, request.user
    comments = list(Comment.objects.filter(item=item).select_related("author")
                    .order_by("created_at", "id"))
    authors = {comment.author_id for comment in comments} | {user.pk}
    customer_ids = set(Membership.objects.filter(
        Q(user__in=authors), organization_id=assignment.project.organization_id)
        .values_list("user_id", flat=True))
    reader_is_expert = not user.is_staff and user.pk not in customer_ids
    rows = []
    for comment in comments:
        author = comment.author
        role = ("operator" if author.is_staff else
                "customer" if author.pk in customer_ids else "expert")
        if user.is_staff:
            name = author.username
        elif role == "expert":
            name = expert_pseudonym(item.project_id, author.pk)
        elif reader_is_expert:
            name = role
        else:
            name = author.username
        rows.append({"comment": comment, "role": role, "name": name,
                     "mine": comment.author_id == user.pk})
    return rows


def active_time(assignment: Assignment) -> dict | None:
    """An hourly lease's active time and the expert's week on its project against the cap,
    as the page first shows them; heartbeat answers keep them current."""
    project = assignment.project
    if project.contract != Project.Contract.HOURLY:
        return None
    week = logged_seconds(project.pk, assignment.expert_id, week_start(assignment.leased_at))
    return {"active_s": assignment.active_s, "active_text": clock(assignment.active_s),
            "week_hours": f"{week / 3600:.1f}",
            "cap_hours": f"{cap_seconds(project) / 3600:.1f}"}


def clock(seconds: int) -> str:
    """m:ss, or h:mm:ss from an hour on, as work.js writes it."""
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


def show_lease(request: HttpRequest, assignment: Assignment, form: AnswerForm | None,
               skip_reason: str = "", comment_body: str = "") -> HttpResponse:
    project = assignment.project
    live = (assignment.status == Assignment.Status.ASSIGNED
            and assignment.expires_at > timezone.now())
    remaining = _remaining(assignment.expires_at) if live else 0
    return render(request, "tasks/web/work_lease.html", {
        "assignment": assignment, "project": project, "live": live, "form": form,
        "fields": shown_fields(project.fields, project.questions, assignment.item.data),
        "questions": form.bound() if form else [],
        "remaining": remaining, "remaining_text": f"{remaining // 60}:{remaining % 60:02d}",
        "warning_s": WARNING_S, "comments": comment_rows(request, assignment),
        "skip_reasons": SKIP_REASONS, "skip_reason": skip_reason,
        "comment_body": comment_body, "comment_max_length": COMMENT_MAX_LENGTH,
        "skip_reason_max_length": SKIP_REASON_MAX_LENGTH,
        "estimate": estimates.work_header(project),
        "active": active_time(assignment) if live else None,
        "heartbeat_s": settings.HEARTBEAT_INTERVAL_S,
    }, title=project.name)


@page(Audience.EXPERT)
def lease(request: HttpRequest, assignment_id: int) -> HttpResponse:
    """One item to answer; a valid answer is submitted and the next item follows."""
    assignment = held_lease(request, assignment_id)
    live = assignment.status == Assignment.Status.ASSIGNED
    if not live:
        return show_lease(request, assignment, None)
    project = assignment.project
    form = AnswerForm(request.POST if request.method == "POST" else None,
                      questions=project.questions, item_data=assignment.item.data)
    if request.method == "POST" and form.is_valid():
        done = perform(request, services.submit, assignment_id=assignment.pk,
                       user=request.user, answer=form.answer,
                       duration_s=form.cleaned_data["duration_s"], form=form,
                       success="Answer saved.")
        if done is not FAILED:
            return lease_next(request, project)
    return show_lease(request, assignment, form)


@page(Audience.EXPERT)
@require_POST
def skip(request: HttpRequest, assignment_id: int) -> HttpResponse:
    """Hand the item back with a reason; the next item follows."""
    assignment = held_lease(request, assignment_id)
    chosen = request.POST.get("preset") or request.POST.get("reason", "")
    reason = " ".join(chosen.split())
    if not reason or len(reason) > SKIP_REASON_MAX_LENGTH:
        messages.error(request, "Reason: say why you skip this item, in at most "
                                f"{SKIP_REASON_MAX_LENGTH} characters.")
        return redirect("workspace:work-lease", assignment_id=assignment.pk)
    done = perform(request, services.skip, assignment_id=assignment.pk, user=request.user,
                   reason=reason, success="Item skipped; you will not be given it again.")
    if done is FAILED:
        return redirect("workspace:work-lease", assignment_id=assignment.pk)
    return lease_next(request, assignment.project)


@page(Audience.EXPERT)
@require_POST
def extend(request: HttpRequest, assignment_id: int) -> HttpResponse:
    """A fresh lease period from now, for an item that takes longer."""
    assignment = held_lease(request, assignment_id)
    extended = perform(request, services.extend, assignment_id=assignment.pk, user=request.user)
    if extended is not FAILED:
        messages.success(request, f"You have until {extended.expires_at:%H:%M} UTC for this "
                                  "item.")
    return redirect("workspace:work-lease", assignment_id=assignment.pk)


@page(Audience.EXPERT)
@require_POST
def heartbeat(request: HttpRequest, assignment_id: int) -> JsonResponse:
    """What the work page sends while the item is open and in focus: the API's heartbeat,
    answered with the same figures."""
    try:
        beat = record_heartbeat(assignment_id=assignment_id, user=request.user)
    except Assignment.DoesNotExist as missing:
        raise Http404("No such assignment.") from missing
    except Conflict as refused:
        return JsonResponse({"detail": refused.message, "code": refused.code}, status=409)
    return JsonResponse(asdict(beat))


@page(Audience.EXPERT)
@require_POST
def comment(request: HttpRequest, assignment_id: int) -> HttpResponse:
    """A comment on the item, for the customer's team and the others who worked it."""
    assignment = held_lease(request, assignment_id)
    body = request.POST.get("body", "")
    if len(body) > COMMENT_MAX_LENGTH:
        messages.error(request, f"Comment: at most {COMMENT_MAX_LENGTH} characters.")
    else:
        perform(request, services.add_comment, user=request.user, item=assignment.item,
                body=body, success="Comment added.")
    return redirect(reverse("workspace:work-lease", args=[assignment.pk]) + "#comments")


urlpatterns = [
    path("work/", work, name="work"),
    path("work/<int:assignment_id>/", lease, name="work-lease"),
    path("work/<int:assignment_id>/skip/", skip, name="work-skip"),
    path("work/<int:assignment_id>/extend/", extend, name="work-extend"),
    path("work/<int:assignment_id>/heartbeat/", heartbeat, name="work-heartbeat"),
    path("work/<int:assignment_id>/comments/", comment, name="work-comment"),
]
menu = [
    MenuEntry("Work", "workspace:work", Audience.EXPERT,
              "Answer the next item of the projects open to you.", order=10),
]
